/**
 * Stress: load scalability across sizes, then sustained load. Measures each run of the candidate as a
 * whole process (spawn to exit, as a stopwatch outside would), with the kernel's peak RSS of the child.
 *
 * Progress is heartbeated after every size, so an attempt retried after a worker crash resumes from the
 * sizes already measured instead of starting over.
 */
import { log } from '@temporalio/activity';
import { linearRegression, median } from 'simple-statistics';
import { toMs } from '../plan/duration';
import { FailureType } from '../plan/failures';
import type { CutoverPlan } from '../plan/schema';
import { generate } from './datasets';
import { toFailure, verdictFailure } from './errors';
import { MEMORY_METHOD, PeakMemory } from './memory';
import { outputFormats, runPipeline } from './pipeline';
import { isPolicyRefusal, openPhase, type GuardDeps } from './policy-guard';
import type { ActionGuard } from './runner';
import { latencyStats, variation } from './stats';
import { compareSettings, comparisonFailures, modelFailures, thresholdVerdicts } from '../verdicts/thresholds';
import { compareGroup, compareStatistic, familySize, looks } from '../verdicts/relative';
import type { CompareSettings, PairedSamples, RelativeVerdict } from '../shapes/relative';
import { loadReference } from './reference';
import { lastRecorded } from '../verdicts/recorded';
import type {
  ModelTiming,
  PhaseInput,
  RelativeResult,
  StressReference,
  SizeResult,
  StressProgress,
  StressRun,
  SustainedResult,
} from '../shapes/evidence';
import type { StressResult } from '../shapes/phases';

export type StressDeps = GuardDeps;

type Measured = StressRun;

type Version = 'v1' | 'v2';
type Measure = (version: Version, dataset: string, key: string) => Promise<Measured>;

/** What the measuring of one stress phase shares: its plan, folder, key, heartbeat, guard and comparison. */
interface Stressing {
  plan: CutoverPlan;
  workdir: string;
  /** The activity's idempotency key: each run's key starts with it. */
  key: string;
  measure: Measure;
  beat: () => void;
  signal: AbortSignal;
  guard?: ActionGuard;
  /** With `stress.compare`: the judge's settings and the family of comparisons it corrects for. */
  comparison?: { settings: CompareSettings; family: number };
  /**
   * A dbt pipeline's time per model, each run's as it printed it, for the size being measured. Kept here, not in
   * the heartbeat (a project of a thousand models would make it megabytes): a resumed size judges its models on the
   * runs measured since.
   */
  timings: Record<Version, Record<string, number>[]>;
}

/** The sizes measured so far and the pairs of the size in progress: what the heartbeat carries. */
interface Progress {
  completed: SizeResult[];
  current?: { rows: number; v1: Measured[]; v2: Measured[] };
}

export function createStress(deps: StressDeps) {
  return async function runStress(input: PhaseInput): Promise<StressResult> {
    const { ctx, plan, workdir, guard } = openPhase(deps, input);
    const progress = resumed(ctx.info.heartbeatDetails as StressProgress | undefined);
    const beat = () =>
      ctx.heartbeat({
        completedSizes: progress.completed,
        ...(progress.current ? { current: progress.current } : {}),
      } satisfies StressProgress);
    const settings = compareSettings(plan);
    const groups = plan.stress.sizes.length + (plan.stress.sustained ? 1 : 0);
    const signal = ctx.cancellationSignal;
    const timings: Stressing['timings'] = { v1: [], v2: [] };
    const stressing: Stressing = {
      timings,
      plan,
      workdir,
      key: input.key,
      beat,
      signal,
      measure: measurer({ plan, workdir, signal, beat, timings, ...(guard ? { guard } : {}) }),
      ...(guard ? { guard } : {}),
      ...(settings ? { comparison: { settings, family: familySize(settings, groups) } } : {}),
    };
    try {
      for (const rows of plan.stress.sizes) {
        if (!progress.completed.some((s) => s.rows === rows)) await measureSize(stressing, rows, progress);
      }
      const sustained = plan.stress.sustained ? await sustain(stressing) : undefined;
      const result = judge(plan, { sizes: progress.completed, sustained }, ctx.info.attempt, stressing.comparison);
      const reference = await againstReference(plan, input.workflowId, progress.completed);
      if (reference) result.reference = reference;
      if (result.verdict === 'fail') {
        throw verdictFailure(
          FailureType.ThresholdFailed,
          `stress thresholds missed: ${result.failures.join('; ')}`,
          result,
        );
      }
      return result;
    } catch (err) {
      throw toFailure(err);
    }
  };
}

