import { getBff } from '../../../../lib/auth';
import { answer, requireAdmin } from '../../guard';

export const dynamic = 'force-dynamic';

/** The dashboard's poll: this process's traffic in time slices, and the newest audit records. */
export async function GET(request: Request) {
  const { refused } = await requireAdmin(request);
  if (refused) return refused;
  const bff = getBff();
  return answer({ stats: bff.admin.stats(), audit: await bff.admin.recentAudit(50) });
}
