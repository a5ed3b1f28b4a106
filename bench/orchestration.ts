/**
 * Orchestration benches, on the local dev server with a real worker process (and, for the history bound,
 * the time-skipping server):
 *
 *   signoff       last signOff signal sent → production deploy action started, over BENCH_CUTOVERS (50)
 *   overhead      a cutover of do-nothing actions: (start → gate open − activities' own time) / activities
 *   rollback      requestRollback signal → undo started; breaching probe printed → undo started
 *   concurrent    BENCH_CONCURRENT (100) cutovers at once on one worker: all complete? worker peak RSS,
 *                 dev server CPU
 *   gate          BENCH_GATE (100,1000) cutovers waiting at the gate: worker memory, all signed off and
 *                 completed, task timeouts, the reaction of a cutover woken from eviction
 *   history       24 h monitoring at a 1-minute interval (time-skipping): most events in one run
 *   worker-start  worker process spawned → polling, with and without the prebuilt bundle
 *   layout        sign-off reactions and per-activity overhead: one worker on one queue, one worker
 *                 serving the environments' queues, and four workers (orchestrator, staging, production,
 *                 compute), in the same run (BENCH_LAYOUTS)
 *
 * Actions are `sh -c` one-liners: the figures are the orchestration's, not a pipeline's. Times come from
 * one clock (this machine's): the action writes `date +%s%N` when it starts.
 */
import { EXAMPLE_APPROVERS as ROLES } from '../examples/portfolio-kpi/approvers';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Table from 'cli-table3';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { planSchema, type CutoverPlan, type CutoverPlanInput } from '../plan/schema';
import { freePort } from '../common/net';
import { startDevServer, type DevServer } from '../toolchain/dev-server';
import { createTimeSkippingEnv } from '../toolchain/time-skipping';
import { projectRoot } from '../toolchain/tools';
import { loadBundle } from '../worker/bundle';
import { defaultBundlePath } from '../worker/worker';
import { workerEnv, WORKER_NODE_OPTIONS } from '../common/worker-process';
import { createMetrics } from '../worker/metrics';
import { cutoverWorkflow } from '../workflows';
import { requestRollbackSignal, signOffSignal, statusQuery, submitSignOffUpdate } from '../workflows/messages';
import type { CutoverState } from '../shapes/status';
import { save, spread, type Spread } from './common';

const ROOT = projectRoot();
const WORK = path.join(ROOT, '.data', 'bench-orchestration');
const METRICS = JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, rows: 10 });
const PROBE_OK = JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, errorRate: 0 });
const PROBE_BREACH = JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, errorRate: 0.5 });

const sh = (script: string, ...args: string[]) => ({ run: ['sh', '-c', script, 'sh', ...args] });
const say = (line: string) => process.stderr.write(`${line}\n`);
const sleepMs = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Wall clock in ns, comparable with `date +%s%N` in an action. */
const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1000n;

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
type Layout = 'one' | 'one-routed' | 'four';

