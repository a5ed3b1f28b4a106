/**
 * Stress: load scalability across sizes, then sustained load. Measures each run of the candidate as a
 * whole process (spawn to exit, as a stopwatch outside would), with the kernel's peak RSS of the child.
 *
 * Progress is heartbeated after every size, so an attempt retried after a worker crash resumes from the
 * sizes already measured instead of starting over.
 */
import { Context, log } from '@temporalio/activity';
import { linearRegression } from 'simple-statistics';
import { toMs } from '../plan/duration';
import { FailureType } from '../plan/failures';
import type { CutoverPlan } from '../plan/schema';
import { generate, workdirFor } from './datasets';
import { toFailure, verdictFailure } from './errors';
import { PeakMemory } from './memory';
import { outputFormats, runPipeline } from './pipeline';
import { actionGuard, isPolicyRefusal, type ActionGuard, assertSamePolicy } from './policy-guard';
import type { ResolvedPolicy } from '../plan/policy';
import { latencyStats, variation } from './stats';
import type { PhaseInput, SizeResult, StressProgress, StressResult, SustainedResult } from './types';

export interface StressDeps {
  dataDir: string;
  policy?: ResolvedPolicy;
}

interface Measured {
  ok: boolean;
  durationMs: number;
  peakBytes: number;
}

export function createStress(deps: StressDeps) {
  return async function runStress(input: PhaseInput): Promise<StressResult> {
    assertSamePolicy(deps.policy, input.plan.policyDigest);
    const ctx = Context.current();
    const { plan } = input;
    const workdir = workdirFor(deps.dataDir, input.workflowId);
    const resumed = ctx.info.heartbeatDetails as StressProgress | undefined;
    const completed: SizeResult[] = resumed?.completedSizes ? [...resumed.completedSizes] : [];
    if (completed.length > 0) log.info('stress resuming', { completedSizes: completed.map((s) => s.rows) });
    const beat = () => ctx.heartbeat({ completedSizes: completed } satisfies StressProgress);

    const guard = actionGuard(deps.policy, plan.release);
    const formats = outputFormats(plan);
    const measure = async (dataset: string, key: string): Promise<Measured> => {
      const memory = new PeakMemory();
      try {
        const run = await runPipeline('candidate (V2)', plan.candidate, dataset, {
          key,
          release: plan.release,
          workdir,
          signal: ctx.cancellationSignal,
          onTick: beat,
          onSpawn: (pid) => memory.watch(pid),
          outputFormats: formats,
          ...(plan.baseDir ? { baseDir: plan.baseDir } : {}),
          ...(guard ? { guard } : {}),
        });
        return { ok: true, durationMs: run.durationMs, peakBytes: memory.stop() };
      } catch (err) {
        const peakBytes = memory.stop();
        if (ctx.cancellationSignal.aborted || isPolicyRefusal(err)) throw err;
        log.warn('stress run failed', { error: (err as Error).message });
        return { ok: false, durationMs: Number.NaN, peakBytes };
      }
    };

    try {
      for (const rows of plan.stress.sizes) {
        if (completed.some((s) => s.rows === rows)) continue;
        const dataset = await generate(
          plan,
          rows,
          1,
          workdir,
          `${input.key}/data`,
          ctx.cancellationSignal,
          beat,
          guard,
        );
        for (let i = 0; i < plan.stress.warmup; i++) await measure(dataset.path, `${input.key}/warmup-${rows}-${i}`);
        const runs: Measured[] = [];
        for (let i = 0; i < plan.stress.iterations; i++) {
          runs.push(await measure(dataset.path, `${input.key}/run-${rows}-${i}`));
          beat();
        }
        completed.push(summariseSize(rows, runs));
        beat();
      }
      const sustained = plan.stress.sustained
        ? await sustain(plan, workdir, input.key, measure, beat, guard)
        : undefined;
      const result = judge(plan, completed, sustained, ctx.info.attempt);
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

async function sustain(
  plan: CutoverPlan,
  workdir: string,
  key: string,
  measure: (dataset: string, key: string) => Promise<Measured>,
  beat: () => void,
  guard: ActionGuard | undefined,
): Promise<SustainedResult> {
  const sustained = plan.stress.sustained as NonNullable<CutoverPlan['stress']['sustained']>;
  const rows = sustained.rows ?? Math.min(...plan.stress.sizes);
  const dataset = await generate(plan, rows, 1, workdir, `${key}/data`, undefined, undefined, guard);
  const durationMs = toMs(sustained.duration);
  const started = Date.now();
  const runs: Measured[] = [];
  while (Date.now() - started < durationMs) {
    runs.push(await measure(dataset.path, `${key}/sustained-${runs.length}`));
    beat();
  }
  const ok = runs.filter((r) => r.ok);
  const elapsed = Date.now() - started;
  const peaks = ok.map((r) => r.peakBytes).filter((b) => b > 0);
  return {
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
  };
}

/** Applies the plan's thresholds; the result lists every figure that missed. */
function judge(
  plan: CutoverPlan,
  sizes: SizeResult[],
  sustained: SustainedResult | undefined,
  attempt: number,
): StressResult {
  const { thresholds } = plan.stress;
  const failures: string[] = [];
  const all = [
    ...sizes.map((s) => ({ label: `${s.rows} rows`, ...s, errorRate: s.iterations ? s.errors / s.iterations : 0 })),
    ...(sustained ? [{ label: 'sustained', ...sustained }] : []),
  ];
  for (const m of all) {
    if (thresholds.latencyP99 !== undefined && m.latencyMs.p99 > toMs(thresholds.latencyP99)) {
      failures.push(`${m.label}: p99 ${m.latencyMs.p99.toFixed(0)} ms > ${thresholds.latencyP99}`);
    }
    if (thresholds.errorRate !== undefined && m.errorRate > thresholds.errorRate) {
      failures.push(`${m.label}: error rate ${m.errorRate.toFixed(4)} > ${thresholds.errorRate}`);
    }
    if (thresholds.peakRssMb !== undefined && m.peakRssMb > thresholds.peakRssMb) {
      failures.push(`${m.label}: peak RSS ${m.peakRssMb.toFixed(0)} MB > ${thresholds.peakRssMb} MB`);
    }
    if (m.latencyMs.n === 0) failures.push(`${m.label}: no successful run`);
  }
  if (sustained && thresholds.memoryVariation !== undefined && sustained.rssVariation > thresholds.memoryVariation) {
    failures.push(`sustained: memory variation ${sustained.rssVariation.toFixed(3)} > ${thresholds.memoryVariation}`);
  }
  const result: StressResult = { verdict: failures.length === 0 ? 'pass' : 'fail', sizes, failures, attempt };
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
