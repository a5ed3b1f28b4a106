/**
 * Running cutovers in tests: a worker on the given environment, a ledger of side effects, status polling.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import { createActivities, type Activities, type AttestationSettings } from '../../activities';
import { createMetrics } from '../../worker/prometheus';
import { environmentQueues, type EnvironmentQueues } from '../../plan/environments';
import type { ResolvedPolicy } from '../../policy/schema';
import type { SealKeys } from '../../activities/seal';
import { ed25519 } from '@noble/curves/ed25519';
import type { CutoverPlan } from '../../plan/schema';
import type { cutoverWorkflow } from '../../workflows';
import { statusQuery, submitSignOffUpdate } from '../../workflows/messages';
import { isFinal, type CutoverStatus } from '../../shapes/status';
import { nodeRun } from './plans';
import { pollUntil } from './poll';
import { createTimeSkippingEnv, workflowBundle } from './temporal';
import { stopChild } from '../../toolchain/processes';

let runtimeInstalled = false;
/** Keeps the SDK's own logs to warnings and errors in test output. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

/** A fresh folder for a test. */
export function tempDir(prefix = 'cutover-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Side effects of the actions in a test, in the order they ran. */
export class Ledger {
  readonly file: string;
  constructor(dir = tempDir('ledger-')) {
    this.file = path.join(dir, 'ledger.txt');
  }
  /** An action that records `name` (and its idempotency key), then exits with `exitCode`. */
  action(name: string, options: { exitCode?: number; out?: string } = {}) {
    const script = [
      "const fs = require('fs');",
      `fs.appendFileSync(process.env.LEDGER, ${JSON.stringify(name)} + ' ' + process.env.CUTOVER_IDEMPOTENCY_KEY + '\\n');`,
      options.out !== undefined ? `process.stdout.write(${JSON.stringify(options.out)});` : '',
      options.exitCode ? `process.stderr.write('failing on purpose\\n'); process.exit(${options.exitCode});` : '',
    ].join(' ');
    return { name, run: nodeRun(script), env: { LEDGER: this.file } };
  }
  entries(): string[] {
    if (!existsSync(this.file)) return [];
    return readFileSync(this.file, 'utf8').split('\n').filter(Boolean);
  }
  names(): string[] {
    return this.entries().map((line) => line.split(' ')[0] as string);
  }
}

let counter = 0;
/** A workflow id no other test uses. */
export function uniqueId(prefix = 'cutover-test'): string {
  counter++;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

export interface WorkerOptions {
  activities?: Partial<Activities>;
  dataDir?: string;
  taskQueue?: string;
  /** The organisation policy the worker holds (as CUTOVER_POLICY gives it). */
  policy?: ResolvedPolicy;
  /** Where the approval app is (CUTOVER_APPROVAL_URL): notifications link there. */
  approvalUrl?: string;
  /** The trusted attesters (CUTOVER_ATTESTER_KEYS, CUTOVER_REQUIRE_ATTESTED, CUTOVER_ATTESTATION_MAX_AGE). */
  attestation?: AttestationSettings;
  /** The environments' queues the plan check holds plans to. @default `<taskQueue>-<name>` */
  queues?: EnvironmentQueues;
  /** 0: no workflow cache, so no sticky queue (a test that replaces workers mid-cutover). */
  maxCachedWorkflows?: number;
  /** The workers' seal keys. @default with a policy, the suite's own key (a worker holding one must seal) */
  seals?: SealKeys;
  /** The databases outputs may name (CUTOVER_DATABASE_<NAME>): read when a diff runs, so filled in by then will do. */
  databases?: Record<string, string>;
}

/** One workers' key for the suite's in-process workers: a worker that holds a policy seals what it checks. */
export const TEST_SEAL_KEYS: SealKeys = (() => {
  const privateKey = ed25519.utils.randomPrivateKey();
  return {
    signer: { keyId: 'test-workers', privateKey },
    trusted: { 'test-workers': ed25519.getPublicKey(privateKey) },
  };
})();

/** A worker on `env` with the real activities (any replaced by `options.activities`). */
export async function makeWorker(
  env: Pick<TestWorkflowEnvironment, 'nativeConnection' | 'namespace'>,
  options: WorkerOptions = {},
): Promise<{ worker: Worker; taskQueue: string }> {
  const taskQueue = options.taskQueue ?? uniqueId('tq');
  const dataDir = options.dataDir ?? tempDir('data-');
  mkdirSync(dataDir, { recursive: true });
  const seals = options.seals ?? (options.policy ? TEST_SEAL_KEYS : undefined);
  const policy = { ...(options.policy ? { policy: options.policy } : {}), ...(seals ? { seals } : {}) };
  const queues = options.queues ?? environmentQueues(taskQueue);
  const approvalUrl = {
    ...(options.approvalUrl ? { approvalUrl: options.approvalUrl } : {}),
    ...(options.attestation ? { attestation: options.attestation } : {}),
  };
  const activities = {
    ...createActivities({
      dataDir,
      queues,
      ...policy,
      ...approvalUrl,
      ...(options.databases ? { databases: options.databases } : {}),
    }),
    ...(options.activities ?? {}),
  };
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
    sinks: createMetrics().sinks,
    maxHeartbeatThrottleInterval: '2s',
    ...(options.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: options.maxCachedWorkflows } : {}),
  });
  return { worker, taskQueue };
}

