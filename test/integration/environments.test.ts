/**
 * Workers where the environments are: an orchestrator, a staging, a production and a compute worker, each
 * its own process with its own data folder, on the real dev server. The deploys are the example's (a ledger
 * per environment that records which worker ran each effect); the workflow's history records which worker
 * took each activity from which queue.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { temporal as proto } from '@temporalio/proto';
import type { WorkflowHandle } from '@temporalio/client';
import { cutoverWorkflow } from '../../workflows';
import { statusQuery } from '../../workflows/messages';
import { approveAll, tempDir, uniqueId, waitForStatus } from '../helpers/harness';
import { makePlan, makePlanInput, ok } from '../helpers/plans';
import { useDevServer } from '../helpers/temporal';
import { spawnWorker } from '../helpers/worker-process';

const ROOT = path.resolve(__dirname, '..', '..');
const KPI = path.join(ROOT, 'dist', 'examples', 'portfolio-kpi', 'cli.js');
const temporal = useDevServer();

type Role = 'orchestrator' | 'staging' | 'production' | 'compute';

interface RunningWorker {
  child: ChildProcess;
  identity: string;
  /** The worker's stdout lines (pino JSON). */
  lines: string[];
  polling: Promise<void>;
}

/** Starts `npm run worker -- --environment ROLE` as the package script does, with its own data folder. */
function startWorker(role: Role, taskQueue: string, dataDir: string): RunningWorker {
  const child = temporal.track(
    spawnWorker(
      {
        ...process.env,
        TEMPORAL_ADDRESS: temporal.server.address,
        CUTOVER_TASK_QUEUE: taskQueue,
        CUTOVER_DATA_DIR: dataDir,
        CUTOVER_LOG_LEVEL: 'info',
      },
      { args: ['--environment', role], stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  const lines: string[] = [];
  const polling = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${role} worker exited ${code} before polling`)));
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      for (const line of chunk.split('\n').filter(Boolean)) {
        lines.push(line);
        if (line.includes('"worker polling"')) resolve();
      }
    });
  });
  polling.catch(() => undefined);
  return { child, identity: `${child.pid}@${hostname()}`, lines, polling };
}

/** The action `portfolio-kpi ARGS` of the example's CLI. */
const kpi = (name: string, ...args: string[]) => ({ name, run: [process.execPath, KPI, ...args] });

function planFor(taskQueue: string, systems: string, deployHoldMs = 0) {
  const staging = path.join(systems, 'staging');
  const production = path.join(systems, 'production');
  const base = makePlanInput();
  const hold = deployHoldMs > 0 ? ['--hold', String(deployHoldMs)] : [];
  return makePlan({
    release: uniqueId('env'),
    staging: {
      deploy: [kpi('switch-staging', 'deploy', '--target', staging, '--version', 'v2')],
      tests: ok('tests'),
      healthChecks: [kpi('staging-health', 'health', '--target', staging)],
    },
    rollback: { ...kpi('rollback-staging', 'undo', '--target', staging), target: '300s' },
    production: {
      ...base.production,
      deploy: kpi('deploy-v2', 'deploy', '--target', production, '--version', 'v2', ...hold),
      undo: kpi('undo-v2', 'undo', '--target', production),
      monitor: {
        ...base.production.monitor,
        window: '3s',
        interval: '1s',
        // The example's probe, after a line with its idempotency key in probes.log (how often it read).
        probe: {
          name: 'probe',
          run: [
            process.execPath,
            '-e',
            `require('fs').appendFileSync(${JSON.stringify(path.join(systems, 'probes.log'))}, process.env.CUTOVER_IDEMPOTENCY_KEY + '\\n'); require('child_process').execFileSync(process.execPath, ${JSON.stringify([KPI, 'probe', '--target', production])}, { stdio: 'inherit' })`,
          ],
        },
      },
      reconcile: { every: '1s', days: 1 },
      decommission: {
        ...kpi('decommission-v1', 'decommission', '--target', production, '--version', 'v1'),
        afterCleanDays: 1,
      },
    },
    environments: {
      staging: { taskQueue: `${taskQueue}-staging` },
      production: { taskQueue: `${taskQueue}-production` },
      compute: { taskQueue: `${taskQueue}-compute` },
    },
  });
}

/** A cutover of `planFor` started on the orchestrator's queue, and signed off once its gate opens. */
async function startAndSignOff(taskQueue: string, systems: string, deployHoldMs = 0) {
  const plan = planFor(taskQueue, systems, deployHoldMs);
  const handle = await temporal.client.workflow.start(cutoverWorkflow, {
    taskQueue,
    workflowId: `cutover-${plan.release}`,
    args: [plan],
  });
  await waitForStatus(handle, (s) => s.state === 'awaiting-signoff', 120_000);
  await approveAll(handle);
  return { plan, handle };
}

interface ActivityRun {
  type: string;
  taskQueue: string;
  identity: string;
}

/** Every activity that ran for `workflowId` (its monitor child's included): type, queue and worker. */
async function activityRuns(workflowId: string): Promise<ActivityRun[]> {
  const runs: ActivityRun[] = [];
  for (const id of [workflowId, `${workflowId}-monitor`]) {
    const history = await temporal.client.workflow.getHandle(id).fetchHistory();
    const scheduled = new Map<string, proto.api.history.v1.IActivityTaskScheduledEventAttributes>();
    for (const event of history.events ?? []) {
      const s = event.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(event.eventId), s);
      const started = event.activityTaskStartedEventAttributes;
      if (started) {
        const of = scheduled.get(String(started.scheduledEventId));
        runs.push({
          type: of?.activityType?.name ?? '?',
          taskQueue: of?.taskQueue?.name ?? '?',
          identity: started.identity ?? '?',
        });
      }
    }
  }
  return runs;
}

interface LedgerEntry {
  action: string;
  key: string;
  phase: 'start' | 'done';
  worker: string;
  queue: string | null;
}

function ledger(dir: string): LedgerEntry[] {
  const file = path.join(dir, 'ledger.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LedgerEntry);
}

test('four workers: every activity runs on a worker of its environment and none elsewhere', async () => {
  const dir = tempDir('envs-');
  const taskQueue = uniqueId('tq-env');
  const workers = Object.fromEntries(
    (['orchestrator', 'staging', 'production', 'compute'] as const).map((role) => [
      role,
      startWorker(role, taskQueue, path.join(dir, `data-${role}`)),
    ]),
  ) as Record<Role, RunningWorker>;
  await Promise.all(Object.values(workers).map((w) => w.polling));
  // Each says in its first line which queues and activities it serves.
  const first = (role: Role) => JSON.parse(workers[role].lines[0] ?? '{}') as { queues?: Record<string, string> };
  expect(first('production').queues).toEqual({
    [`${taskQueue}-production`]: 'production: deployProduction, runStep, probe',
  });
  expect(first('compute').queues).toEqual({ [`${taskQueue}-compute`]: 'compute: runShadow, runStress, reconcile' });
  expect(Object.keys(first('orchestrator').queues ?? {})).toEqual([taskQueue]);
  expect(first('orchestrator').queues?.[taskQueue]).toMatch(/^orchestrator: workflows, checkPlan, /);

  const systems = tempDir('systems-');
  const { handle } = await startAndSignOff(taskQueue, systems);
  expect((await handle.result()).state).toBe('completed');

  const expected: Record<string, Role[]> = {
    checkPlan: ['orchestrator'],
    describeQueue: ['orchestrator'],
    runStep: ['staging', 'production'],
    checkHealth: ['staging'],
    rehearseRollback: ['staging'],
    probe: ['production'],
    deployProduction: ['production'],
    runShadow: ['compute'],
    runStress: ['compute'],
    reconcile: ['compute'],
  };
  const queueOf = (role: Role) => (role === 'orchestrator' ? taskQueue : `${taskQueue}-${role}`);
  const runs = await activityRuns(handle.workflowId);
  expect(new Set(runs.map((r) => r.type))).toEqual(
    new Set([
      'checkPlan',
      'runStep',
      'checkHealth',
      'rehearseRollback',
      'probe',
      'deployProduction',
      'runShadow',
      'runStress',
      'reconcile',
    ]),
  );
  for (const run of runs) {
    const role = (Object.keys(workers) as Role[]).find((r) => workers[r].identity === run.identity);
    expect({ ...run, role }).toEqual({ ...run, role: expect.any(String) });
    expect(expected[run.type]).toContain(role);
    expect(run.taskQueue).toBe(queueOf(role as Role));
  }
  // Every effect on staging by the staging worker, every effect on production by the production worker.
  const staging = ledger(path.join(systems, 'staging'));
  const production = ledger(path.join(systems, 'production'));
  expect(staging.map((e) => e.action)).toEqual(expect.arrayContaining(['deploy', 'undo']));
  expect(production.map((e) => e.action)).toEqual(expect.arrayContaining(['deploy', 'decommission']));
  expect(new Set(staging.map((e) => `${e.worker} ${e.queue}`))).toEqual(
    new Set([`${workers.staging.identity} ${taskQueue}-staging`]),
  );
  expect(new Set(production.map((e) => `${e.worker} ${e.queue}`))).toEqual(
    new Set([`${workers.production.identity} ${taskQueue}-production`]),
  );
  // The data folders: datasets on compute only, nothing of this cutover's work on the orchestrator.
  expect(existsSync(path.join(dir, 'data-compute', 'work'))).toBe(true);
  expect(existsSync(path.join(dir, 'data-orchestrator', 'work'))).toBe(false);
  for (const w of Object.values(workers)) w.child.kill('SIGTERM');
}, 240_000);

test('no production worker: the cutover waits at production with the queue shown; a worker killed mid-deploy is replaced and the deploy has one effect', async () => {
  const dir = tempDir('envs-');
  const taskQueue = uniqueId('tq-env');
  const others = (['orchestrator', 'staging', 'compute'] as const).map((role) =>
    startWorker(role, taskQueue, path.join(dir, `data-${role}`)),
  );
  await Promise.all(others.map((w) => w.polling));
  const systems = tempDir('systems-');
  const { handle } = await startAndSignOff(taskQueue, systems, 6_000);

  // The reading and the deploy wait on production's queue: no live poller, shown with the queue's name.
  const waiting = await waitForStatus(handle, (s) => s.waitingForWorker !== undefined, 60_000);
  expect(waiting.phase).toBe('production');
  expect(waiting.state).toBe('running');
  expect(waiting.waitingForWorker).toMatchObject({
    environment: 'production',
    taskQueue: `${taskQueue}-production`,
    what: 'production: deploy',
  });
  expect(waiting.waitingForWorker?.lastPoller).toBeUndefined();
  expect(waiting.phases.find((p) => p.phase === 'production')?.outcome).toBe('running');
  // Nothing of production has run.
  expect(ledger(path.join(systems, 'production'))).toEqual([]);
  const details = await currentDetails(handle);
  expect(details).toContain(`no live worker on production queue ${taskQueue}-production`);
  const cli = execFileSync(
    process.execPath,
    [path.join(ROOT, 'dist', 'client', 'cli.js'), 'status', handle.workflowId],
    {
      env: { ...process.env, TEMPORAL_ADDRESS: temporal.server.address },
      encoding: 'utf8',
    },
  );
  expect(cli).toContain(`waiting: no live worker on production queue ${taskQueue}-production`);

  // A production worker comes: the deploy starts; the worker dies with its processes mid-deploy.
  const first = startWorker('production', taskQueue, path.join(dir, 'data-production-1'));
  await first.polling;
  const production = path.join(systems, 'production');
  const deadline = Date.now() + 60_000;
  while (!ledger(production).some((e) => e.action === 'deploy') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  killTree(first.child);
  await new Promise((r) => first.child.once('exit', r));
  const second = startWorker('production', taskQueue, path.join(dir, 'data-production-2'));
  await second.polling;
  expect((await handle.result()).state).toBe('completed');

  const entries = ledger(production);
  const deploys = entries.filter((e) => e.action === 'deploy');
  // Started by the first worker, started again and done by the second, with the same idempotency key.
  expect(deploys.map((e) => [e.phase, e.worker])).toEqual([
    ['start', first.identity],
    ['start', second.identity],
    ['done', second.identity],
  ]);
  expect(new Set(deploys.map((e) => e.key)).size).toBe(1);
  // The reference reading was taken once, by the first attempt: the second took it from its heartbeat
  // instead of reading again (by then it could have read V2).
  const probes = readFileSync(path.join(systems, 'probes.log'), 'utf8').split('\n');
  expect(probes.filter((key) => key.endsWith('/production/reference'))).toHaveLength(1);
  // One effect per key across the whole ledger.
  const done = entries.filter((e) => e.phase === 'done').map((e) => `${e.action} ${e.key}`);
  expect(new Set(done).size).toBe(done.length);
  const final = await handle.query(statusQuery);
  expect(final.waitingForWorker).toBeUndefined();
  expect(final.audit.map((a) => a.message).join('\n')).toMatch(/no live worker polls production queue/);
  for (const w of [...others, second]) w.child.kill('SIGTERM');
}, 300_000);

/** The Temporal UI's current details of `handle`'s workflow (the SDK's metadata query). */
async function currentDetails(handle: WorkflowHandle<typeof cutoverWorkflow>): Promise<string> {
  const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return metadata.currentDetails ?? '';
}

/** SIGKILL to a worker and the processes it started: the machine it ran on is gone. */
function killTree(child: ChildProcess): void {
  try {
    execFileSync('pkill', ['-KILL', '-P', String(child.pid)]);
  } catch {
    // No children at that moment.
  }
  child.kill('SIGKILL');
}
