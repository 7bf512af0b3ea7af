import { metricsResponse } from '../../../lib/metrics';

// The Prometheus scrape (lib/metrics.ts): only with METRICS_BEARER_TOKEN set and sent as a
// bearer token; every other request, whatever its method, gets the same 404.
export const dynamic = 'force-dynamic';

export const GET = metricsResponse;
export { metricsResponse as POST, metricsResponse as PUT, metricsResponse as PATCH, metricsResponse as DELETE, metricsResponse as OPTIONS };