/** Polls the status query until `predicate` holds; fails at once if the cutover ends first. */
export async function waitForStatus(
  handle: WorkflowHandle<typeof cutoverWorkflow>,
  predicate: (status: CutoverStatus) => boolean,
  timeoutMs = 60_000,
): Promise<CutoverStatus> {
  return pollUntil(() => handle.query(statusQuery), predicate, {
    what: 'the awaited status',
    timeoutMs,
    everyMs: 100,
    // Not started yet.
    retryErrors: true,
    hopeless: (s) =>
      isFinal(s.state) ? `the cutover ended ${s.state} (${s.error?.message ?? 'no error'})` : undefined,
    show: (s) => `${s.phase}/${s.state}`,
  });
}

/**
 * Saves the history of a finished run as a replay fixture: `RECORD_HISTORIES=1` as `<name>.json`, and
 * `RECORD_HISTORIES=<tag>` as `<name>.<tag>.json` (a new generation of fixtures beside the older ones, after a
 * change behind `patched()`).
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  const tag = process.env.RECORD_HISTORIES;
  if (!tag) return;
  const file = tag === '1' ? `${name}.json` : `${name}.${tag}.json`;
  const dir = path.join(__dirname, '..', 'workflows', 'replay', 'histories');
  // A fixture keeps the history of the code that recorded it: that is what later code must replay.
  if (existsSync(path.join(dir, file))) return;
  const history = await handle.fetchHistory();
  mkdirSync(dir, { recursive: true });
  // The workflow id travels with the history: replay needs it (child workflow ids derive from it).
  writeFileSync(
    path.join(dir, file),
    JSON.stringify({ workflowId: handle.workflowId, history: JSON.parse(historyToJSON(history)) as unknown }),
  );
}

export type { CutoverPlan };

/** Stops a process a test started: SIGTERM, then waits for it to exit (SIGKILL after 30 s; at once if it has). */
export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (child) await stopChild(child, 30_000);
}

/** The example's approvers, one per role, as `[role, approver]` pairs. */
export const APPROVERS = {
  engineering: 'ana',
  qa: 'bo',
  architecture: 'cy',
  operations: 'di',
  business: 'ed',
} as const;

/** Every role approves through the update, as five approvers would; each sign-off must be accepted. */
export async function approveAll(handle: WorkflowHandle<typeof cutoverWorkflow>): Promise<void> {
  for (const [role, approver] of Object.entries(APPROVERS)) {
    const answer = await handle.executeUpdate(submitSignOffUpdate, { args: [{ role, approver, decision: 'approve' }] });
    expect(answer).toMatchObject({ accepted: true });
  }
}

/**
 * A real time-skipping server for a test file: started before its tests, torn down after (`beforeTeardown`
 * first: jest runs afterAll hooks in the order they were declared, so what uses the server stops in this one).
 * Read `.env` inside tests (it is set once `beforeAll` has run).
 */
