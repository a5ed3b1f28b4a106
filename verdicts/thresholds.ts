/**
 * The thresholds' verdicts from measured figures: the stress phase's (the plan's absolute thresholds on V2, and the
 * comparison with V1) and the rollback rehearsal's (its time against its target). Pure: the activities judge with
 * these, and `cutover what-if` re-judges recorded figures with them.
 */
import type { CutoverPlan } from '../plan/schema';
import type { RelativeResult, SizeResult, SustainedResult } from '../shapes/evidence';
import { toMs } from '../plan/duration';
import { describeComparison } from './relative';
import type { CompareSettings, RelativeVerdict } from '../shapes/relative';

type Thresholds = CutoverPlan['stress']['thresholds'];

/** A measured group as the thresholds see it: a size, or the sustained run. */
interface Measured {
  label: string;
  latencyMs: SizeResult['latencyMs'];
  errorRate: number;
  peakRssMb: number;
}

export function measuredGroups(sizes: SizeResult[], sustained: SustainedResult | undefined): Measured[] {
  return [
    ...sizes.map((s) => ({ label: `${s.rows} rows`, ...s, errorRate: s.iterations ? s.errors / s.iterations : 0 })),
    ...(sustained ? [{ label: 'sustained', ...sustained }] : []),
  ];
}

/**
 * Every threshold a size or the sustained run missed, as `100000 rows: p99 812 ms > 500ms`, split into those
 * that fail the phase and those of dry-run thresholds, which only would have.
 */
export function thresholdVerdicts(
  thresholds: Thresholds,
  sizes: SizeResult[],
  sustained: SustainedResult | undefined,
): { failures: string[]; wouldFail: string[] } {
  const dry = new Set<string>(thresholds.dryRun ?? []);
  const out = { failures: [] as string[], wouldFail: [] as string[] };
  const miss = (threshold: string, message: string) =>
    (dry.has(threshold) ? out.wouldFail : out.failures).push(message);
  for (const m of measuredGroups(sizes, sustained)) {
    if (thresholds.latencyP99 !== undefined && m.latencyMs.p99 > toMs(thresholds.latencyP99)) {
      miss('latencyP99', `${m.label}: p99 ${m.latencyMs.p99.toFixed(0)} ms > ${thresholds.latencyP99}`);
    }
    if (thresholds.errorRate !== undefined && m.errorRate > thresholds.errorRate) {
      miss('errorRate', `${m.label}: error rate ${m.errorRate.toFixed(4)} > ${thresholds.errorRate}`);
    }
    if (thresholds.peakRssMb !== undefined && m.peakRssMb > thresholds.peakRssMb) {
      miss('peakRssMb', `${m.label}: peak RSS ${m.peakRssMb.toFixed(0)} MB > ${thresholds.peakRssMb} MB`);
    }
    if (m.latencyMs.n === 0) out.failures.push(`${m.label}: no successful run`);
  }
  if (sustained && thresholds.memoryVariation !== undefined && sustained.rssVariation > thresholds.memoryVariation) {
    miss(
      'memoryVariation',
      `sustained: memory variation ${sustained.rssVariation.toFixed(3)} > ${thresholds.memoryVariation}`,
    );
  }
  return out;
}

/** Every threshold missed, dry run or not (what-if compares them all). */
export function thresholdFailures(
  thresholds: Thresholds,
  sizes: SizeResult[],
  sustained: SustainedResult | undefined,
): string[] {
  const { failures, wouldFail } = thresholdVerdicts(thresholds, sizes, sustained);
  return [...failures, ...wouldFail];
}

/** Each stress group with its label and its comparison with V1 (absent where V1 was not measured). */
export function stressGroups(
  sizes: SizeResult[],
  sustained: SustainedResult | undefined,
): { label: string; relative: RelativeResult | undefined }[] {
  return [
    ...sizes.map((s) => ({ label: `${s.rows} rows`, relative: s.relative })),
    ...(sustained ? [{ label: 'sustained', relative: sustained.relative }] : []),
  ];
}

/** The comparison's failures and overall verdict over every compared group (sizes, then the sustained run). */
export function comparisonFailures(
  settings: CompareSettings,
  sizes: SizeResult[],
  sustained: SustainedResult | undefined,
): { failures: string[]; verdict: RelativeVerdict } {
  const failures: string[] = [];
  let verdict: RelativeVerdict = 'pass';
  for (const { label, relative } of stressGroups(sizes, sustained)) {
    if (!relative) continue;
    const failedRuns = relative.pairs * 2 - relative.samples.v1.latency.length - relative.samples.v2.latency.length;
    if (failedRuns > 0) failures.push(`${label}: ${failedRuns} run(s) of V1 or V2 failed`);
    if (relative.verdict === 'fail') {
      verdict = 'fail';
      for (const c of relative.comparisons.filter((x) => x.verdict === 'fail'))
        failures.push(`${label}: ${describeComparison(c)} after ${relative.pairs} pairs`);
    } else if (relative.verdict === 'inconclusive') {
      if (verdict === 'pass') verdict = 'inconclusive';
      if (settings.onInconclusive === 'fail') {
        const open = relative.comparisons.filter((x) => x.verdict === 'inconclusive').map(describeComparison);
        failures.push(
          `${label}: inconclusive after ${relative.pairs} pairs (onInconclusive: fail): ${open.join('; ')}`,
        );
      }
    }
  }
  return { failures, verdict };
}

/** The dbt models a size judged slower in V2 than V1 (`fail`: the interval's low end past the limit), each named. */
export function modelFailures(sizes: SizeResult[]): string[] {
  return sizes.flatMap((size) =>
    (size.models ?? [])
      .filter((m) => m.comparison.verdict === 'fail')
      .map(
        (m) =>
          `${size.rows} rows: model ${m.model}: ${describeComparison(m.comparison)} after ${m.comparison.pairs} pairs`,
      ),
  );
}

/** The plan's `stress.compare` as the judge takes it. */
export function compareSettings(plan: CutoverPlan): CompareSettings | undefined {
  const c = plan.stress.compare;
  if (!c) return undefined;
  return {
    measures: [...c.measures],
    maxSlowdown: c.maxSlowdown,
    maxMemoryGrowth: c.maxMemoryGrowth,
    confidence: c.confidence,
    minRuns: c.minRuns,
    maxRuns: c.maxRuns,
    onInconclusive: c.onInconclusive,
  };
}

/** A timed action against its target (the rollback rehearsal's verdict, and `cutover what-if`'s of it). */
export function timeFailure(what: string, durationMs: number, targetMs: number): string | undefined {
  return durationMs > targetMs ? `${what} took ${durationMs} ms, target ${targetMs} ms` : undefined;
}
