import type { Attributes } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';

/** A reader that exports nothing: tests call `collect()` when they want to look. */
class CollectingReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** One data point, flattened: a counter's or gauge's value, or a histogram's count and sum. */
export interface Point {
  attributes: Attributes;
  value: number;
  count: number;
  sum: number;
}

/** A real SDK meter provider read in memory, and helpers to read what it recorded. */
export interface TestMetrics {
  provider: MeterProvider;
  /** Everything recorded so far (cumulative), by instrument name. */
  collect(): Promise<Map<string, MetricData>>;
  /** The sum of a counter's points (or a histogram's counts) whose attributes include `where`. */
  total(name: string, where?: Attributes): Promise<number>;
  /** Every attribute value recorded, on any instrument. */
  attributeValues(): Promise<string[]>;
  shutdown(): Promise<void>;
}

export function testMetrics(): TestMetrics {
  const reader = new CollectingReader();
  const provider = new MeterProvider({ readers: [reader] });
  const collect = async () => {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length) throw errors[0];
    const byName = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
    return byName;
  };
  return {
    provider,
    collect,
    async total(name, where = {}) {
      const metric = (await collect()).get(name);
      if (!metric) return 0;
      return points(metric)
        .filter((p) => Object.entries(where).every(([k, v]) => p.attributes[k] === v))
        .reduce((sum, p) => sum + (metric.dataPointType === DataPointType.HISTOGRAM ? p.count : p.value), 0);
    },
    async attributeValues() {
      return [...(await collect()).values()].flatMap((metric) => points(metric).flatMap((p) => Object.values(p.attributes).map(String)));
    },
    shutdown: () => provider.shutdown(),
  };
}

/** A metric's data points, flattened. */
export function points(metric: MetricData): Point[] {
  return metric.dataPoints.map((p: { attributes: Attributes; value: unknown }) => {
    const value = p.value;
    if (typeof value === 'number') return { attributes: p.attributes, value, count: 0, sum: 0 };
    const histogram = value as { count: number; sum?: number };
    return { attributes: p.attributes, value: 0, count: histogram.count, sum: histogram.sum ?? 0 };
  });
}
