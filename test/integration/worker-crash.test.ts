/**
 * A worker killed with SIGKILL in the middle of the stress phase, and a new worker started: the cutover
 * finishes, and the stress phase resumes from its heartbeat instead of measuring again what was done.
 * Real dev server, real worker processes, real time.
 */
import { type ChildProcess } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { cutoverWorkflow } from '../../workflows';
import { statusQuery } from '../../workflows/messages';
import type { CutoverStatus } from '../../shapes/status';
import type { StressResult } from '../../shapes/phases';
import { approveAll, tempDir, uniqueId } from '../helpers/harness';
import { makePlan, makePlanInput, nodeRun } from '../helpers/plans';
import { useDevServer } from '../helpers/temporal';
import { spawnWorker } from '../helpers/worker-process';

const temporal = useDevServer();

function startWorker(env: NodeJS.ProcessEnv): ChildProcess {
  return temporal.track(spawnWorker(env));
}

test('SIGKILL mid-stress, a new worker: the stress phase resumes from its heartbeat and the cutover completes', async () => {
  const dir = tempDir('crash-');
  const ledger = path.join(dir, 'runs.txt');
  const taskQueue = uniqueId('tq-crash');
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: temporal.server.address,
    CUTOVER_TASK_QUEUE: taskQueue,
    CUTOVER_DATA_DIR: path.join(dir, 'data'),
    CUTOVER_LOG_LEVEL: 'warn',
  };
  // Each candidate run takes about a second and records which dataset it measured.
  const metrics = JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 } });
  const candidate = {
    run: [
      ...nodeRun(
        `require('fs').appendFileSync(${JSON.stringify(ledger)}, require('path').basename(process.argv[1]) + '\\n'); setTimeout(() => process.stdout.write(${JSON.stringify(metrics)}), 1000)`,
      ),
      '{dataset}',
    ],
  };
  const base = makePlanInput();
  const plan = makePlan({
    candidate,
    stress: { sizes: [10, 20], iterations: 4, warmup: 0 },
    production: {
      ...base.production,
      monitor: { ...base.production.monitor, window: '4s', interval: '2s' },
      reconcile: { every: '1s', days: 1 },
      decommission: { ...base.production.decommission, afterCleanDays: 1 },
    },
  });
  const first = startWorker(env);
  const handle = await temporal.client.workflow.start(cutoverWorkflow, {
    taskQueue,
    workflowId: uniqueId(),
    args: [plan],
  });

  // Kill the worker in the middle of size 20, over 2 s after size 10 was measured: heartbeat details are
  // throttled to one send per 2 s (worker/worker.ts), so that is how much progress a crash can lose.
  const deadline = Date.now() + 60_000;
  const runsOf = (size: number) =>
    existsSync(ledger)
      ? readFileSync(ledger, 'utf8')
          .split('\n')
          .filter((l) => l.startsWith(`rows-${size}-`)).length
      : 0;
  while (runsOf(20) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(runsOf(20)).toBeGreaterThanOrEqual(3);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const size10Runs = runsOf(10);

  startWorker(env);
  let status: CutoverStatus | undefined;
  while (Date.now() < deadline + 90_000) {
    status = await handle.query(statusQuery);
    if (status.state === 'awaiting-signoff' || status.state === 'failed') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  expect(status?.state).toBe('awaiting-signoff');
  const stress = status?.phases.find((p) => p.phase === 'stress');
  expect(stress?.attempts).toBe(2);
  // Size 10 was not measured again: the second attempt resumed from the first one's heartbeat.
  expect(runsOf(10)).toBe(size10Runs);
  expect((stress?.result as StressResult).sizes.map((s) => [s.rows, s.iterations])).toEqual([
    [10, 4],
    [20, 4],
  ]);
  await approveAll(handle);
  expect((await handle.result()).state).toBe('completed');
}, 240_000);
