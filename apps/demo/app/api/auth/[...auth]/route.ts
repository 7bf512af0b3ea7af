import { getBff } from '../../../../lib/auth';

export const dynamic = 'force-dynamic';

export const GET = (request: Request) => getBff().handle(request);
export const POST = (request: Request) => getBff().handle(request);
