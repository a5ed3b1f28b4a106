/**
 * The action runner: runs `{ run: argv }` as a process (no shell) or `{ http: url }` as one request.
 *
 * - Output is captured with a bound: the tail is kept and the number of bytes cut is reported.
 * - A timeout or cancellation kills the whole process group: SIGTERM, then SIGKILL after a grace period.
 * - Every action gets CUTOVER_IDEMPOTENCY_KEY, stable across retries of the same step.
 * - Exit code 75 (EX_TEMPFAIL), death by a signal, a timeout, a 5xx or a refused connection are retryable;
 *   any other failure is not.
 */
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { FailureType } from '../plan/failures';
import { expand, type Placeholders } from '../plan/placeholders';
import { actionTimeoutMs } from '../plan/helpers';
import type { Action, HttpAction, RunAction } from '../plan/schema';
import { ActionError } from './errors';
import { killGroup, launch, LAUNCHER_STOPPED, LaunchError, type LaunchEnd } from './launcher';
import { Tail } from './tail.cjs';
import type { PeakMemory } from './memory';

/** Exit code a script uses to say "try me again" (sysexits EX_TEMPFAIL). */
export const EXIT_TEMPFAIL = 75;
/** Output kept per stream, in bytes. @default 64 KiB */
export const DEFAULT_OUTPUT_LIMIT = 64 * 1024;
/** Time between SIGTERM and SIGKILL. @default 5 s */
export const DEFAULT_KILL_GRACE_MS = 5000;

/**
 * Worker variables never passed to a user's action: credentials for Temporal, the payload codec and the databases the
 * diffs read (a pipeline that writes to one has a login of its own).
 */
const SECRET_ENV =
  /^(TEMPORAL_API_KEY|TEMPORAL_TLS_.*|CUTOVER_CODEC_.*|CUTOVER_ENCRYPTION_.*|CUTOVER_DATABASE_.*)$|(SECRET|PASSWORD|TOKEN)/i;

export interface RunOptions {
  action: Action;
  /** `CUTOVER_IDEMPOTENCY_KEY` for the action. */
  idempotencyKey: string;
  /** Folder relative paths resolve against. @default the worker's cwd */
  baseDir?: string;
  placeholders?: Placeholders;
  /** Bytes kept per stream. @default DEFAULT_OUTPUT_LIMIT */
  outputLimit?: number;
  /** @default DEFAULT_KILL_GRACE_MS */
  killGraceMs?: number;
  /** Aborting kills the action (the activity's cancellation signal). */
  signal?: AbortSignal;
  /** Called about every `tickMs` while the action runs (the activity heartbeats here). */
  onTick?: () => void;
  /** @default 5000 */
  tickMs?: number;
  /**
   * On the path from an approval to production (the steps: deploys, undos; the reference probe before the
   * deploy): run at the worker's own priority, not lowered by CUTOVER_ACTION_NICE.
   */
  urgent?: boolean;
  /** Called once the process exists, with its pid. */
  onSpawn?: (pid: number) => void;
  /** Samples the process's peak memory from the moment it exists (stress). */
  memory?: PeakMemory;
  /**
   * The workers' policy, asked about the action as it is after placeholders expand, and their seal, about the
   * action as the plan wrote it. @default none
   */
  guard?: ActionGuard;
  /** The plan's action, where `action` is what the runner makes of it (a notification's body). @default action */
  sealedAs?: Action;
  /** Variables cutover itself gives the process (not the plan's: the policy's env list does not bind them). */
  cutoverEnv?: Readonly<Record<string, string>>;
}

/**
 * Says why an action may not run, or nothing when it may: the workers' policy and seal, asked by the runner
 * before it starts anything (activities/policy-guard.ts makes one per cutover).
 */
export interface ActionGuard {
  /** Whether the workers' plan check sealed the action as the plan wrote it (before placeholders expand). */
  sealed(action: Action): Promise<string | undefined>;
  run(argv: readonly string[], cwd: string, envKeys: readonly string[]): string | undefined;
  http(url: string): string | undefined;
}

export interface RunOutcome {
  kind: 'run' | 'http';
  durationMs: number;
  exitCode?: number;
  status?: number;
  stdout: string;
  stderr: string;
  /** Bytes dropped from the start of each stream to keep within the bound. */
  stdoutCut: number;
  stderrCut: number;
  /** Processes the step started were still running when it ended: they were killed with its group. */
  strayKilled?: true;
}

