import { metricsResponse, notFound } from '../../../lib/metrics';

// The Prometheus scrape (lib/metrics.ts): GET, only with METRICS_BEARER_TOKEN set and sent as a
// bearer token. Every other request, whatever its method, gets the same 404 (not Next's 405 or
// OPTIONS answer, which would tell that the route exists).
export const dynamic = 'force-dynamic';

export const GET = metricsResponse;

const elsewhere = async () => notFound();
export { elsewhere as POST, elsewhere as PUT, elsewhere as PATCH, elsewhere as DELETE, elsewhere as OPTIONS };
