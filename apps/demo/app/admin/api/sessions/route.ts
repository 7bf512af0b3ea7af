import { getBff } from '../../../../lib/auth';
import { answer, requireAdmin } from '../../guard';

export const dynamic = 'force-dynamic';

/** `GET /admin/api/sessions?sub=bob`: that user's live sessions. */
export async function GET(request: Request) {
  const { refused } = await requireAdmin(request);
  if (refused) return refused;
  const sub = new URL(request.url).searchParams.get('sub')?.trim() ?? '';
  if (!sub || sub.length > 255) return answer({ error: 'invalid_request', error_description: 'Give the user as ?sub=.' }, 400);
  return answer({ sub, sessions: await getBff().admin.listSessions(sub) });
}