/**
 * How much lower than the worker's every action's process (and what it starts) runs, but the urgent ones, in
 * nice steps: 0 leaves them at the worker's priority. The worker sets it from CUTOVER_ACTION_NICE (default 0:
 * measured, lowering them did not speed up a busy machine's sign-off reaction; bench/README.md).
 */
let actionNice = 0;

export function setActionNice(nice: number): void {
  actionNice = nice;
}

/** Runs an action; resolves on success, throws `ActionError` on failure. */
export async function runAction(options: RunOptions): Promise<RunOutcome> {
  const unsealed = await options.guard?.sealed(options.sealedAs ?? options.action);
  if (unsealed !== undefined) {
    const { action } = options;
    const label = action.name ?? ('run' in action ? path.basename(action.run[0] ?? 'action') : action.http);
    throw new ActionError(
      `${label}: refused by the workers' seal: ${unsealed}; nothing was run`,
      FailureType.PolicyViolation,
      false,
      'run' in action ? { command: action.run[0] } : { url: action.http },
    );
  }
  return 'run' in options.action ? runProcess(options.action, options) : runHttp(options.action, options);
}

/**
 * The environment of a child: the worker's, less its secrets, plus the action's, the idempotency key and the
 * task queue the activity came from (`CUTOVER_ACTIVITY_QUEUE`: which environment's worker runs it).
 */
export function childEnv(
  action: RunAction,
  key: string,
  placeholders: Placeholders,
  cutoverEnv: Readonly<Record<string, string>> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!SECRET_ENV.test(name)) env[name] = value;
  }
  for (const [name, value] of Object.entries(action.env ?? {})) env[name] = expand(value, placeholders);
  Object.assign(env, cutoverEnv);
  env.CUTOVER_IDEMPOTENCY_KEY = key;
  if (placeholders.release !== undefined) env.CUTOVER_RELEASE = String(placeholders.release);
  const queue = activityQueue();
  if (queue !== undefined) env.CUTOVER_ACTIVITY_QUEUE = queue;
  else delete env.CUTOVER_ACTIVITY_QUEUE;
  return env;
}

/** Whether any process of `group` still exists. */
function groupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
    return true;
  } catch {
    return false;
  }
}

/** The activity's logger, when the action runs inside an activity (not in a unit test's direct call). */
function activityLog(): Context['log'] | undefined {
  try {
    return Context.current().log;
  } catch {
    return undefined;
  }
}

/** The task queue of the activity running this action, if it runs in one (not in a unit test's direct call). */
function activityQueue(): string | undefined {
  try {
    return Context.current().info.taskQueue;
  } catch {
    return undefined;
  }
}

function runProcess(action: RunAction, options: RunOptions): Promise<RunOutcome> {
  const placeholders = options.placeholders ?? {};
  const [command, ...args] = action.run.map((arg) => expand(arg, placeholders)) as [string, ...string[]];
  const baseDir = options.baseDir ?? process.cwd();
  const cwd = action.cwd ? path.resolve(baseDir, expand(action.cwd, placeholders)) : baseDir;
  const timeoutMs = actionTimeoutMs(action);
  const graceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const label = action.name ?? path.basename(command);

  const refusal = options.guard?.run([command, ...args], cwd, Object.keys(action.env ?? {}));
  if (refusal !== undefined) return Promise.reject(policyRefusal(label, refusal, { command, cwd }));
  if (options.signal?.aborted) {
    return Promise.reject(new ActionError(`${label}: cancelled before it started`, FailureType.ActionTransient, true));
  }

  let pid: number | undefined;
  let ending: 'timeout' | 'cancelled' | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const terminate = (group: number): void => {
    killGroup(group, 'SIGTERM');
    killTimer = setTimeout(() => killGroup(group, 'SIGKILL'), graceMs);
  };
  const stop = (why: 'timeout' | 'cancelled'): void => {
    if (ending) return;
    ending = why;
    // Not started yet: the group is signalled as soon as its pid is known.
    if (pid !== undefined) terminate(pid);
  };
  const timeout = setTimeout(() => stop('timeout'), timeoutMs);
  const onAbort = (): void => stop('cancelled');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const ticker = options.onTick ? setInterval(options.onTick, options.tickMs ?? 5000) : undefined;
  const sampler = options.memory?.reserve();
  const onStarted = (started: number): void => {
    pid = started;
    if (ending) terminate(started);
    if (options.memory && !sampler) options.memory.watch(started);
    options.onSpawn?.(started);
  };
  const request = {
    command,
    args,
    cwd,
    env: childEnv(action, options.idempotencyKey, placeholders, options.cutoverEnv),
    outputLimit: options.outputLimit ?? DEFAULT_OUTPUT_LIMIT,
    // Relative to the worker's own (nice values stop at 19; `nice` clamps).
    nice: actionNice !== 0 && !options.urgent ? actionNice : null,
    ...(sampler ? { sampler } : {}),
    // Measured: the kernel's account of the whole tree as well (its largest process, its CPU time).
    ...(options.memory ? { rusage: true } : {}),
  };

  return launch(request, onStarted)
    .then(
      (end) => {
        options.memory?.account(end.usage);
        return outcomeOf(end, { label, command, cwd, timeoutMs, pid, ...(ending ? { ending } : {}) });
      },
      (err: unknown) => {
        throw startFailure(label, command, cwd, err);
      },
    )
    .finally(() => {
      clearTimeout(timeout);
      if (ticker) clearInterval(ticker);
      options.signal?.removeEventListener('abort', onAbort);
      // The leader is gone; make sure nothing it left in its group outlives it after a kill.
      if (ending && pid !== undefined) killGroup(pid, 'SIGKILL');
      if (killTimer) clearTimeout(killTimer);
    });
}

