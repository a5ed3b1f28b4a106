/**
 * What the orchestration benches share: quick plans of `sh -c` one-liners, a dev server with worker processes
 * in a layout, starting cutovers and signing them off, and printing a table.
 */
import { EXAMPLE_APPROVERS as ROLES } from '../../examples/portfolio-kpi/approvers';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import Table from 'cli-table3';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { planSchema, type CutoverPlan, type CutoverPlanInput } from '../../plan/schema';
import { freePort } from '../../common/net';
import { startDevServer, type DevServer } from '../../toolchain/dev-server';
import { projectRoot } from '../../toolchain/tools';
import { workerEnv, WORKER_NODE_OPTIONS } from '../../common/worker-process';
import { cutoverWorkflow } from '../../workflows';
import { statusQuery, submitSignOffUpdate } from '../../workflows/messages';
import type { CutoverState } from '../../shapes/status';
import { type Spread } from '../common';
import { inBatches } from './measures';

export const ROOT = projectRoot();
export const WORK = path.join(ROOT, '.data', 'bench-orchestration');
const METRICS = JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, rows: 10 });
const PROBE_OK = JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, errorRate: 0 });
const PROBE_BREACH = JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, errorRate: 0.5 });

const sh = (script: string, ...args: string[]) => ({ run: ['sh', '-c', script, 'sh', ...args] });
export const say = (line: string) => process.stderr.write(`${line}\n`);
export const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Wall clock in ns, comparable with `date +%s%N` in an action. */
export const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1000n;

interface PlanOptions {
  release: string;
  /** File the production deploy appends `date +%s%N` to when it starts. */
  deployMark: string;
  undoMark: string;
  /** While this file exists the probe breaches; it appends `date +%s%N` before printing the breach. */
  breachSwitch?: string;
  monitor?: { window: string; interval: string };
  /** Route staging, production and compute work to `<queue>-<name>` (plan `environments`). */
  environments?: string;
}

/** A cutover whose every action is a `sh -c` one-liner. */
export function quickPlan(o: PlanOptions): CutoverPlan {
  const probe = o.breachSwitch
    ? sh(
        `if [ -e "$1" ]; then date +%s%N >> "$1.at"; printf '%s' '${PROBE_BREACH}'; else printf '%s' '${PROBE_OK}'; fi`,
        o.breachSwitch,
      )
    : sh(`printf '%s' '${PROBE_OK}'`);
  const input: CutoverPlanInput = {
    release: o.release,
    initiator: 'rm',
    baseDir: WORK,
    generator: { name: 'gen', ...sh('echo loan_id > "$1"', '{dataset}') },
    baseline: sh(`printf '%s' '${METRICS}'`),
    candidate: sh(`printf '%s' '${METRICS}'`),
    staging: {
      deploy: [{ name: 'switch-staging', ...sh('true') }],
      tests: { name: 'tests', ...sh('true') },
      healthChecks: [{ name: 'health', ...sh('true') }],
    },
    shadow: {
      datasets: [{ generate: { rows: 10, seed: 1 } }],
      noiseRuns: 1,
      tolerances: { PAR30: { relative: 0.05 } },
    },
    stress: { sizes: [10], iterations: 1, warmup: 0 },
    rollback: { name: 'rollback', ...sh('true'), target: '300s' },
    signoff: {
      roles: Object.fromEntries(ROLES.map(([role, who]) => [role, [who]])),
      deadline: '72h',
      escalationWindow: '24h',
    },
    production: {
      deploy: { name: 'deploy', ...sh('date +%s%N >> "$1"', o.deployMark) },
      undo: { name: 'undo', ...sh('date +%s%N >> "$1"', o.undoMark) },
      monitor: {
        window: o.monitor?.window ?? '2s',
        interval: o.monitor?.interval ?? '1s',
        probe: { name: 'probe', ...probe },
        triggers: { errorRate: 0.01, kpiDrift: 0.05, failedProbes: 3 },
      },
      reconcile: { every: '1s', days: 1 },
      decommission: { name: 'decommission', ...sh('true'), afterCleanDays: 1 },
    },
    ...(o.environments
      ? {
          environments: {
            staging: { taskQueue: `${o.environments}-staging` },
            production: { taskQueue: `${o.environments}-production` },
            compute: { taskQueue: `${o.environments}-compute` },
          },
        }
      : {}),
  };
  return planSchema.parse(input);
}

interface Stack {
  client: Client;
  connection: Connection;
  server: DevServer;
  /** The orchestrator's process (the only one but in the four-worker layout). */
  worker: ChildProcess;
  taskQueue: string;
  /** Whether the plans route work to the environments' queues. */
  routed: boolean;
  stop(): Promise<void>;
}

/**
 * How the workers are laid out: `one` worker on one queue (plans without environments), `one-routed` (one
 * worker serving the environments' queues too, plans with environments), `four` (an orchestrator and one
 * worker per environment, each its own process; plans with environments).
 */
export type Layout = 'one' | 'one-routed' | 'four';