/** The progress a retried attempt resumes from; a crash mid-pair leaves one side a run ahead: whole pairs only. */
function resumed(details: StressProgress | undefined): Progress {
  const progress: Progress = { completed: details?.completedSizes ? [...details.completedSizes] : [] };
  const current = details?.current;
  if (current) {
    // Whole pairs only, so ABBA order holds.
    const whole = Math.min(current.v1.length, current.v2.length);
    progress.current = { rows: current.rows, v1: current.v1.slice(0, whole), v2: current.v2.slice(0, whole) };
  }
  if (progress.completed.length > 0 || progress.current)
    log.info('stress resuming', {
      completedSizes: progress.completed.map((s) => s.rows),
      pairs: progress.current?.v2.length ?? 0,
    });
  return progress;
}

/** One run of a version as a whole process: its time and the peak memory of its process tree; a failure kept. */
function measurer(run: {
  plan: CutoverPlan;
  workdir: string;
  signal: AbortSignal;
  beat: () => void;
  guard?: ActionGuard;
  timings: Stressing['timings'];
}): Measure {
  const { plan, workdir, signal, beat, guard, timings } = run;
  const formats = outputFormats(plan);
  return async (version, dataset, key) => {
    const memory = new PeakMemory();
    const label = version === 'v1' ? 'baseline (V1)' : 'candidate (V2)';
    try {
      const measured = await runPipeline(label, version === 'v1' ? plan.baseline : plan.candidate, dataset, {
        key,
        release: plan.release,
        workdir,
        signal,
        onTick: beat,
        memory,
        outputFormats: formats,
        ...(plan.baseDir ? { baseDir: plan.baseDir } : {}),
        ...(guard ? { guard } : {}),
      });
      if (measured.timings) timings[version].push(measured.timings);
      const peakBytes = memory.stop();
      return { ok: true, durationMs: measured.durationMs, peakBytes, ...cpuOf(memory) };
    } catch (err) {
      const peakBytes = memory.stop();
      if (signal.aborted || isPolicyRefusal(err)) throw err;
      const error = (err as Error).message;
      log.warn('stress run failed', { version, error });
      return { ok: false, durationMs: Number.NaN, peakBytes, ...cpuOf(memory), error };
    }
  };
}

/** A run's CPU time where the kernel accounted for it. */
const cpuOf = (memory: PeakMemory) => (memory.cpuMs !== undefined ? { cpuMs: memory.cpuMs } : {});

/**
 * One size: V2's runs against the thresholds, or with a comparison V1 and V2 together: warm-up runs of both,
 * then pairs in ABBA order until the verdict is decided. Its result joins `progress.completed`.
 */
async function measureSize(stressing: Stressing, rows: number, progress: Progress): Promise<void> {
  const { plan, workdir, key, measure, beat, signal, guard, comparison } = stressing;
  // Each size judges its models on its own runs.
  stressing.timings.v1.length = 0;
  stressing.timings.v2.length = 0;
  const dataset = await generate(
    { rows, seed: 1 },
    { plan, workdir, key: `${key}/data`, signal, onTick: beat, ...(guard ? { guard } : {}) },
  );
  if (!comparison) {
    for (let i = 0; i < plan.stress.warmup; i++) await measure('v2', dataset.path, `${key}/warmup-${rows}-${i}`);
    const runs: Measured[] = [];
    for (let i = 0; i < plan.stress.iterations; i++) {
      runs.push(await measure('v2', dataset.path, `${key}/run-${rows}-${i}`));
      beat();
    }
    progress.completed.push(summariseSize(rows, runs));
    beat();
    return;
  }
  if (progress.current?.rows !== rows) {
    for (let i = 0; i < plan.stress.warmup; i++) {
      await measure('v1', dataset.path, `${key}/warmup-${rows}-${i}/v1`);
      await measure('v2', dataset.path, `${key}/warmup-${rows}-${i}/v2`);
    }
    progress.current = { rows, v1: [], v2: [] };
    beat();
  }
  const pairs = progress.current;
  // The warm-up runs' times are not the pairs'.
  stressing.timings.v1.length = 0;
  stressing.timings.v2.length = 0;
  const relative = await comparePairs(comparison, looks(comparison.settings), pairs, async (p) => {
    for (const version of abba(p)) {
      pairs[version].push(await measure(version, dataset.path, `${key}/pair-${rows}-${p}/${version}`));
    }
    beat();
  });
  const models = modelTimings(stressing.timings, comparison.settings);
  progress.completed.push({ ...summariseSize(rows, pairs.v2), relative, ...(models.length > 0 ? { models } : {}) });
  delete progress.current;
  beat();
}

/**
 * Each model's build time, V2 against V1, over the runs of a size (each run's timings as its dbt build printed
 * them, in seconds): the median's ratio and interval from the same judge as the whole run's, its family the size's
 * models. A model one version did not build is left out.
 */