/** A dev server (in memory) and the worker processes of `layout` on it, polling. */
async function startStack(workerEnv: NodeJS.ProcessEnv = {}, layout: Layout = 'one'): Promise<Stack> {
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
async function startWorker(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; readyMs: number }> {
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

async function waitForState(
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
async function markOf(file: string, timeoutMs = 60_000): Promise<bigint> {
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

async function startCutovers(stack: Stack, count: number, options: (i: number) => Partial<PlanOptions> = () => ({})) {
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

async function signOffAll(handle: WorkflowHandle<typeof cutoverWorkflow>, roles = ROLES): Promise<void> {
  for (const [role, approver] of roles) {
    await handle.executeUpdate(submitSignOffUpdate, { args: [{ role, approver, decision: 'approve' }] });
  }
}

const ms = (ns: bigint) => Number(ns) / 1e6;

export function table(head: string[], rows: (string | number)[][]): void {
  const t = new Table({ head });
  t.push(...rows.map((r) => r.map(String)));
  console.log(t.toString());
}

export const fmt = (s: Spread, unit = 'ms', digits = 1) =>
  `${s.p50.toFixed(digits)} / ${s.p95.toFixed(digits)} / ${s.max.toFixed(digits)} ${unit} (n=${s.n})`;

type SignoffLoad = 'quiet' | 'busy';

interface SignoffRun {
  /** Last signal sent → the deploy activity's ActivityTaskStarted event (the measure). */
  toActivity: number[];
  /** Last signal sent → the deploy action's first line (`date +%s%N`): stricter, includes its process start. */
  toAction: number[];
  /** Earlier cutovers still running at each last approval. */
  inFlight: number[];
  completed: number;
}

/**
 * Brings `count` cutovers to the gate, then signs them off one at a time. `quiet`: each signed cutover runs
 * to its end before the next is signed (the others wait at the gate). `busy`: the next is signed as soon as
 * the deploy starts, so the earlier ones are still monitoring (1 s probes) and reconciling (≈ 30 at once).
 */
async function measureSignoffs(count: number, load: SignoffLoad, layout: Layout = 'one'): Promise<SignoffRun> {
  const metricsPort = await freePort();
  const stack = await startStack({ CUTOVER_METRICS_PORT: String(metricsPort) }, layout);
  try {
    say(`signoff (${load}): ${count} cutovers to the gate…`);
    const cutovers = await startCutovers(stack, count);
    await Promise.all(cutovers.map((c) => waitForState(c.handle, ['awaiting-signoff'])));
    const toAction: number[] = [];
    const sentAt: bigint[] = [];
    // Signed cutovers not yet ended, at each last approval: the load the busy run measures under.
    const inFlight: number[] = [];
    let ended = 0;
    for (const c of cutovers) {
      inFlight.push(sentAt.length - ended);
      await signOffAll(c.handle, ROLES.slice(0, 4));
      const [role, approver] = ROLES[4]!;
      const sent = nowNs();
      sentAt.push(sent);
      await c.handle.signal(signOffSignal, { role, approver, decision: 'approve' });
      toAction.push(ms((await markOf(c.deployMark)) - sent));
      const end = c.handle.result().finally(() => ended++);
      if (load === 'quiet') await end;
    }
    const states = await Promise.all(cutovers.map((c) => c.handle.result().then((r) => r.state)));
    const toActivity = await Promise.all(
      cutovers.map(async (c, i) => {
        const events = (await c.handle.fetchHistory()).events ?? [];
        const deploy = events.find((e) => summaryOf(e).startsWith('production: deploy'));
        const started = events.find(
          (e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(deploy?.eventId),
        );
        if (!started) throw new Error(`cutover ${i}: no production deploy activity started`);
        return eventMs(started) - Number(sentAt[i]! / 1_000_000n);
      }),
    );
    if (process.env.BENCH_TIMELINE) {
      // The five slowest: every event from the last signal to the deploy's start.
      const slowest = toAction
        .map((r, i) => [r, i] as const)
        .sort((x, y) => y[0] - x[0])
        .slice(0, 5);
      for (const [r, i] of slowest) {
        const events = (await cutovers[i]!.handle.fetchHistory()).events ?? [];
        const signal = events.findLastIndex((e) => e.workflowExecutionSignaledEventAttributes);
        say(`cutover ${i}: ${r.toFixed(1)} ms`);
        printTimeline(events.slice(signal, signal + 12));
      }
    }
    if (process.env.BENCH_TIMELINE) {
      // Every cutover's workflow tasks, started → completed, by what woke them (the event before the task).
      const byCause = new Map<string, number[]>();
      for (const c of cutovers) {
        const events = (await c.handle.fetchHistory()).events ?? [];
        events.forEach((e, i) => {
          if (!e.workflowTaskCompletedEventAttributes) return;
          const started = events[i - 1];
          // Event ids count from 1 in a whole history: the scheduled event is at its id - 1, its cause before it.
          const before = events[Number(e.workflowTaskCompletedEventAttributes.scheduledEventId) - 2];
          const cause = before ? eventKind(before) : '?';
          const list = byCause.get(cause) ?? [];
          list.push(eventMs(e) - eventMs(started!));
          byCause.set(cause, list);
        });
      }
      for (const [cause, took] of byCause) say(`workflow tasks after ${cause}: ${fmt(spread(took))}`);
    }
    if (process.env.BENCH_TIMELINE) {
      // Inside the worker: how long workflow tasks and local activities took (the SDK's histograms, whole run).
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      for (const name of [
        'temporal_workflow_task_execution_latency',
        'temporal_local_activity_execution_latency',
        'temporal_workflow_task_schedule_to_start_latency',
        'temporal_activity_schedule_to_start_latency',
      ]) {
        say(`${name}: ${histogramLine(text, name)}`);
      }
    }
    return { toActivity, toAction, inFlight, completed: states.filter((st) => st === 'completed').length };
  } finally {
    await stack.stop();
  }
}

export async function benchSignoff(): Promise<void> {
  const count = Number(process.env.BENCH_CUTOVERS ?? 50);
  const loads = (process.env.BENCH_SIGNOFF_LOAD ?? 'quiet,busy').split(',') as SignoffLoad[];
  const rows: string[][] = [];
  const results: Record<string, unknown> = {};
  for (const load of loads) {
    const run = await measureSignoffs(count, load);
    const activity = spread(run.toActivity);
    const action = spread(run.toAction);
    const busy = spread(run.inFlight);
    rows.push(
      [
        `${load}: deploy activity started (${busy.p50} / ${busy.max} others running, p50 / max)`,
        fmt(activity),
        'p95 < 100 ms',
        `${run.completed} of ${count}`,
      ],
      [`${load}: deploy action running`, fmt(action), '', ''],
    );
    results[load] = {
      completed: run.completed,
      toActivityStartedMs: activity,
      toActionRunningMs: action,
      othersRunning: busy,
      samples: { toActivityStarted: run.toActivity, toActionRunning: run.toAction },
    };
  }
  table(['sign-off reaction (last signOff signal sent →)', 'p50 / p95 / max', 'goal', 'completed'], rows);
  await save('signoff', { cutovers: count, ...results });
}

const eventMs = (e: temporal.api.history.v1.IHistoryEvent) =>
  Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;

/** An event's user-metadata summary (activities are scheduled with one), or ''. */
function summaryOf(e: temporal.api.history.v1.IHistoryEvent): string {
  const data = e.userMetadata?.summary?.data;
  if (!data) return '';
  try {
    return String(JSON.parse(Buffer.from(data).toString('utf8')));
  } catch {
    return '';
  }
}

/** An event's kind: its attributes' name without `EventAttributes`. */
const eventKind = (e: temporal.api.history.v1.IHistoryEvent): string =>
  (Object.keys(e).find((k) => k.endsWith('EventAttributes')) ?? '?').replace(/EventAttributes$/, '');

/** BENCH_TIMELINE=1: each event of the last cutover with its time since the start, to see where time goes. */
function printTimeline(events: temporal.api.history.v1.IHistoryEvent[]): void {
  const start = eventMs(events[0]!);
  let previous = start;
  for (const e of events) {
    const at = eventMs(e);
    say(`${(at - start).toFixed(1).padStart(8)} ms  +${(at - previous).toFixed(1).padStart(6)}  ${eventKind(e)}`);
    previous = at;
  }
}

/** Scheduled → started, for every workflow and activity task. */
function dispatchGaps(events: temporal.api.history.v1.IHistoryEvent[]): number[] {
  const scheduled = new Map<string, number>();
  const gaps: number[] = [];
  for (const e of events) {
    if (e.workflowTaskScheduledEventAttributes || e.activityTaskScheduledEventAttributes) {
      scheduled.set(String(e.eventId), eventMs(e));
    }
    const from =
      e.workflowTaskStartedEventAttributes?.scheduledEventId ?? e.activityTaskStartedEventAttributes?.scheduledEventId;
    if (from !== undefined && from !== null) gaps.push(eventMs(e) - scheduled.get(String(from))!);
  }
  return gaps;
}

export async function benchOverhead(): Promise<void> {
  const count = Number(process.env.BENCH_OVERHEAD_CUTOVERS ?? 20);
  const s = await measureOverhead(count, 'one');
  table(
    ['phase overhead (start → gate, do-nothing actions)', 'p50 / p95 / max', 'goal'],
    [
      [`orchestration per activity (${s.activities} activities per cutover)`, fmt(s.perActivity), 'p50 < 20 ms'],
      ["activity's own time (started → completed)", fmt(s.own), ''],
    ],
  );
  await save('overhead', {
    cutovers: count,
    activitiesPerCutover: s.activities,
    overheadMs: s.perActivity,
    ownMs: s.own,
  });
}

/** Start → gate of `count` do-nothing cutovers, one at a time: the orchestration's time per activity. */
async function measureOverhead(
  count: number,
  layout: Layout,
): Promise<{ perActivity: Spread; own: Spread; activities: number }> {
  const stack = await startStack({}, layout);
  try {
    say(`overhead: ${count} cutovers, one at a time, to the gate…`);
    const perActivity: number[] = [];
    const ownMs: number[] = [];
    let activities = 0;
    for (let i = 0; i < count; i++) {
      const [c] = await startCutovers(stack, 1, () => ({ release: `o${i}` }));
      await waitForState(c!.handle, ['awaiting-signoff']);
      const events = (await c!.handle.fetchHistory()).events ?? [];
      const start = eventMs(events[0]!);
      if (i === count - 1 && process.env.BENCH_TIMELINE) printTimeline(events);
      if (process.env.BENCH_TIMELINE)
        say(
          `cutover ${i}: task dispatch ${dispatchGaps(events)
            .map((g) => g.toFixed(0))
            .join(' ')} ms`,
        );
      // The gate's deadline (72 h), not the timers that watch an environment's queue (queue-watch.ts).
      const gate = events.find((e) => Number(e.timerStartedEventAttributes?.startToFireTimeout?.seconds ?? 0) >= 3600);
      const started = new Map<string, number>();
      let own = 0;
      let n = 0;
      for (const e of events) {
        if (e.activityTaskStartedEventAttributes) {
          started.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), eventMs(e));
        }
        const done = e.activityTaskCompletedEventAttributes;
        if (done && eventMs(e) <= eventMs(gate!)) {
          own += eventMs(e) - started.get(String(done.scheduledEventId))!;
          n++;
        }
      }
      const overhead = (eventMs(gate!) - start - own) / n;
      perActivity.push(overhead);
      ownMs.push(own / n);
      activities = n;
      await c!.handle.terminate('bench: measured');
    }
    return { perActivity: spread(perActivity), own: spread(ownMs), activities };
  } finally {
    await stack.stop();
  }
}

/**
 * `npm run bench layout`: the sign-off reactions (BENCH_SIGNOFF_LOAD: quiet, busy) and the per-activity
 * overhead in each layout of BENCH_LAYOUTS (one,four), one after the other in the same run.
 */
export async function benchLayout(): Promise<void> {
  const layouts = (process.env.BENCH_LAYOUTS ?? 'one,four').split(',') as Layout[];
  const loads = (process.env.BENCH_SIGNOFF_LOAD ?? 'quiet,busy').split(',') as SignoffLoad[];
  const count = Number(process.env.BENCH_CUTOVERS ?? 50);
  const overheadCount = Number(process.env.BENCH_OVERHEAD_CUTOVERS ?? 20);
  const rows: string[][] = [];
  const results: Record<string, Record<string, unknown>> = {};
  for (const layout of layouts) {
    results[layout] = {};
    for (const load of loads) {
      const signoff = await measureSignoffs(count, load, layout);
      const reaction = spread(signoff.toActivity);
      const action = spread(signoff.toAction);
      rows.push(
        [
          `${LAYOUT_NAMES[layout]}: ${load} sign-off → deploy activity started`,
          fmt(reaction),
          `${signoff.completed} of ${count}`,
        ],
        [`${LAYOUT_NAMES[layout]}: ${load} sign-off → deploy action running`, fmt(action), ''],
      );
      results[layout][load] = {
        completed: signoff.completed,
        toActivityStartedMs: reaction,
        toActionRunningMs: action,
        samples: signoff.toActivity,
      };
    }
    const overhead = await measureOverhead(overheadCount, layout);
    rows.push([`${LAYOUT_NAMES[layout]}: orchestration per activity`, fmt(overhead.perActivity), '']);
    results[layout].overheadPerActivityMs = overhead.perActivity;
  }
  table(['layout', 'p50 / p95 / max', 'completed'], rows);
  await save('layout', { cutovers: count, overheadCutovers: overheadCount, ...results });
}

const LAYOUT_NAMES: Record<Layout, string> = {
  one: 'one worker, one queue',
  'one-routed': 'one worker, environments',
  four: 'four workers',
};

export async function benchRollback(): Promise<void> {
  const count = Number(process.env.BENCH_ROLLBACKS ?? 20);
  const stack = await startStack();
  try {
    say(`rollback: ${count} by signal and ${count} by a breaching probe…`);
    const manual = await startCutovers(stack, count, (i) => ({
      release: `m${i}`,
      monitor: { window: '10m', interval: '30s' },
    }));
    const breach = await startCutovers(stack, count, (i) => ({
      release: `b${i}`,
      breachSwitch: path.join(WORK, `b${i}.breach`),
      monitor: { window: '10m', interval: '1s' },
    }));
    const all = [...manual, ...breach];
    await Promise.all(all.map((c) => waitForState(c.handle, ['awaiting-signoff'])));
    for (const c of all) await signOffAll(c.handle);
    await Promise.all(all.map((c) => waitForState(c.handle, ['monitoring'])));

    const bySignal: number[] = [];
    for (const c of manual) {
      const sent = nowNs();
      await c.handle.signal(requestRollbackSignal, { requestedBy: 'di', reason: 'bench' });
      bySignal.push(ms((await markOf(c.undoMark)) - sent));
    }
    const byBreach: number[] = [];
    for (const [i, c] of breach.entries()) {
      const switchFile = path.join(WORK, `b${i}.breach`);
      writeFileSync(switchFile, '');
      const undo = await markOf(c.undoMark);
      byBreach.push(ms(undo - (await markOf(`${switchFile}.at`))));
    }
    const states = await Promise.all(all.map((c) => c.handle.result().then((r) => r.state)));
    const rolledBack = states.filter((s) => s === 'rolled-back').length;
    const signal = spread(bySignal);
    const probe = spread(byBreach);
    table(
      ['rollback reaction', 'p50 / p95 / max', 'goal', 'rolled back'],
      [
        ['requestRollback signal → undo started', fmt(signal), '< 1 s', `${rolledBack} of ${2 * count} in all`],
        ['breaching probe printed → undo started', fmt(probe), '< 1 s (+ one interval)', ''],
      ],
    );
    await save('rollback', { cutovers: 2 * count, rolledBack, bySignalMs: signal, byBreachMs: probe });
  } finally {
    await stack.stop();
  }
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The kernel's peak resident set (VmHWM) of a process, in MB. */
function peakRssMb(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

export async function benchConcurrent(): Promise<void> {
  const count = Number(process.env.BENCH_CONCURRENT ?? 100);
  const stack = await startStack();
  try {
    say(`concurrent: ${count} cutovers at once on one worker…`);
    const serverPid = stack.server.process.pid!;
    const cpuBefore = cpuSeconds(serverPid);
    const t0 = performance.now();
    const cutovers = await startCutovers(stack, count, (i) => ({
      release: `c${i}`,
      monitor: { window: '10s', interval: '2s' },
    }));
    // Sign each off as soon as it reaches the gate, as five approvers would.
    const results = await Promise.all(
      cutovers.map(async (c) => {
        await waitForState(c.handle, ['awaiting-signoff'], 900_000);
        await signOffAll(c.handle);
        return (await c.handle.result()).state;
      }),
    );
    const wallS = (performance.now() - t0) / 1000;
    const serverCpu = cpuSeconds(serverPid) - cpuBefore;
    const workerRss = peakRssMb(stack.worker.pid!);
    const completed = results.filter((s) => s === 'completed').length;
    table(
      ['many at once', 'value', 'goal'],
      [
        ['cutovers completed', `${completed} of ${count} (${results.length - completed} not)`, 'all'],
        ['wall time, start to last completed', `${wallS.toFixed(1)} s`, ''],
        ['worker peak RSS (VmHWM)', `${workerRss.toFixed(0)} MB`, '< 500 MB'],
        ['dev server CPU', `${serverCpu.toFixed(1)} s (${((100 * serverCpu) / wallS).toFixed(0)} % of one core)`, ''],
      ],
    );
    await save('concurrent', { cutovers: count, completed, wallS, workerPeakRssMb: workerRss, serverCpuS: serverCpu });
  } finally {
    await stack.stop();
  }
}

/** Current resident set (VmRSS) of a process, in MB. */
function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

/** Runs `task` over `items`, at most `width` at a time. */
async function inBatches<T, R>(
  items: readonly T[],
  width: number,
  task: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await task(items[i]!, i);
      }
    }),
  );
  return out;
}

/** A Prometheus histogram's cumulative buckets (le=count), summed over its label sets, on one line. */
function histogramLine(text: string, name: string): string {
  const buckets = new Map<string, number>();
  const bucket = new RegExp(`^${name}(?:_seconds|_milliseconds)?_bucket\\{.*le="([^"]+)".*\\} (\\S+)$`);
  for (const line of text.split('\n')) {
    const match = bucket.exec(line);
    if (match) buckets.set(match[1]!, (buckets.get(match[1]!) ?? 0) + Number(match[2]));
  }
  return [...buckets].map(([le, n]) => `≤${le}:${n}`).join(' ') || '(none)';
}

/** The SDK's count of workflow tasks for runs the worker no longer had in its cache (from its /metrics). */
async function stickyCacheMisses(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('temporal_sticky_cache_miss'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

/** Why workflow tasks timed out or failed, counted over all histories (a worker too slow or too full to answer). */
const troubleKinds = new Map<string, number>();

/** Workflow tasks that timed out or failed in a history; their kinds go to troubleKinds. */
function taskTroubles(events: temporal.api.history.v1.IHistoryEvent[]): number {
  let n = 0;
  for (const e of events) {
    const timedOut = e.workflowTaskTimedOutEventAttributes;
    const failed = e.workflowTaskFailedEventAttributes;
    if (!timedOut && !failed) continue;
    n++;
    const kind = timedOut
      ? `timed out (${String(timedOut.timeoutType)})`
      : `failed (${String(failed?.cause)}: ${(failed?.failure?.message ?? '').slice(0, 80)})`;
    troubleKinds.set(kind, (troubleKinds.get(kind) ?? 0) + 1);
  }
  return n;
}

/**
 * `npm run bench gate`: BENCH_GATE (100,1000) cutovers brought to the gate on one worker: its RSS with all of
 * them waiting; then each count's first BENCH_WOKEN (20) are signed off one at a time (the reaction of a
 * cutover whose workflow the worker may have evicted, and whether it had), then all the others at once, and
 * every one must complete: worker peak RSS, wall time, dev server CPU, workflow task timeouts.
 */
export async function benchGate(): Promise<void> {
  const counts = (process.env.BENCH_GATE ?? '100,1000').split(',').map(Number);
  const woken = Number(process.env.BENCH_WOKEN ?? 20);
  const results: Record<string, unknown>[] = [];
  const rows: string[][] = [];
  for (const count of counts) {
    const metricsPort = await freePort();
    const stack = await startStack({ CUTOVER_METRICS_PORT: String(metricsPort) });
    troubleKinds.clear();
    try {
      const workerPid = stack.worker.pid!;
      const serverPid = stack.server.process.pid!;
      const cpuBefore = cpuSeconds(serverPid);
      const t0 = performance.now();
      say(`gate: ${count} cutovers to the gate…`);
      const cutovers = await startCutovers(stack, count, (i) => ({ release: `g${i}` }));
      await inBatches(cutovers, 20, (c) => waitForState(c.handle, ['awaiting-signoff'], 1_800_000));
      const atGateS = (performance.now() - t0) / 1000;
      // Let the last tasks settle, then read what waiting costs.
      await sleepMs(5000);
      const rssAtGate = rssMb(workerPid);
      const peakAtGate = peakRssMb(workerPid);
      // Diagnosis: the worker's memory map with all of them waiting, to see whose memory it is.
      if (process.env.BENCH_SMAPS) writeFileSync(process.env.BENCH_SMAPS, readFileSync(`/proc/${workerPid}/smaps`));
      say(`gate: all ${count} at the gate after ${atGateS.toFixed(1)} s; worker RSS ${rssAtGate.toFixed(0)} MB`);
      // The woken: four approvals each, then every other cutover is queried (a query runs a workflow task, so
      // with a cache smaller than the count the woken ones are evicted), then each gets its last approval in
      // turn, timed to its deploy's start; the SDK's cache-miss count says whether it had been evicted.
      const wokenSet = cutovers.slice(0, woken);
      await inBatches(wokenSet, 5, (c) => signOffAll(c.handle, ROLES.slice(0, 4)));
      await inBatches(cutovers.slice(woken), 20, (c) => c.handle.query(statusQuery));
      const reactions: number[] = [];
      let evicted = 0;
      for (const c of wokenSet) {
        const [role, approver] = ROLES[4]!;
        const misses = await stickyCacheMisses(metricsPort);
        const sent = nowNs();
        await c.handle.signal(signOffSignal, { role, approver, decision: 'approve' });
        reactions.push(ms((await markOf(c.deployMark)) - sent));
        // A miss: the worker no longer held this cutover and replayed its history to answer.
        if ((await stickyCacheMisses(metricsPort)) > misses) evicted++;
      }
      say(`gate: signing off the other ${count - woken}…`);
      await inBatches(cutovers.slice(woken), 50, (c) => signOffAll(c.handle));
      const states = await inBatches(cutovers, 50, (c) => c.handle.result().then((r) => r.state));
      const wallS = (performance.now() - t0) / 1000;
      const serverCpu = cpuSeconds(serverPid) - cpuBefore;
      const peak = peakRssMb(workerPid);
      const troubles = (
        await inBatches(cutovers, 20, async (c) => taskTroubles((await c.handle.fetchHistory()).events ?? []))
      ).reduce((a, b) => a + b, 0);
      const completed = states.filter((st) => st === 'completed').length;
      if (troubles > 0) say(`gate: workflow task troubles: ${JSON.stringify(Object.fromEntries(troubleKinds))}`);
      const reaction = spread(reactions);
      rows.push([
        String(count),
        `${rssAtGate.toFixed(0)} MB (peak ${peakAtGate.toFixed(0)})`,
        `${peak.toFixed(0)} MB`,
        `${completed} of ${count}`,
        String(troubles),
        `${wallS.toFixed(1)} s (gate ${atGateS.toFixed(1)} s)`,
        `${serverCpu.toFixed(1)} s`,
        `${fmt(reaction)}, ${evicted} of ${reactions.length} evicted`,
      ]);
      results.push({
        cutovers: count,
        workerRssAtGateMb: rssAtGate,
        workerPeakAtGateMb: peakAtGate,
        workerPeakMb: peak,
        completed,
        workflowTaskTroubles: troubles,
        wallS,
        atGateS,
        serverCpuS: serverCpu,
        wokenReactionMs: reaction,
        wokenEvicted: evicted,
        samples: reactions,
      });
    } finally {
      await stack.stop();
    }
  }
  table(
    [
      'cutovers',
      'worker RSS, all at the gate',
      'worker peak',
      'completed',
      'task timeouts',
      'wall time',
      'server CPU',
      'woken sign-off reaction p50 / p95 / max',
    ],
    rows,
  );
  await save('gate', {
    runs: results,
    env: { CUTOVER_MAX_CACHED_WORKFLOWS: process.env.CUTOVER_MAX_CACHED_WORKFLOWS },
  });
}

export async function benchHistory(): Promise<void> {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // already installed by an earlier bench in this process
  }
  const env = await createTimeSkippingEnv();
  try {
    say('history: a 24 h monitoring window at 1-minute probes, time-skipping…');
    mkdirSync(WORK, { recursive: true });
    const taskQueue = `bench-history-${Date.now().toString(36)}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      workflowBundle: { code: await loadBundle(defaultBundlePath()) },
      activities: createActivities({ dataDir: path.join(WORK, 'data') }),
      sinks: createMetrics().sinks,
    });
    const plan = quickPlan({
      release: 'history',
      deployMark: path.join(WORK, 'history.deploy'),
      undoMark: path.join(WORK, 'history.undo'),
      monitor: { window: '24h', interval: '1m' },
    });
    const t0 = performance.now();
    const counts: number[] = [];
    let parentEvents = 0;
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(cutoverWorkflow, {
        taskQueue,
        workflowId: `bench-history-${Date.now()}`,
        args: [plan],
      });
      await waitForState(handle, ['awaiting-signoff']);
      await signOffAll(handle);
      const result = await handle.result();
      if (result.state !== 'completed') throw new Error(`the 24 h cutover ended ${result.state}`);
      const parent = (await handle.fetchHistory()).events ?? [];
      parentEvents = parent.length;
      const child = parent.find((e) => e.childWorkflowExecutionStartedEventAttributes)
        ?.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      let runId: string | undefined = child?.runId ?? undefined;
      while (runId) {
        const events = (await env.client.workflow.getHandle(child!.workflowId!, runId).fetchHistory()).events ?? [];
        counts.push(events.length);
        runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
      }
    });
    const wallS = (performance.now() - t0) / 1000;
    table(
      ['history bound (24 h at 1-minute probes)', 'value', 'goal'],
      [
        ['most events in one monitor run', Math.max(...counts), '< 10,000'],
        ['monitor runs (continue-as-new)', counts.length, ''],
        ['events in the parent workflow', parentEvents, ''],
        ['wall time on the time-skipping server', `${wallS.toFixed(1)} s`, ''],
      ],
    );
    await save('history', { maxEventsPerRun: Math.max(...counts), eventsPerRun: counts, parentEvents, wallS });
  } finally {
    await env.teardown();
  }
}

export async function benchWorkerStart(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const server = await startDevServer({ port: await freePort(), uiPort: 0 });
  try {
    const variants: [string, NodeJS.ProcessEnv][] = [
      ['prebuilt bundle', {}],
      ['bundled at start', { CUTOVER_WORKFLOW_BUNDLE: path.join(WORK, 'no-such-bundle.js') }],
    ];
    const samples: Record<string, number[]> = Object.fromEntries(variants.map(([name]) => [name, []]));
    for (let i = 0; i < runs; i++) {
      for (const [name, env] of variants) {
        const { child, readyMs } = await startWorker({
          TEMPORAL_ADDRESS: server.address,
          CUTOVER_TASK_QUEUE: 'bench-start',
          CUTOVER_DATA_DIR: path.join(WORK, 'data'),
          ...env,
        });
        samples[name]!.push(readyMs);
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
    }
    const spreads = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, spread(v)]));
    table(
      ['worker start (spawn → polling)', 'p50 / p95 / max'],
      Object.entries(spreads).map(([k, s]) => [k, fmt(s, 'ms', 0)]),
    );
    await save('worker-start', { runs, startMs: spreads });
  } finally {
    await server.stop();
  }
}

/**
 * `npm run bench what-if`: 100 cutovers run to completion on the local dev server, then `cutover what-if --all`
 * with a tighter plan, as a process (connecting, listing, fetching every history and every monitor run's,
 * judging, printing). Goal: under 10 s.
 */
export async function benchWhatIf(): Promise<void> {
  const count = Number(process.env.BENCH_WHAT_IF_CUTOVERS ?? 100);
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const stack = await startStack();
  try {
    say(`starting ${count} cutovers…`);
    const cutovers = await startCutovers(stack, count);
    for (const c of cutovers) await waitForState(c.handle, ['awaiting-signoff']);
    say('signing off and waiting for completion…');
    await Promise.all(cutovers.map((c) => signOffAll(c.handle)));
    for (const c of cutovers) await waitForState(c.handle, ['completed']);
    // The same plan with the PAR30 tolerance at zero and a 1 ms rehearsal target: verdicts that change.
    const first = cutovers[0]?.plan as CutoverPlan;
    const tighter = {
      ...first,
      shadow: { ...first.shadow, tolerances: { PAR30: { relative: 0 } } },
      rollback: { ...first.rollback, target: '1ms' },
    };
    const planFile = path.join(WORK, 'tighter.json');
    writeFileSync(planFile, JSON.stringify(tighter));
    const walls: number[] = [];
    let output = '';
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      output = await new Promise<string>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [path.join(ROOT, 'dist', 'client', 'cli.js'), 'what-if', '--all', '--plan', planFile, '--json'],
          { env: { ...process.env, TEMPORAL_ADDRESS: stack.server.address }, stdio: ['ignore', 'pipe', 'inherit'] },
        );
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`what-if exited ${code}`))));
      });
      walls.push(performance.now() - started);
    }
    const results = JSON.parse(output) as { changes: unknown[] }[];
    const changed = results.filter((r) => r.changes.length > 0).length;
    const s = spread(walls);
    table(
      ['cutovers', 'runs', 'wall time p50', 'max', 'cutovers with changes'],
      [[results.length, runs, `${(s.p50 / 1000).toFixed(2)} s`, `${(s.max / 1000).toFixed(2)} s`, changed]],
    );
    await save('what-if', { cutovers: results.length, wallMs: s, changed });
  } finally {
    await stack.stop();
  }
}