/**
 * A finished process's outcome: its output, or the failure it ended in (a timeout or cancellation as `ending`
 * says, a temporary failure by its exit code, a signal, an exit code); anything it left in its group is killed.
 */
function outcomeOf(
  end: LaunchEnd,
  run: { label: string; command: string; cwd: string; timeoutMs: number; pid: number | undefined; ending?: string },
): RunOutcome {
  const { label, command, cwd, timeoutMs, pid, ending } = run;
  const { code, signal } = end;
  // What a step starts is part of the step: nothing of it outlives it (a daemonised child would go on using
  // the machine, and its memory would escape the step's measurement).
  const strays = pid !== undefined && groupAlive(pid);
  if (strays) killGroup(pid as number, 'SIGKILL');
  const outcome: RunOutcome = {
    kind: 'run',
    durationMs: end.durationMs,
    stdout: end.stdout,
    stderr: end.stderr,
    stdoutCut: end.stdoutCut,
    stderrCut: end.stderrCut,
    ...(code !== null ? { exitCode: code } : {}),
    ...(strays ? { strayKilled: true as const } : {}),
  };
  if (strays) activityLog()?.warn('the step left processes running; killed with its group', { command, pid });
  const context = {
    command,
    cwd,
    exitCode: code,
    signal,
    stderrTail: tailLines(outcome.stderr, 5),
    durationMs: end.durationMs,
  };
  if (ending === 'timeout') {
    throw new ActionError(`${label}: timed out after ${timeoutMs} ms`, FailureType.ActionTransient, true, context);
  } else if (ending === 'cancelled') {
    throw new ActionError(`${label}: cancelled`, FailureType.ActionTransient, true, context);
  } else if (code === 0) {
    return outcome;
  } else if (code === EXIT_TEMPFAIL) {
    throw new ActionError(
      `${label}: temporary failure (exit ${code}): ${failureReason(outcome.stderr)}`,
      FailureType.ActionTransient,
      true,
      context,
    );
  } else if (signal) {
    throw new ActionError(`${label}: killed by ${signal}`, FailureType.ActionTransient, true, context);
  }
  throw new ActionError(
    `${label}: exit code ${code}: ${failureReason(outcome.stderr) || failureReason(outcome.stdout)}`,
    FailureType.ActionFailed,
    false,
    context,
  );
}

/** A process that never ran, or lost its launcher: a missing or forbidden program is final, the rest retryable. */
function startFailure(label: string, command: string, cwd: string, err: unknown): ActionError {
  const code = err instanceof LaunchError ? err.code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ENOENT') {
    return new ActionError(`${label}: program not found: ${command}`, FailureType.ActionFailed, false, {
      command,
      cwd,
    });
  }
  if (code === LAUNCHER_STOPPED) {
    return new ActionError(`${label}: ${message}`, FailureType.ActionTransient, true, { command, cwd });
  }
  if (code === 'EACCES') {
    return new ActionError(`${label}: permission denied: ${command}`, FailureType.ActionFailed, false, {
      command,
      cwd,
    });
  }
  return new ActionError(`${label}: could not start ${command}: ${message}`, FailureType.ActionTransient, true, {
    command,
    cwd,
  });
}