/** A dev server (in memory) and the worker processes of `layout` on it, polling. */
export async function startStack(workerEnv: NodeJS.ProcessEnv = {}, layout: Layout = 'one'): Promise<Stack> {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const server = await startDevServer({ port: await freePort(), uiPort: 0 });
  const taskQueue = `bench-${Date.now().toString(36)}`;
  const roles = layout === 'four' ? ['orchestrator', 'staging', 'production', 'compute'] : ['all'];
  const workers = await Promise.all(
    roles.map((role) =>
      startWorker({
        TEMPORAL_ADDRESS: server.address,
        CUTOVER_TASK_QUEUE: taskQueue,
        CUTOVER_DATA_DIR: path.join(WORK, `data-${role}`),
        // BENCH_WORKER_ENVIRONMENT: what the one worker serves (default all), to weigh the environments' workers.
        CUTOVER_ENVIRONMENT: role === 'all' ? (process.env.BENCH_WORKER_ENVIRONMENT ?? 'all') : role,
        ...(role === 'orchestrator' || role === 'all' ? workerEnv : {}),
      }),
    ),
  );
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  return {
    client,
    connection,
    server,
    worker: workers[0]!.child,
    taskQueue,
    routed: layout !== 'one',
    stop: async () => {
      await connection.close();
      await Promise.all(
        workers.map(({ child }) => {
          const gone = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          return gone;
        }),
      );
      await server.stop();
    },
  };
}

/** Spawns `npm run worker`'s process and resolves once it logs that it polls, with the time that took. */
export async function startWorker(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; readyMs: number }> {
  const started = performance.now();
  const nodeOptions = process.env.BENCH_WORKER_NODE_OPTIONS?.split(' ').filter(Boolean) ?? WORKER_NODE_OPTIONS;
  // BENCH_WORKER_ROOT: another checkout's built worker (the baseline of a before/after comparison).
  const root = process.env.BENCH_WORKER_ROOT ?? ROOT;
  const child = spawn(process.execPath, [...nodeOptions, path.join(root, 'dist', 'worker', 'main.js')], {
    env: { ...workerEnv(process.env), CUTOVER_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buffered = '';
    let ready = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      if (ready) return;
      buffered += chunk.toString();
      if (buffered.includes('"worker polling"')) {
        ready = true;
        buffered = '';
        resolve({ child, readyMs: performance.now() - started });
      }
    });
    child.once('exit', (code) => {
      if (!ready) reject(new Error(`the worker exited (${code}) before polling`));
    });
  });
}

export async function waitForState(
  handle: WorkflowHandle<typeof cutoverWorkflow>,
  states: CutoverState[],
  timeoutMs = 300_000,
): Promise<CutoverState> {
  const deadline = Date.now() + timeoutMs;
  let state: CutoverState | 'unknown' = 'unknown';
  for (;;) {
    try {
      state = (await handle.query(statusQuery)).state;
      if (states.includes(state)) return state;
    } catch (err) {
      // A worker busy with a thousand cutovers may answer a query late: ask again until the deadline.
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`${handle.workflowId} stuck in ${state}`);
    await sleepMs(200);
  }
}

/** Waits for the first `date +%s%N` line in `file`, polling every millisecond or so. */
export async function markOf(file: string, timeoutMs = 60_000): Promise<bigint> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(file)) {
      const line = readFileSync(file, 'utf8').split('\n')[0];
      if (line) return BigInt(line.trim());
    }
    if (Date.now() > deadline) throw new Error(`nothing written to ${file}`);
    await sleepMs(1);
  }
}

export async function startCutovers(
  stack: Stack,
  count: number,
  options: (i: number) => Partial<PlanOptions> = () => ({}),
) {
  // 50 starts in flight at most: a thousand at once overrun the dev server's and the client's limits.
  return inBatches(
    Array.from({ length: count }, (_, i) => i),
    50,
    async (i) => {
      const extra = options(i);
      const release = extra.release ?? `r${i}`;
      const marks = { deployMark: path.join(WORK, `${release}.deploy`), undoMark: path.join(WORK, `${release}.undo`) };
      const plan = quickPlan({
        ...marks,
        ...extra,
        release,
        ...(stack.routed ? { environments: stack.taskQueue } : {}),
      });
      const handle = await stack.client.workflow.start(cutoverWorkflow, {
        taskQueue: stack.taskQueue,
        workflowId: `bench-${release}`,
        args: [plan],
      });
      return { handle, ...marks, plan };
    },
  );
}

export async function signOffAll(handle: WorkflowHandle<typeof cutoverWorkflow>, roles = ROLES): Promise<void> {
  for (const [role, approver] of roles) {
    await handle.executeUpdate(submitSignOffUpdate, { args: [{ role, approver, decision: 'approve' }] });
  }
}

export const ms = (ns: bigint) => Number(ns) / 1e6;

export function table(head: string[], rows: (string | number)[][]): void {
  const t = new Table({ head });
  t.push(...rows.map((r) => r.map(String)));
  console.log(t.toString());
}

export const fmt = (s: Spread, unit = 'ms', digits = 1) =>
  `${s.p50.toFixed(digits)} / ${s.p95.toFixed(digits)} / ${s.max.toFixed(digits)} ${unit} (n=${s.n})`;
