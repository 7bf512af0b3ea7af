import { getBff } from '../../../../lib/auth';
import { answer, requireAdmin } from '../../guard';

export const dynamic = 'force-dynamic';

/**
 * `POST /admin/api/revoke` with `{"family": "<hash>"}` (one session) or `{"sub": "bob"}` (all of
 * a user's): revoked through `bff.admin`, audited with the admin as the actor.
 */
export async function POST(request: Request) {
  const { admin, refused } = await requireAdmin(request);
  if (refused) return refused;
  const body = (await request.json().catch(() => undefined)) as { family?: unknown; sub?: unknown } | undefined;
  const options = { actor: admin.sub, request };
  if (typeof body?.family === 'string' && /^[0-9a-f]{16}$/.test(body.family)) {
    return answer({ revoked: (await getBff().admin.revokeSession(body.family, options)) ? 1 : 0 });
  }
  if (typeof body?.sub === 'string' && body.sub.length > 0 && body.sub.length <= 255) {
    return answer({ revoked: await getBff().admin.revokeUser(body.sub, options) });
  }
  return answer({ error: 'invalid_request', error_description: 'Send {"family": "<16 hex digits>"} or {"sub": "<user>"}.' }, 400);
}