async function runHttp(action: HttpAction, options: RunOptions): Promise<RunOutcome> {
  const placeholders = options.placeholders ?? {};
  const url = expand(action.http, placeholders);
  const label = action.name ?? url;
  const refusal = options.guard?.http(url);
  if (refusal !== undefined) throw policyRefusal(label, refusal, { url });
  const timeoutMs = actionTimeoutMs(action);
  const signals = [AbortSignal.timeout(timeoutMs), ...(options.signal ? [options.signal] : [])];
  const started = process.hrtime.bigint();
  let response: Response;
  try {
    response = await fetch(url, {
      method: action.method ?? (action.body !== undefined ? 'POST' : 'GET'),
      headers: { 'idempotency-key': options.idempotencyKey, ...(action.headers ?? {}) },
      ...(action.body !== undefined ? { body: expand(action.body, placeholders) } : {}),
      signal: AbortSignal.any(signals),
      redirect: 'follow',
    });
  } catch (err) {
    const reason = (err as Error).name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : describeFetchError(err);
    throw new ActionError(`${label}: ${reason}`, FailureType.ActionTransient, true, { url });
  }
  const limit = options.outputLimit ?? DEFAULT_OUTPUT_LIMIT;
  const tail = new Tail(limit);
  if (response.body) {
    for await (const chunk of response.body) tail.push(Buffer.from(chunk as Uint8Array));
  }
  const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
  const outcome: RunOutcome = {
    kind: 'http',
    durationMs,
    status: response.status,
    stdout: tail.text(),
    stderr: '',
    stdoutCut: tail.cut,
    stderrCut: 0,
  };
  const expected = action.expectStatus;
  const ok = expected !== undefined ? response.status === expected : response.status >= 200 && response.status < 300;
  if (ok) return outcome;
  const context = { url, status: response.status, bodyTail: tailLines(outcome.stdout, 3) };
  const message = `${label}: HTTP ${response.status}${expected !== undefined ? ` (expected ${expected})` : ''}`;
  // A 5xx, 429 or 408 may pass on retry; another status is the answer.
  const retryable = response.status >= 500 || response.status === 429 || response.status === 408;
  throw new ActionError(
    message,
    retryable ? FailureType.ActionTransient : FailureType.ActionFailed,
    retryable,
    context,
  );
}

function describeFetchError(err: unknown): string {
  // undici wraps the socket error: the code may sit on the cause, or on the first of an AggregateError.
  const cause = (err as { cause?: { code?: string; message?: string; errors?: { code?: string; message?: string }[] } })
    .cause;
  const inner = cause?.code ? cause : cause?.errors?.[0];
  if (inner?.code) return `${inner.code} ${inner.message ?? ''}`.trim();
  return cause?.message ?? (err as Error).message;
}

/** An action the workers' policy does not allow: final (another attempt on this worker would be refused too). */
function policyRefusal(label: string, reason: string, context: Record<string, unknown>): ActionError {
  return new ActionError(
    `${label}: refused by the workers' policy: ${reason}`,
    FailureType.PolicyViolation,
    false,
    context,
  );
}

/** Lines that frame an error rather than say it: stack frames, carets, Node's banner, an error's fields. */
const FRAMING = [
  /^\s+at\s/, // a stack frame
  /^\s*\^+\s*$/, // the caret under a source line
  /^Node\.js v\d/, // Node's version banner, printed last on an uncaught error
  /^node:internal\//, // where Node threw from
  /^\s*throw\s/, // the source line of that throw
  /^\s*[{}[\]]\s*$/, // an error object's braces
  /^\s+[A-Za-z_$][\w$]*: .*,?$/, // an error object's fields (code: 'MODULE_NOT_FOUND',)
];

/** Words of a line that says what went wrong. */
const TELLING =
  /error|exception|cannot|can't|could not|not found|no such|denied|refused|failed|fatal|invalid|missing|traceback/i;

/**
 * What a failed process said went wrong, in one line: its telling lines (an `Error: …`, `ModuleNotFoundError: …`,
 * `permission denied`…), the last two of them, with stack frames and Node's closing version banner left out;
 * else its last line that is not framing. A missing module reads "Error: Cannot find module '…'", not the
 * "Node.js v20…" that Node prints last.
 */
export function failureReason(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '' && !FRAMING.some((pattern) => pattern.test(l)));
  const telling = lines.filter((l) => TELLING.test(l) && !/^traceback \(most recent call last\)/i.test(l.trim()));
  return (telling.length > 0 ? telling.slice(-2) : lines.slice(-1))
    .map((l) => l.trim())
    .join(' / ')
    .slice(0, 500);
}

/** The last `n` non-empty lines of `text`, joined with " / ". */
export function tailLines(text: string, n: number): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n)
    .join(' / ')
    .slice(0, 500);
}
