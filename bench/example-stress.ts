/**
 * `npm run bench example-stress`: the example plan's stress phase, run by the stress activity as a worker runs it,
 * BENCH_RUNS times (default 10) beside BENCH_SPINNERS busy processes (default 2, each `yes > /dev/null`, as a CI
 * machine shared with other work), BENCH_TOGETHER phases at once (default 1; 2 is a cutover beside another's
 * stress phase, whose bursts of pipeline runs are a burstier load than a spinning shell). V2 is several times faster than V1, so every verdict but a pass is a false
 * alarm; the table gives each run's verdict, pairs per size and what was left open or failed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Table from 'cli-table3';
import type { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities';
import type { StressResult } from '../shapes/phases';
import { loadPlan } from '../plan/load';
import { withFileOutputs } from '../examples/portfolio-kpi/file-outputs';
import { projectRoot } from '../toolchain/tools';
import { describeComparison } from '../verdicts/relative';
import { save } from './common';

export async function benchExampleStress(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 10);
  const spinners = Number(process.env.BENCH_SPINNERS ?? 2);
  const together = Number(process.env.BENCH_TOGETHER ?? 1);
  // Several phases at once (BENCH_TOGETHER): V1's tables in files, each run its own.
  const example = withFileOutputs(await loadPlan(path.join(projectRoot(), 'examples', 'portfolio-kpi', 'plan.yaml')));
  const activities = createActivities({ dataDir: await mkdtemp(path.join(os.tmpdir(), 'bench-example-stress-')) });
  const busy: ChildProcess[] = Array.from({ length: spinners }, () =>
    spawn('sh', ['-c', 'exec yes > /dev/null'], { stdio: 'ignore' }),
  );
  const table = new Table({ head: ['run', 'wall time', 'pairs per size (sustained)', 'verdict', 'open or failed'] });
  const results: Record<string, unknown>[] = [];
  try {
    const one = async (run: number) => {
      const started = performance.now();
      // A failed phase throws, with its evidence as the failure's details.
      const phase: Promise<StressResult> = new MockActivityEnvironment().run(activities.runStress, {
        workflowId: `bench-example-stress-${run}-${Date.now()}`,
        release: example.release,
        key: `bench-example-stress-${run}`,
        plan: example,
      });
      const result = await phase.catch((err: unknown): StressResult => {
        const evidence = (err as ApplicationFailure).details?.[0] as StressResult | undefined;
        if (!evidence) throw err;
        return evidence;
      });
      const wallMs = performance.now() - started;
      const groups = [...result.sizes.map((z) => z.relative), result.sustained?.relative];
      const open = groups.flatMap((g) =>
        (g?.comparisons ?? []).filter((c) => c.verdict !== 'pass').map((c) => `${c.verdict}: ${describeComparison(c)}`),
      );
      const pairs = result.sizes.map((z) => z.relative?.pairs ?? 0);
      results.push({
        run,
        wallMs,
        pairs,
        sustainedPairs: result.sustained?.relative?.pairs,
        verdict: result.verdict,
        open,
        failures: result.failures,
      });
      table.push([
        String(run),
        `${(wallMs / 1000).toFixed(1)} s`,
        `${pairs.join(', ')} (${result.sustained?.relative?.pairs ?? 0})`,
        result.verdict,
        [...open, ...(result.failures ?? [])].join('\n').slice(0, 400),
      ]);
      console.log(
        `run ${run}: ${result.verdict} in ${(wallMs / 1000).toFixed(1)} s; ${(result.failures ?? []).join('; ')}`,
      );
    };
    for (let run = 1; run <= runs; run += together) {
      await Promise.all(Array.from({ length: Math.min(together, runs - run + 1) }, (_, i) => one(run + i)));
    }
  } finally {
    for (const child of busy) child.kill('SIGKILL');
  }
  const falseAlarms = results.filter((r) => r.verdict !== 'pass').length;
  console.log(
    `\nThe example's stress phase beside ${spinners} spinning processes, ${together} at once, ${runs} runs: ${falseAlarms} not passed\n${table.toString()}`,
  );
  await save(`example-stress-${spinners}-spinning-${together}-together`, {
    runs,
    spinners,
    together,
    cpus: os.cpus().length,
    falseAlarms,
    results,
  });
}
