/**
 * A small typed client for cutovers: what the `cutover` CLI does, for scripts too.
 */
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { ed25519 } from '@noble/curves/ed25519';
import { readFile } from 'node:fs/promises';
import type { CutoverPlan } from '../plan/schema';
import { decodeBytes } from '../plan/keys';
import { cutoverWorkflow, referencesWorkflow } from '../workflows';
import {
  markBadSignal,
  pinReferenceSignal,
  REFERENCES_WORKFLOW_ID,
  referencesQuery,
  type References,
} from '../shapes/references';
import { utf8 } from '../plan/canonical';
import { breakGlassMessage, type GlassTarget } from '../workflows/break-glass';
import { appRefusalMessage, attestationMessage, signOffMessage } from '../workflows/gate';
import {
  appRefusalSignal,
  phaseSearchAttribute,
  releaseSearchAttribute,
  requestRollbackSignal,
  stateSearchAttribute,
  monitorStatusQuery,
  statusQuery,
  submitBreakGlassUpdate,
  submitSignOffUpdate,
  workflowIdFor,
  type AppRefusal,
  type Attestation,
  type BreakGlass,
  type BreakGlassAnswer,
  type SignOff,
  type SignOffAnswer,
} from '../workflows/messages';
import { DEFAULT_TASK_QUEUE } from '../shapes/queues';
import { type CutoverStatus } from '../shapes/status';
import { PHASES } from '../shapes/phases';
import { codecFromEnv } from '../codec/aes-gcm';
import { isNotFound } from '../common/not-found';
import { decoder, EncryptedEvidence, recordedFromHistory, type Recorded } from '../verdicts/recorded';
import { temporalTarget } from '../common/temporal-env';
import { UserError } from './errors';

export { UserError };

export interface Cutovers {
  client: Client;
  connection: Connection;
  namespace: string;
  address: string;
  taskQueue: string;
  close(): Promise<void>;
}