export function modelTimings(
  timings: Record<Version, Record<string, number>[]>,
  settings: CompareSettings,
): ModelTiming[] {
  const names = [...new Set(timings.v2.flatMap((t) => Object.keys(t)))].filter((name) =>
    timings.v1.some((t) => name in t),
  );
  const samples = (version: Version, name: string) =>
    timings[version].flatMap((t) => (t[name] !== undefined ? [t[name] * 1000] : []));
  return names.sort().map((model) => {
    const v1 = samples('v1', model);
    const v2 = samples('v2', model);
    const comparison = compareStatistic(
      { measure: 'latency', statistic: 'median' },
      { v1, v2 },
      settings,
      Math.max(1, names.length),
    );
    return { model, v1Ms: comparison.v1, v2Ms: comparison.v2, comparison, samples: { v1, v2 } };
  });
}

/** The order of pair `p`: V1 first in even pairs, V2 first in odd ones (ABBA), so drift hurts both alike. */
export function abba(p: number): [Version, Version] {
  return p % 2 === 0 ? ['v1', 'v2'] : ['v2', 'v1'];
}

/**
 * Measures pairs (through `measurePair`) up to each look and judges there, until the verdict is decided or the
 * last look is taken. Runs that failed are left out of the samples (the error rate threshold sees them).
 */
async function comparePairs(
  { settings, family }: NonNullable<Stressing['comparison']>,
  at: number[],
  pairs: { v1: Measured[]; v2: Measured[] },
  measurePair: (p: number) => Promise<void>,
): Promise<RelativeResult> {
  let judged: ReturnType<typeof compareGroup> | undefined;
  for (const look of at) {
    while (pairs.v2.length < look) await measurePair(pairs.v2.length);
    judged = compareGroup(samplesOf(pairs), settings, family);
    if (judged.verdict !== 'inconclusive') break;
  }
  return relativeResult(pairs, judged as ReturnType<typeof compareGroup>);
}

function samplesOf(pairs: { v1: Measured[]; v2: Measured[] }): PairedSamples {
  const side = (runs: Measured[]) => {
    const ok = runs.filter((r) => r.ok);
    return {
      latency: ok.map((r) => Math.round(r.durationMs * 100) / 100),
      // A run too short for the sampler to see it has no peak: left out rather than counted as zero.
      memory: ok.filter((r) => r.peakBytes > 0).map((r) => Math.round((r.peakBytes / 2 ** 20) * 100) / 100),
    };
  };
  return { v1: side(pairs.v1), v2: side(pairs.v2) };
}

function relativeResult(
  pairs: { v1: Measured[]; v2: Measured[] },
  judged: ReturnType<typeof compareGroup>,
): RelativeResult {
  const v1ok = pairs.v1.filter((r) => r.ok);
  return {
    pairs: Math.min(pairs.v1.length, pairs.v2.length),
    samples: samplesOf(pairs),
    comparisons: judged.comparisons,
    verdict: judged.verdict,
    v1: {
      latencyMs: latencyStats(v1ok.map((r) => r.durationMs)),
      peakRssMb: Math.max(0, ...v1ok.map((r) => r.peakBytes)) / 2 ** 20,
    },
  };
}

async function sustain({ plan, workdir, key, measure, beat, guard, comparison }: Stressing): Promise<SustainedResult> {
  const sustained = plan.stress.sustained as NonNullable<CutoverPlan['stress']['sustained']>;
  const rows = sustained.rows ?? Math.min(...plan.stress.sizes);
  const dataset = await generate({ rows, seed: 1 }, { plan, workdir, key: `${key}/data`, ...(guard ? { guard } : {}) });
  const durationMs = toMs(sustained.duration);
  const started = Date.now();
  const runs: Measured[] = [];
  const baseline: Measured[] = [];
  while (Date.now() - started < durationMs) {
    if (comparison) {
      // Alternated through the run, ABBA, so V1 and V2 see the same minutes of the machine.
      const p = runs.length;
      for (const version of abba(p)) {
        const m = await measure(version, dataset.path, `${key}/sustained-${p}/${version}`);
        (version === 'v1' ? baseline : runs).push(m);
      }
    } else {
      runs.push(await measure('v2', dataset.path, `${key}/sustained-${runs.length}`));
    }
    beat();
  }
  const ok = runs.filter((r) => r.ok);
  const elapsed = Date.now() - started;
  const peaks = ok.map((r) => r.peakBytes).filter((b) => b > 0);
  const result: SustainedResult = {
    durationMs: elapsed,
    rows,
    runs: runs.length,
    errors: runs.length - ok.length,
    errorRate: runs.length === 0 ? 0 : (runs.length - ok.length) / runs.length,
    latencyMs: latencyStats(ok.map((r) => r.durationMs)),
    rowsPerSecond: (ok.length * rows) / (elapsed / 1000),
    peakRssMb: Math.max(0, ...peaks) / 2 ** 20,
    rssVariation: variation(peaks),
  };
  if (comparison) {
    const pairs = { v1: baseline, v2: runs };
    result.relative = relativeResult(pairs, compareGroup(samplesOf(pairs), comparison.settings, comparison.family));
  }
  return result;
}

