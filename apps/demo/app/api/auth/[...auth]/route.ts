import { nextHandlers } from '@latchkey/bff/next';
import { bff } from '../../../../lib/auth';

export const dynamic = 'force-dynamic';
export const { GET, POST } = nextHandlers(bff);
