/**
 * The reconciliation phase's activity: V2 against V1 again, on each day's own data, while V2 is in production.
 */
import { dbtModels } from './dbt-models';
import path from 'node:path';
import { compareMetrics, counts } from '../verdicts/metrics';
import type { ReconcileInput } from '../shapes/evidence';
import type { ReconcileResult } from '../shapes/phases';
import { generate, materialise } from './datasets';
import { toFailure } from './errors';
import { diffAndJudge, type DiffDeps } from './output-diffs';
import { outputPaths, pipelineContext, runSideBySide } from './pipeline';
import { openPhase } from './policy-guard';

/**
 * V2 against V1 on the day's data, with the shadow tolerances, and their output tables diffed as in shadow: tables
 * in a database where they lie (in place, pushed down when both share one), files in the day's folder
 * (`reconcile/day-N/`). Each day gets its own data (seed + day).
 */
export function createReconcile(deps: DiffDeps) {
  return async function reconcile(input: ReconcileInput): Promise<ReconcileResult> {
    const { ctx, plan, workdir, tick, guard } = openPhase(deps, input);
    const spec = plan.production.reconcile.dataset ?? plan.shadow.datasets[0];
    try {
      const run = { plan, workdir, key: `${input.key}/data`, signal: ctx.cancellationSignal, onTick: tick, guard };
      // Each day its own data: a generated dataset's seed moves on by the day.
      const ref =
        spec && 'generate' in spec
          ? await generate({ rows: spec.generate.rows, seed: spec.generate.seed + input.day }, run)
          : await materialise(spec as NonNullable<typeof spec>, run);
      const dayDir = path.join(workdir, 'reconcile', `day-${input.day}`);
      const written = {
        v1: outputPaths(plan, path.join(dayDir, 'v1')),
        v2: outputPaths(plan, path.join(dayDir, 'v2')),
      };
      const context = pipelineContext(plan, { workdir, signal: ctx.cancellationSignal, onTick: tick, guard });
      const [v1, v2] = await runSideBySide(plan, ref.path, { context, key: input.key, outputs: written });
      const comparisons = compareMetrics(v1.metrics, v2.metrics, {
        tolerances: plan.shadow.tolerances,
        ranges: plan.shadow.ranges,
      });
      const failures = comparisons.filter(counts).map((c) => `${c.metric}: ${c.reason}`);
      const wouldFail = comparisons.filter((c) => c.dryRun).map((c) => `${c.metric}: ${c.reason}`);
      const outputs = await diffAndJudge(
        plan,
        { dataset: `day ${input.day}`, files: written },
        { deps, dir: dayDir, signal: ctx.cancellationSignal, onTick: tick },
        { failures, wouldFail },
      );
      // A dbt plan: V1 rebuilt beside production, each model diffed in place against V2's.
      const dbt = await dbtModels(plan, { v1, v2 }, { workdir, databases: deps.databases ?? {} });
      failures.push(...dbt.failures);
      return {
        day: input.day,
        clean: failures.length === 0,
        comparisons,
        ...(outputs.length > 0 ? { outputs } : {}),
        ...(plan.dbt ? { models: dbt.models } : {}),
        failures,
        ...(wouldFail.length > 0 ? { wouldFail } : {}),
      };
    } catch (err) {
      throw toFailure(err);
    }
  };
}