function summariseSize(rows: number, runs: Measured[]): SizeResult {
  const ok = runs.filter((r) => r.ok);
  const latency = latencyStats(ok.map((r) => r.durationMs));
  const peaks = ok.map((r) => r.peakBytes).filter((b) => b > 0);
  return {
    rows,
    iterations: runs.length,
    errors: runs.length - ok.length,
    latencyMs: latency,
    rowsPerSecond: latency.mean > 0 ? rows / (latency.mean / 1000) : 0,
    usPerRow: (latency.mean * 1000) / rows,
    peakRssMb: Math.max(0, ...peaks) / 2 ** 20,
    rssVariation: variation(peaks),
    ...cpuMedian(ok),
  };
}

/** The runs' median CPU time, where the kernel accounted for every one (GNU time on the worker). */
function cpuMedian(runs: Measured[]): { cpuMs?: number } {
  const cpu = runs.map((r) => r.cpuMs).filter((ms): ms is number => ms !== undefined);
  return cpu.length > 0 && cpu.length === runs.length ? { cpuMs: median(cpu) } : {};
}

/** Applies the plan's thresholds and comparison; the result lists every figure that missed. */
function judge(
  plan: CutoverPlan,
  { sizes, sustained }: { sizes: SizeResult[]; sustained: SustainedResult | undefined },
  attempt: number,
  comparison: Stressing['comparison'],
): StressResult {
  const { failures, wouldFail } = thresholdVerdicts(plan.stress.thresholds, sizes, sustained);
  let compared: RelativeVerdict = 'pass';
  if (comparison) {
    const judged = comparisonFailures(comparison.settings, sizes, sustained);
    // A dry-run comparison is measured and shown; it never fails the phase.
    const models = modelFailures(sizes);
    (plan.stress.compare?.dryRun ? wouldFail : failures).unshift(...judged.failures, ...models);
    compared = models.length > 0 ? 'fail' : judged.verdict;
  }
  const result: StressResult = {
    verdict: failures.length === 0 ? 'pass' : 'fail',
    sizes,
    failures,
    attempt,
    memoryMethod: MEMORY_METHOD,
  };
  if (wouldFail.length > 0) result.wouldFail = wouldFail;
  if (comparison) result.compare = { ...comparison, verdict: compared };
  if (sustained) result.sustained = sustained;
  const measured = sizes.filter((s) => s.latencyMs.n > 0);
  if (measured.length >= 2) {
    const first = measured[0] as SizeResult;
    const last = measured[measured.length - 1] as SizeResult;
    // A straight line through (rows, mean latency) separates the fixed cost of a run (process start) from
    // the cost per row, so amortised start-up is not mistaken for sub-linear work.
    const fit = linearRegression(measured.map((s) => [s.rows, s.latencyMs.mean]));
    result.scaling = {
      fromRows: first.rows,
      toRows: last.rows,
      ratio: last.usPerRow / first.usPerRow,
      note: `fixed cost per run ≈ ${fit.b.toFixed(1)} ms, marginal cost ≈ ${(fit.m * 1000).toFixed(3)} µs/row; time per row falls with size only as the fixed cost is spread`,
    };
  }
  return result;
}

/** V2's figures against the reference run's V2, per size both measured: shown beside V1, never a verdict. */
async function againstReference(
  plan: CutoverPlan,
  workflowId: string,
  sizes: SizeResult[],
): Promise<StressReference | undefined> {
  const loaded = await loadReference(plan, workflowId);
  if (!loaded) return undefined;
  const rows: StressReference['sizes'] = [];
  for (const size of sizes) {
    const theirs = (loaded.recorded && lastRecorded(loaded.recorded, 'stress'))?.sizes.find(
      (s) => s.rows === size.rows,
    );
    if (!theirs || theirs.latencyMs.n === 0 || size.latencyMs.n === 0) continue;
    rows.push({
      rows: size.rows,
      p50: size.latencyMs.p50,
      referenceP50: theirs.latencyMs.p50,
      change: (size.latencyMs.p50 - theirs.latencyMs.p50) / theirs.latencyMs.p50,
      peakRssMb: size.peakRssMb,
      referencePeakRssMb: theirs.peakRssMb,
    });
  }
  const note = { ...loaded.note };
  if (!note.refused && rows.length === 0) note.refused = 'it has no stress evidence at the same sizes';
  return { ...note, sizes: rows };
}