export function timeSkippingServer(beforeTeardown?: () => Promise<void>): { readonly env: TestWorkflowEnvironment } {
  const ctx = {} as { env: TestWorkflowEnvironment };
  beforeAll(async () => {
    quietRuntime();
    ctx.env = await createTimeSkippingEnv();
  }, 120_000);
  afterAll(async () => {
    await beforeTeardown?.();
    await ctx.env?.teardown();
  });
  return ctx;
}

/**
 * A real time-skipping server and a worker on it for a test file: started before its tests, stopped after.
 * The fields are set once `beforeAll` has run.
 */
export function timeSkippingWorker(options: WorkerOptions = {}): {
  readonly env: TestWorkflowEnvironment;
  worker: Worker;
  taskQueue: string;
} {
  const server = timeSkippingServer(async () => {
    if (!ctx.worker) return;
    ctx.worker.shutdown();
    await new Promise<void>((resolve) => {
      const check = () => (ctx.worker.getState() === 'STOPPED' ? resolve() : setTimeout(check, 50));
      check();
    });
  });
  const ctx = {
    get env() {
      return server.env;
    },
  } as { readonly env: TestWorkflowEnvironment; worker: Worker; taskQueue: string };
  beforeAll(async () => {
    ({ worker: ctx.worker, taskQueue: ctx.taskQueue } = await makeWorker(server.env, options));
    void ctx.worker.run();
  }, 120_000);
  return ctx;
}

/**
 * How a workflow ended that must have failed, held to the whole chain: WorkflowFailedError whose cause is an
 * ApplicationFailure of `type` (a failure of another kind fails the test here, naming what it was).
 */
export async function failureOf(handle: WorkflowHandle, type: string): Promise<ApplicationFailure> {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect((cause as ApplicationFailure).type).toBe(type);
  return cause as ApplicationFailure;
}

/**
 * Terminates a workflow a test is done with, once none of its workflow tasks or activities is in flight: the
 * time-skipping server keeps the time-skipping lock of a task in flight at termination (temporalio/sdk-java#1138),
 * after which every later timer on that server waits in real time (a routed cutover's 2-minute monitoring window
 * then took 2 real minutes, and its test timed out beside two spinning shells).
 */
export async function endQuietly(handle: WorkflowHandle): Promise<void> {
  const taskEvent = /^workflowTask(Scheduled|Started|Completed|Failed|TimedOut)EventAttributes$/;
  await pollUntil(
    async () => {
      const [history, description] = await Promise.all([handle.fetchHistory(), handle.describe()]);
      const lastTask = [...(history.events ?? [])]
        .reverse()
        .flatMap((e) => Object.keys(e).filter((k) => taskEvent.test(k) && e[k as keyof typeof e]))[0];
      const activities = description.raw.pendingActivities?.length ?? 0;
      return { lastTask, activities, running: description.status.name === 'RUNNING' };
    },
    ({ lastTask, activities, running }) =>
      !running || (lastTask !== undefined && !/Scheduled|Started/.test(lastTask) && activities === 0),
    { what: 'no workflow task or activity in flight', timeoutMs: 30_000, everyMs: 50 },
  ).then(async ({ running }) => {
    // Time skipped while the test awaited another workflow may have ended it already (a gate's deadline).
    if (running) await handle.terminate('the test is done with it');
  });
}

/** The activity types a workflow scheduled, in order, from its history. */
export async function scheduledActivities(handle: WorkflowHandle): Promise<string[]> {
  return ((await handle.fetchHistory()).events ?? []).flatMap((e) =>
    e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name ?? ''] : [],
  );
}

/** The plan the workers' plan check returned to a cutover (its seal included), read from its history as anyone may. */
export async function checkedPlan(handle: WorkflowHandle): Promise<CutoverPlan> {
  const events = (await handle.fetchHistory()).events ?? [];
  const completed = events.find((e) => e.activityTaskCompletedEventAttributes)?.activityTaskCompletedEventAttributes;
  const payload = completed?.result?.payloads?.[0];
  if (!payload) throw new Error('no plan check result in the history');
  return defaultPayloadConverter.fromPayload<CutoverPlan>(payload);
}
