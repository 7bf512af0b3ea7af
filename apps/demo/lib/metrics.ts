import { createHash, timingSafeEqual } from 'node:crypto';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/**
 * Prometheus for the demo: the OpenTelemetry metrics SDK, registered as the global meter
 * provider so the BFF's instruments (through `@opentelemetry/api`, a no-op without an SDK)
 * record, read by the Prometheus exporter and served at `GET /api/metrics`. Only when
 * `METRICS_BEARER_TOKEN` is set, and only to a request that carries it.
 */
export interface DemoMetrics {
  readonly provider: MeterProvider;
  readonly exporter: PrometheusExporter;
  /** Answers a scrape: the exposition with the right bearer token, else the same 404 as when metrics are off. */
  scrape(request: Request): Promise<Response>;
}

/** The exposition format Prometheus reads (text 0.0.4), as the exporter's own server would serve it. */
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * What a request without the token gets, and what everyone gets when metrics are off: nothing
 * in it tells the two apart, so the endpoint does not advertise itself.
 */
export function notFound(): Response {
  return Response.json(
    { error: 'not_found', error_description: 'Not found.' },
    { status: 404, headers: { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } },
  );
}

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/**
 * Whether `authorization` is `Bearer <token>` (`token` non-empty). Both sides are hashed first,
 * so the comparison takes the same time whatever the length or the first differing byte of what
 * was sent; a header of another shape is compared as the empty string, which never matches.
 */
export function hasBearer(authorization: string | null, token: string): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  return timingSafeEqual(sha256(match?.[1] ?? ''), sha256(token));
}

/**
 * A meter provider read by a Prometheus exporter that starts no server of its own (the scrape
 * is a route of the app), and the handler of that route. Registers nothing globally: see
 * {@link installMetrics}.
 * @example
 * const { provider, scrape } = createMetrics(process.env.METRICS_BEARER_TOKEN!);
 */
export function createMetrics(token: string, serviceName = 'latchkey-demo'): DemoMetrics {
  if (!token) throw new Error('createMetrics() needs a non-empty bearer token.');
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({
    resource: defaultResource().merge(resourceFromAttributes({ 'service.name': serviceName })),
    readers: [exporter],
  });
  // The exporter's defaults (no prefix, no timestamps, target_info and scope labels kept).
  const serializer = new PrometheusSerializer();
  return {
    provider,
    exporter,
    async scrape(request) {
      if (!hasBearer(request.headers.get('authorization'), token)) return notFound();
      const { resourceMetrics, errors } = await exporter.collect();
      if (errors.length) console.error('[demo] metrics: collection errors:', ...errors);
      // With nothing recorded yet the serializer's answer lacks the final line feed the text
      // format requires (promtool rejects it); the exporter's own server has the same gap.
      const body = serializer.serialize(resourceMetrics);
      return new Response(body.endsWith('\n') ? body : `${body}\n`, {
        headers: { 'content-type': CONTENT_TYPE, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
      });
    },
  };
}

// Next evaluates this module once per bundle layer (instrumentation, route handlers, server
// components): the process's one SDK lives on globalThis, found by every copy.
const INSTALLED = Symbol.for('latchkey.demo.metrics');
type Holder = { [INSTALLED]?: DemoMetrics };

/**
 * Installs the SDK once per process when `METRICS_BEARER_TOKEN` is set: creates it, registers its
 * meter provider as the global one (`metrics.setGlobalMeterProvider`), and answers the same
 * instance to every later call; `undefined` when the variable is unset. Called from
 * `instrumentation.ts` so the provider is there before the BFF asks for its meter: the
 * OpenTelemetry API hands out no-op meters until one is registered, and does not swap them later.
 */
export function installMetrics(env: Readonly<Record<string, string | undefined>> = process.env): DemoMetrics | undefined {
  const token = env.METRICS_BEARER_TOKEN;
  if (!token) return undefined;
  const holder = globalThis as Holder;
  if (!holder[INSTALLED]) {
    const installed = createMetrics(token);
    if (!metrics.setGlobalMeterProvider(installed.provider)) {
      throw new Error('A global OpenTelemetry meter provider was already registered (or another @opentelemetry/api version is loaded): the demo cannot serve its metrics.');
    }
    holder[INSTALLED] = installed;
  }
  return holder[INSTALLED];
}

/** `GET /api/metrics`: the scrape with the token, 404 without it or when metrics are off. */
export async function metricsResponse(request: Request): Promise<Response> {
  const installed = installMetrics();
  return installed ? installed.scrape(request) : notFound();
}