/** Connects as the environment says (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS, profile). */
export async function connect(env: NodeJS.ProcessEnv = process.env): Promise<Cutovers> {
  const target = temporalTarget(env);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...target.connectionOptions, connectTimeout: '5s' } as Parameters<
      typeof Connection.connect
    >[0]);
  } catch (err) {
    throw new UserError(
      `cannot reach Temporal at ${target.address}: ${firstLine((err as Error).message)} (is the server running? npm run server)`,
    );
  }
  let codec;
  try {
    codec = codecFromEnv(env);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  const client = new Client({
    connection,
    namespace: target.namespace,
    ...(codec ? { dataConverter: { payloadCodecs: [codec] } } : {}),
  });
  return {
    client,
    connection,
    namespace: target.namespace,
    address: target.address,
    taskQueue: env.CUTOVER_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    close: () => connection.close(),
  };
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/** Starts a cutover; refuses a release that is already running. */
export async function startCutover(
  c: Cutovers,
  plan: CutoverPlan,
  options: { workflowId?: string } = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof cutoverWorkflow>> {
  const workflowId = options.workflowId ?? workflowIdFor(plan.release);
  try {
    return await c.client.workflow.start(cutoverWorkflow, {
      taskQueue: c.taskQueue,
      workflowId,
      args: [plan],
      typedSearchAttributes: [
        { key: releaseSearchAttribute, value: plan.release },
        { key: phaseSearchAttribute, value: PHASES[0] },
        { key: stateSearchAttribute, value: 'running' },
      ],
      staticSummary: `Cutover of ${plan.release}${plan.initiator ? ` started by ${plan.initiator}` : ''}`,
      staticDetails: plan.description ?? `Cutover of ${plan.release}: ${PHASES.join(' → ')}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new UserError(
        `a cutover with id ${workflowId} is already running; watch it with: cutover status ${workflowId} --watch`,
      );
    }
    throw err;
  }
}

/** The handle of an existing cutover; an unknown id is a UserError. */
export async function cutover(c: Cutovers, workflowId: string): Promise<WorkflowHandle<typeof cutoverWorkflow>> {
  const handle = c.client.workflow.getHandle<typeof cutoverWorkflow>(workflowId);
  try {
    await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new UserError(`no cutover with id ${workflowId} in namespace ${c.namespace}`);
    throw err;
  }
  return handle;
}

/**
 * The cutover's status. While it monitors, a probe waiting for a production worker is the monitoring child's
 * to know: its wait is shown as the cutover's.
 */
export async function status(c: Cutovers, workflowId: string): Promise<CutoverStatus> {
  const s = await (await cutover(c, workflowId)).query(statusQuery);
  if (s.state === 'monitoring' && s.monitor && !s.monitor.outcome && !s.waitingForWorker) {
    const child = await c.client.workflow
      .getHandle(s.monitor.childWorkflowId)
      .query(monitorStatusQuery)
      .catch(() => undefined);
    if (child?.waitingForWorker) s.waitingForWorker = child.waitingForWorker;
  }
  return s;
}

/** How the workers' plan check answered a new cutover: passed, refused with its reason, or not yet. */
export type PlanCheck = { outcome: 'passed' } | { outcome: 'refused'; message: string } | { outcome: 'pending' };

/**
 * Waits for the plan check of a cutover just started (its first activity) by reading its history, which
 * needs no worker: passed when the check completed, refused when the cutover failed first (a plan the
 * workers' policy refuses, or one a start from elsewhere got wrong), pending after `timeoutMs` (no worker
 * has taken it yet). Reads only; polls history because there is nothing to wait on from outside.
 */
export async function awaitPlanCheck(c: Cutovers, workflowId: string, timeoutMs = 15_000): Promise<PlanCheck> {
  const handle = c.client.workflow.getHandle(workflowId);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const event of (await handle.fetchHistory()).events ?? []) {
      if (event.activityTaskCompletedEventAttributes) return { outcome: 'passed' };
      const failed = event.workflowExecutionFailedEventAttributes?.failure;
      if (failed) return { outcome: 'refused', message: failed.message ?? 'failed' };
    }
    if (Date.now() >= deadline) return { outcome: 'pending' };
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

/** Reads an ed25519 private key (32 bytes, hex or base64) from a file. */
export async function readPrivateKey(file: string): Promise<Uint8Array> {
  let text: string;
  try {
    text = (await readFile(file, 'utf8')).trim();
  } catch {
    throw new UserError(`cannot read key file ${file}`);
  }
  const key = decodeBytes(text, 32);
  if (!key) throw new UserError(`${file}: expected an ed25519 private key (32 bytes, hex or base64)`);
  return key;
}

/** Signs a sign-off the way the gate verifies it. */
export function signSignOff(
  privateKey: Uint8Array,
  workflowId: string,
  signOff: Pick<SignOff, 'role' | 'approver' | 'decision'>,
  digest: string,
): string {
  return Buffer.from(ed25519.sign(utf8(signOffMessage(workflowId, signOff, digest)), privateKey)).toString('hex');
}

/** An attester: the key id the workers pin and its ed25519 private key. */
export interface Attester {
  keyId: string;
  privateKey: Uint8Array;
}

/** The login an attestation vouches for: its issuer and subject, at `issuedAt` (@default now). */
export interface AttestedLogin {
  issuer: string;
  subject: string;
  issuedAt?: Date;
}

/** The fields an attestation signs besides its message: the key, the login's issuer and subject, the time. */
function attestationFields(attester: Attester, login: AttestedLogin) {
  return {
    keyId: attester.keyId,
    issuer: login.issuer,
    subject: login.subject,
    issuedAt: (login.issuedAt ?? new Date()).toISOString(),
  };
}

/**
 * An attester's word on a sign-off (the approval app's, after its login): its signature over the sign-off's
 * meaning and the login's issuer and subject, at `issuedAt`, the way the gate verifies it.
 */
export function attestSignOff(
  attester: Attester,
  { workflowId, digest }: { workflowId: string; digest: string },
  signOff: Pick<SignOff, 'role' | 'approver' | 'decision'>,
  login: AttestedLogin,
): Attestation {
  const fields = attestationFields(attester, login);
  const message = attestationMessage(signOffMessage(workflowId, signOff, digest), fields);
  return { ...fields, signature: Buffer.from(ed25519.sign(utf8(message), attester.privateKey)).toString('hex') };
}

/** Signs a break-glass sign-off the way the cutover verifies it (workflows/break-glass.ts). */
export function signBreakGlass(
  privateKey: Uint8Array,
  target: GlassTarget,
  request: Pick<BreakGlass, 'role' | 'approver' | 'reason'>,
): string {
  const message = breakGlassMessage(target, request);
  return Buffer.from(ed25519.sign(utf8(message), privateKey)).toString('hex');
}

/** An attester's word on a break-glass sign-off, after its login, the way the cutover verifies it. */
export function attestBreakGlass(
  attester: Attester,
  target: GlassTarget,
  request: Pick<BreakGlass, 'role' | 'approver' | 'reason'>,
  login: AttestedLogin,
): Attestation {
  const fields = attestationFields(attester, login);
  const message = attestationMessage(breakGlassMessage(target, request), fields);
  return { ...fields, signature: Buffer.from(ed25519.sign(utf8(message), attester.privateKey)).toString('hex') };
}

/**
 * Sends a break-glass sign-off through the `submitBreakGlass` update for the change waiting now, signed when a key
 * is given (or attested, as the approval app does). The answer says whether it counted and whether the glass broke.
 */
export async function submitBreakGlass(
  c: Cutovers,
  workflowId: string,
  request: Pick<BreakGlass, 'role' | 'approver' | 'reason'>,
  options: {
    privateKey?: Uint8Array;
    attest?: (target: GlassTarget) => Attestation;
  } = {},
): Promise<BreakGlassAnswer> {
  const handle = await cutover(c, workflowId);
  const s = await handle.query(statusQuery);
  const target = { workflowId, change: s.waitingForWindow?.change ?? '', digest: s.evidenceDigest ?? '' };
  const payload: BreakGlass = { ...request };
  if (s.evidenceDigest) payload.evidenceDigest = s.evidenceDigest;
  if (options.privateKey) payload.signature = signBreakGlass(options.privateKey, target, request);
  if (options.attest) payload.attestation = options.attest(target);
  try {
    return await handle.executeUpdate(submitBreakGlassUpdate, { args: [payload] });
  } catch (err) {
    const cause = (err as { cause?: Error }).cause;
    throw new UserError(`break-glass refused: ${firstLine(cause?.message ?? (err as Error).message)}`);
  }
}

/**
 * Reports to a cutover a sign-off the approval app refused before relaying it, attested with the app's key, so
 * that the cutover's audit holds the attempt (the workers keep it only if they trust the key).
 */
export async function reportAppRefusal(
  c: Cutovers,
  { attester, login }: { attester: Attester; login: AttestedLogin },
  workflowId: string,
  refusal: Omit<AppRefusal, 'attestation'>,
): Promise<void> {
  const fields = attestationFields(attester, login);
  const message = appRefusalMessage(workflowId, refusal, fields);
  const signature = Buffer.from(ed25519.sign(utf8(message), attester.privateKey)).toString('hex');
  await c.client.workflow
    .getHandle(workflowId)
    .signal(appRefusalSignal, { ...refusal, attestation: { ...fields, signature } });
}

/**
 * Sends a sign-off through the `submitSignOff` update against the evidence the approver sees now, signed
 * when a key is given. The answer says whether it counted and, if not, which rule refused it.
 */
export async function submitSignOff(
  c: Cutovers,
  workflowId: string,
  signOff: Omit<SignOff, 'evidenceDigest' | 'signature'>,
  options: { privateKey?: Uint8Array; evidenceDigest?: string } = {},
): Promise<SignOffAnswer> {
  const handle = await cutover(c, workflowId);
  const digest = options.evidenceDigest ?? (await handle.query(statusQuery)).evidenceDigest;
  const payload: SignOff = { ...signOff };
  if (digest) payload.evidenceDigest = digest;
  if (options.privateKey) {
    if (!digest) throw new UserError('the cutover has no evidence yet: nothing to sign');
    payload.signature = signSignOff(options.privateKey, workflowId, signOff, digest);
  }
  try {
    return await handle.executeUpdate(submitSignOffUpdate, { args: [payload] });
  } catch (err) {
    const cause = (err as { cause?: Error }).cause;
    throw new UserError(`sign-off refused: ${firstLine(cause?.message ?? (err as Error).message)}`);
  }
}

export async function requestRollback(
  c: Cutovers,
  workflowId: string,
  requestedBy: string,
  reason: string,
): Promise<void> {
  await (await cutover(c, workflowId)).signal(requestRollbackSignal, { requestedBy, reason });
}

export async function cancel(c: Cutovers, workflowId: string): Promise<void> {
  await (await cutover(c, workflowId)).cancel();
}

export interface ListedCutover {
  workflowId: string;
  release?: string;
  phase?: string;
  state?: string;
  status: string;
  startTime: string;
}

/** Cutovers found by their search attributes. */
export async function list(c: Cutovers, filter: { state?: string; release?: string } = {}): Promise<ListedCutover[]> {
  const clauses = [`WorkflowType = 'cutoverWorkflow'`];
  if (filter.state) clauses.push(`CutoverState = '${filter.state.replace(/'/g, '')}'`);
  if (filter.release) clauses.push(`CutoverRelease = '${filter.release.replace(/'/g, '')}'`);
  const out: ListedCutover[] = [];
  for await (const wf of c.client.workflow.list({ query: clauses.join(' AND ') })) {
    const get = (key: typeof releaseSearchAttribute) => wf.typedSearchAttributes.get(key);
    const entry: ListedCutover = {
      workflowId: wf.workflowId,
      status: wf.status.name,
      startTime: wf.startTime.toISOString(),
    };
    const release = get(releaseSearchAttribute);
    const phase = get(phaseSearchAttribute);
    const state = get(stateSearchAttribute);
    if (release) entry.release = release;
    if (phase) entry.phase = phase;
    if (state) entry.state = state;
    out.push(entry);
    if (out.length >= 1000) break;
  }
  return out;
}

/**
 * The recorded evidence of a cutover (finished or running): its history, and its monitor's (every run of the
 * monitor, which continues as new). Reads only. An unknown id is a UserError.
 */
export async function recordedEvidence(c: Cutovers, workflowId: string): Promise<Recorded> {
  const codec = codecFromEnv();
  const decode = decoder(codec ? (payloads) => codec.decode(payloads) : undefined);
  let history;
  try {
    history = await c.client.workflow.getHandle(workflowId).fetchHistory();
  } catch (err) {
    if (isNotFound(err)) throw new UserError(`no cutover with id ${workflowId} in namespace ${c.namespace}`);
    throw err;
  }
  let recorded: Recorded;
  try {
    recorded = await recordedFromHistory(workflowId, history, decode);
    for (const monitor of recorded.monitors) {
      const runs: string[] = [];
      for await (const wf of c.client.workflow.list({ query: `WorkflowId = '${monitor.replace(/'/g, '')}'` }))
        runs.push(wf.runId);
      // Oldest run first: the probes in the order they were taken.
      for (const runId of runs.reverse()) {
        const child = await c.client.workflow.getHandle(monitor, runId).fetchHistory();
        const { phases } = await recordedFromHistory(monitor, child, decode);
        (recorded.phases.monitoring ??= []).push(...(phases.monitoring ?? []));
      }
    }
  } catch (err) {
    if (err instanceof EncryptedEvidence) throw new UserError(`${workflowId}: ${err.message}`);
    throw err;
  }
  return recorded;
}

/** Workflow ids of the cutovers a visibility query finds (`CutoverState = "completed"`). */
export async function cutoversMatching(c: Cutovers, query: string | undefined): Promise<string[]> {
  const clauses = [`WorkflowType = 'cutoverWorkflow'`, ...(query ? [`(${query})`] : [])];
  const ids: string[] = [];
  try {
    for await (const wf of c.client.workflow.list({ query: clauses.join(' AND ') })) {
      if (!ids.includes(wf.workflowId)) ids.push(wf.workflowId);
      if (ids.length >= 10_000) break;
    }
  } catch (err) {
    throw new UserError(`--query ${JSON.stringify(query)}: ${firstLine((err as Error).message)}`);
  }
  return ids;
}

/** The reference registry's workflow, started by its first signal (signal-with-start) on the cutover queue. */
async function signalReferences(
  c: Cutovers,
  message:
    | { signal: typeof pinReferenceSignal; args: [{ pipeline: string; workflowId: string; by: string }] }
    | { signal: typeof markBadSignal; args: [{ workflowId: string; reason: string; by: string }] },
): Promise<void> {
  const options = {
    workflowId: REFERENCES_WORKFLOW_ID,
    taskQueue: c.taskQueue,
    args: [{ pinned: {}, bad: {} }] as [References],
  };
  if (message.signal === pinReferenceSignal)
    await c.client.workflow.signalWithStart(referencesWorkflow, {
      ...options,
      signal: pinReferenceSignal,
      signalArgs: message.args as [{ pipeline: string; workflowId: string; by: string }],
    });
  else
    await c.client.workflow.signalWithStart(referencesWorkflow, {
      ...options,
      signal: markBadSignal,
      signalArgs: message.args as [{ workflowId: string; reason: string; by: string }],
    });
}

/** Pins `workflowId` as the reference of `pipeline`. The run must exist: a typo pins nothing. */
export async function pinReference(c: Cutovers, pipeline: string, workflowId: string, by: string): Promise<void> {
  await cutover(c, workflowId);
  await signalReferences(c, { signal: pinReferenceSignal, args: [{ pipeline, workflowId, by }] });
}

/** Marks `workflowId` as bad: never used as a reference. */
export async function markBad(c: Cutovers, workflowId: string, reason: string, by: string): Promise<void> {
  await cutover(c, workflowId);
  await signalReferences(c, { signal: markBadSignal, args: [{ workflowId, reason, by }] });
}

/** What the registry holds (nothing, before its first signal). */
export async function references(c: Cutovers): Promise<References> {
  try {
    return await c.client.workflow.getHandle(REFERENCES_WORKFLOW_ID).query(referencesQuery);
  } catch (err) {
    if (isNotFound(err)) return { pinned: {}, bad: {} };
    throw err;
  }
}
