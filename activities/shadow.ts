/**
 * Shadow mode: V1 and V2 on the same datasets, side by side, KPI by KPI against tolerances and noise, and
 * their output tables diffed row by row on their keys (files on DuckDB, tables in their database).
 */
import { log } from '@temporalio/activity';
import { FailureType } from '../plan/failures';
import { compareMetrics } from '../verdicts/metrics';
import { materialise } from './datasets';
import { dbtModels } from './dbt-models';
import { toFailure, verdictFailure } from './errors';
import path from 'node:path';
import { diffAndJudge, type DiffDeps } from './output-diffs';
import {
  outputPaths,
  pipelineContext,
  runPipeline,
  runSideBySide,
  type PipelineContext,
  type PipelineRun,
} from './pipeline';
import type { ActionGuard } from './runner';
import { openPhase } from './policy-guard';
import type { CutoverPlan, Dataset } from '../plan/schema';
import { loadReference } from './reference';
import { lastRecorded } from '../verdicts/recorded';
import type { DatasetComparison, Metrics, PhaseInput, ShadowReference } from '../shapes/evidence';
import type { ShadowResult } from '../shapes/phases';

/** What a shadow phase's datasets share: the activity's plan, folder, key and pipeline context, its verdicts so far. */
interface Shadowing {
  deps: DiffDeps;
  plan: CutoverPlan;
  workdir: string;
  key: string;
  ctx: ReturnType<typeof openPhase>['ctx'];
  tick: () => void;
  guard?: ActionGuard;
  common: PipelineContext;
  failures: string[];
  wouldFail: string[];
}

export function createShadow(deps: DiffDeps) {
  return async function runShadow(input: PhaseInput): Promise<ShadowResult> {
    const { ctx, plan, workdir, tick, guard } = openPhase(deps, input);
    const shadowing: Shadowing = {
      deps,
      plan,
      workdir,
      key: input.key,
      ctx,
      tick,
      ...(guard ? { guard } : {}),
      common: pipelineContext(plan, { workdir, signal: ctx.cancellationSignal, onTick: tick, guard }),
      failures: [],
      wouldFail: [],
    };
    const datasets: DatasetComparison[] = [];
    try {
      for (const [index, dataset] of plan.shadow.datasets.entries()) {
        datasets.push(await compareDataset(shadowing, dataset, index));
        ctx.heartbeat({ datasets: index + 1, of: plan.shadow.datasets.length });
      }
    } catch (err) {
      throw toFailure(err);
    }
    const { failures, wouldFail } = shadowing;
    const reference = await againstReference(plan, input.workflowId, datasets);
    const result: ShadowResult = {
      verdict: failures.length === 0 ? 'pass' : 'fail',
      datasets,
      ...(reference ? { reference } : {}),
      failures,
      ...(wouldFail.length > 0 ? { wouldFail } : {}),
      attempt: ctx.info.attempt,
    };
    log.info('shadow compared', { datasets: datasets.length, failures: failures.length });
    if (failures.length > 0) {
      throw verdictFailure(
        FailureType.ComparisonFailed,
        `V2 differs from V1: ${failures.slice(0, 5).join('; ')}${failures.length > 5 ? ` (+${failures.length - 5} more)` : ''}`,
        result,
      );
    }
    return result;
  };
}

/**
 * One dataset: V1 and V2 side by side on it (and V1 again for its noise), their KPIs compared, their outputs
 * diffed; what failed joins the phase's failures, a dry-run tolerance's its would-fail list.
 */
async function compareDataset(shadowing: Shadowing, dataset: Dataset, index: number): Promise<DatasetComparison> {
  const { deps, plan, workdir, key, ctx, tick, guard, common, failures, wouldFail } = shadowing;
  const ref = await materialise(dataset, {
    plan,
    workdir,
    key: `${key}/dataset-${index}`,
    signal: ctx.cancellationSignal,
    onTick: tick,
    ...(guard ? { guard } : {}),
  });
  const outputsDir = path.join(workdir, 'outputs', `dataset-${index}`);
  const written = {
    v1: outputPaths(plan, path.join(outputsDir, 'v1')),
    v2: outputPaths(plan, path.join(outputsDir, 'v2')),
  };
  const [v1, v2] = await runSideBySide(plan, ref.path, { context: common, key: `${key}/${index}`, outputs: written });
  const noiseRuns: Metrics[] = [];
  let again: PipelineRun | undefined;
  for (let run = 0; run < plan.shadow.noiseRuns; run++) {
    again = await runPipeline('baseline (V1, noise run)', plan.shadow.noiseRun ?? plan.baseline, ref.path, {
      ...common,
      key: `${key}/noise-${index}-${run}`,
    });
    noiseRuns.push(again.metrics);
  }
  const metrics = compareMetrics(v1.metrics, v2.metrics, {
    tolerances: plan.shadow.tolerances,
    ranges: plan.shadow.ranges,
    noiseRuns,
  });
  for (const metric of Object.keys(plan.shadow.tolerances)) {
    if (!(metric in v1.metrics) && !(metric in v2.metrics))
      metrics.push({ metric, noise: 0, verdict: 'fail', reason: 'has a tolerance, but neither version produced it' });
  }
  const outputs = await diffAndJudge(
    plan,
    { dataset: ref.label, files: written },
    { deps, dir: outputsDir, signal: ctx.cancellationSignal, onTick: tick },
    { failures, wouldFail, prefix: `${ref.label}: ` },
  );
  for (const m of metrics.filter((m) => m.verdict === 'fail'))
    (m.dryRun ? wouldFail : failures).push(`${ref.label}: ${m.metric}: ${m.reason}`);
  // A dbt plan's models, diffed where the builds left them (V1's last noise run its A/A build): what changed.
  const builds = { v1, v2, ...(again ? { aa: again } : {}) };
  const dbt = await dbtModels(plan, builds, { workdir, databases: deps.databases ?? {} });
  failures.push(...dbt.failures.map((f) => `${ref.label}: ${f}`));
  const rows = v1.rows ?? v2.rows ?? ref.rows;
  return {
    dataset: ref.label,
    ...(rows !== undefined ? { rows } : {}),
    v1Ms: Math.round(v1.durationMs),
    v2Ms: Math.round(v2.durationMs),
    metrics,
    ...(outputs.length > 0 ? { outputs } : {}),
    ...(plan.dbt ? { models: dbt.models } : {}),
  };
}

/** V2's KPIs against the reference run's V2, per dataset both ran: shown beside V1, never a verdict. */
async function againstReference(
  plan: CutoverPlan,
  workflowId: string,
  datasets: DatasetComparison[],
): Promise<ShadowReference | undefined> {
  const loaded = await loadReference(plan, workflowId);
  if (!loaded) return undefined;
  const metrics: ShadowReference['metrics'] = [];
  for (const dataset of datasets) {
    const theirs = (loaded.recorded && lastRecorded(loaded.recorded, 'shadow'))?.datasets.find(
      (d) => d.dataset === dataset.dataset,
    );
    for (const m of dataset.metrics) {
      const ref = theirs?.metrics.find((x) => x.metric === m.metric)?.v2;
      if (ref === undefined || m.v2 === undefined) continue;
      metrics.push({
        dataset: dataset.dataset,
        metric: m.metric,
        reference: ref,
        v2: m.v2,
        ...(ref !== 0 ? { relative: (m.v2 - ref) / Math.abs(ref) } : {}),
      });
    }
  }
  const note = { ...loaded.note };
  if (!note.refused && metrics.length === 0) note.refused = 'it has no shadow evidence on the same datasets';
  return { ...note, metrics };
}
