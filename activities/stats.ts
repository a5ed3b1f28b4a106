/** Latency statistics over measured runs (simple-statistics). */
import { mean, quantileSorted, sampleStandardDeviation } from 'simple-statistics';
import type { LatencyStats } from '../shapes/evidence';

export function latencyStats(samples: readonly number[]): LatencyStats {
  if (samples.length === 0) return { n: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0, sd: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: quantileSorted(sorted, 0.5),
    p95: quantileSorted(sorted, 0.95),
    p99: quantileSorted(sorted, 0.99),
    max: sorted[sorted.length - 1] as number,
    mean: mean(sorted),
    sd: sorted.length > 1 ? sampleStandardDeviation(sorted) : 0,
  };
}

/** (max - min) / max: 0 for perfectly stable, towards 1 for wild swings. */
export function variation(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const max = Math.max(...values);
  return max === 0 ? 0 : (max - Math.min(...values)) / max;
}
