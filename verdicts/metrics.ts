/**
 * V1 against V2, metric by metric. Pure: the shadow phase, daily reconciliation and `cutover what-if` use it.
 *
 * A V2 difference fails only when it is past its tolerance AND past the noise floor (the largest
 * difference between V1 runs on the same data). Exactly at the tolerance passes.
 */
import type { CutoverPlan, MetricRange, Tolerance } from '../plan/schema';
import type { MetricComparison, Metrics } from '../shapes/evidence';

/** Slack for floating-point error when a difference sits exactly on its tolerance. */
const BOUNDARY_EPSILON = 1e-12;
/** Tolerance of a metric the plan names no tolerance for: equal up to floating-point noise. */
export const DEFAULT_TOLERANCE: Tolerance = { relative: 1e-9 };

export interface CompareOptions {
  tolerances: Record<string, Tolerance>;
  ranges?: Record<string, MetricRange>;
  /** Extra V1 runs on the same data. */
  noiseRuns?: Metrics[];
  /** V1's noise per metric as recorded (`cutover what-if`): used instead of computing it from runs. */
  noise?: Record<string, number>;
}

/** The difference `tolerance` allows around `v1`. */
export function allowedDifference(v1: number, tolerance: Tolerance): number {
  return Math.max(tolerance.absolute ?? 0, (tolerance.relative ?? 0) * Math.abs(v1));
}

export function compareMetrics(v1: Metrics, v2: Metrics, options: CompareOptions): MetricComparison[] {
  const names = [...new Set([...Object.keys(v1), ...Object.keys(v2)])].sort();
  return names.map((metric) => compareOne(metric, v1[metric], v2[metric], options));
}

function compareOne(
  metric: string,
  a: number | undefined,
  b: number | undefined,
  options: CompareOptions,
): MetricComparison {
  const tolerance = options.tolerances[metric] ?? DEFAULT_TOLERANCE;
  const noise = options.noise?.[metric] ?? noiseOf(metric, a, options.noiseRuns ?? []);
  const base: MetricComparison = { metric, tolerance, noise, verdict: 'pass' };
  if (a !== undefined) base.v1 = a;
  if (b !== undefined) base.v2 = b;
  if (a === undefined || b === undefined) {
    return { ...base, verdict: 'fail', reason: `produced by ${a === undefined ? 'V2' : 'V1'} only` };
  }
  if (!Number.isFinite(a) || !Number.isFinite(b)) {
    return { ...base, verdict: 'fail', reason: 'not a finite number' };
  }
  const difference = b - a;
  const result: MetricComparison = { ...base, difference };
  if (a !== 0) result.relative = Math.abs(difference) / Math.abs(a);
  const range = options.ranges?.[metric];
  if (range) {
    for (const [side, value] of [
      ['V1', a],
      ['V2', b],
    ] as const) {
      if ((range.min !== undefined && value < range.min) || (range.max !== undefined && value > range.max)) {
        return {
          ...result,
          verdict: 'fail',
          reason: `${side} value ${value} outside [${range.min ?? '-∞'}, ${range.max ?? '∞'}]`,
        };
      }
    }
  }
  const allowed = allowedDifference(a, tolerance);
  const magnitude = Math.abs(difference);
  const pastTolerance = magnitude > allowed * (1 + BOUNDARY_EPSILON) + BOUNDARY_EPSILON;
  const pastNoise = magnitude > noise;
  if (pastTolerance && pastNoise) {
    const why =
      a === 0 && tolerance.absolute === undefined ? ' (V1 is 0: a relative tolerance allows no difference)' : '';
    return {
      ...result,
      verdict: 'fail',
      reason: `|difference| ${fmt(magnitude)} exceeds tolerance ${fmt(allowed)} and noise ${fmt(noise)}${why}`,
      // A dry run: measured and shown as "would have failed", never counted.
      ...(tolerance.dryRun ? { dryRun: true } : {}),
    };
  }
  if (pastTolerance) result.reason = `past tolerance but within V1's own noise (${fmt(noise)})`;
  return result;
}

function noiseOf(metric: string, a: number | undefined, runs: Metrics[]): number {
  if (a === undefined) return 0;
  let noise = 0;
  for (const run of runs) {
    const value = run[metric];
    if (value !== undefined && Number.isFinite(value)) noise = Math.max(noise, Math.abs(value - a));
  }
  return noise;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toPrecision(6);
}

/** Whether a comparison fails its phase: a failing dry-run check only "would have failed". */
export function counts(m: MetricComparison): boolean {
  return m.verdict === 'fail' && !m.dryRun;
}

/**
 * A recorded KPI comparison judged again: the same values and V1's noise then, the given tolerances now
 * (`cutover what-if`).
 */
export function judgeMetric(
  m: MetricComparison,
  tolerances: CutoverPlan['shadow']['tolerances'],
  ranges: CutoverPlan['shadow']['ranges'],
): MetricComparison {
  const v1: Metrics = m.v1 !== undefined ? { [m.metric]: m.v1 } : {};
  const v2: Metrics = m.v2 !== undefined ? { [m.metric]: m.v2 } : {};
  return compareMetrics(v1, v2, { tolerances, ranges, noise: { [m.metric]: m.noise } })[0] as MetricComparison;
}
