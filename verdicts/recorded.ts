/**
 * A cutover's recorded evidence, read back from its history: the plan it ran and each phase's evidence (its
 * activities' results, and the evidence a verdict failure carries). Pure: it reads a history it is given, so
 * `cutover what-if` and the reference comparison of the shadow and stress activities read the same way.
 */
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type {
  Metrics,
  ProbeInput,
  ProbeResult,
  ReconcileResult,
  RehearsalResult,
  ShadowResult,
  StressResult,
} from '../shapes/evidence';
import type { CutoverPlan } from '../plan/schema';

type History = temporal.api.history.v1.IHistory;
export type Decode = (payload: Payload) => Promise<unknown>;

/** What a cutover recorded: the plan it ran and the evidence of each phase that got that far. */
export interface Recorded {
  workflowId: string;
  plan?: CutoverPlan;
  shadow?: ShadowResult;
  stress?: StressResult;
  rehearsal?: RehearsalResult;
  reconciliation: ReconcileResult[];
  /** Monitoring probes in order, each with the reference and the failures in a row it was judged with. */
  probes: { result: ProbeResult; reference?: Metrics }[];
  /** The monitor child workflows whose histories hold the probes. */
  monitors: string[];
  /**
   * When production could first have been deployed (the approved gate: the first change-window answer's time, or
   * the deploy's where there was none), and when the deploy was scheduled; absent before production.
   */
  deploy?: { readyAt: string; deployedAt?: string };
}

/** Decodes a payload as the default converter does; an encrypted one needs the codec (see api.ts). */
export function decoder(decodeEncrypted?: (payloads: Payload[]) => Promise<Payload[]>): Decode {
  return async (payload) => {
    const encoding = new TextDecoder().decode(payload.metadata?.encoding ?? new Uint8Array());
    if (encoding === 'binary/encrypted') {
      if (!decodeEncrypted) throw new EncryptedEvidence();
      [payload] = (await decodeEncrypted([payload])) as [Payload];
    }
    return defaultPayloadConverter.fromPayload(payload);
  };
}

export class EncryptedEvidence extends Error {
  override readonly name = 'EncryptedEvidence';
  constructor() {
    super('its evidence is encrypted and no key is at hand (set CUTOVER_CODEC_KEY, as for the workers)');
  }
}

const first = async (decode: Decode, payloads: temporal.api.common.v1.IPayloads | null | undefined) =>
  payloads?.payloads?.[0] ? decode(payloads.payloads[0] as Payload) : undefined;

/** The evidence of a cutover's history (its activities' results, and the evidence their verdict failures carry). */
export async function recordedFromHistory(workflowId: string, history: History, decode: Decode): Promise<Recorded> {
  const recorded: Recorded = { workflowId, reconciliation: [], probes: [], monitors: [] };
  const scheduled = new Map<string, { type: string; input: unknown }>();
  for (const event of history.events ?? []) {
    const id = String(event.eventId);
    const started = event.workflowExecutionStartedEventAttributes;
    if (started && !recorded.plan) recorded.plan = (await first(decode, started.input)) as CutoverPlan;
    const child = event.startChildWorkflowExecutionInitiatedEventAttributes;
    if (child?.workflowId) recorded.monitors.push(child.workflowId);
    const s = event.activityTaskScheduledEventAttributes;
    if (s) {
      const type = s.activityType?.name ?? '';
      const input = await first(decode, s.input);
      scheduled.set(id, { type, input });
      const at = eventMs(event.eventTime);
      if (type === 'changeWindow' && !recorded.deploy && isObject(input, 'at'))
        recorded.deploy = { readyAt: new Date((input as { at: number }).at).toISOString() };
      if (type === 'deployProduction' && at !== undefined) {
        const deployedAt = new Date(at).toISOString();
        recorded.deploy = { readyAt: recorded.deploy?.readyAt ?? deployedAt, deployedAt };
      }
    }
    const done = event.activityTaskCompletedEventAttributes;
    const failed = event.activityTaskFailedEventAttributes;
    if (!done && !failed) continue;
    const of = scheduled.get(String((done ?? failed)?.scheduledEventId));
    if (!of) continue;
    const value = done
      ? await first(decode, done.result)
      : await first(decode, failed?.failure?.applicationFailureInfo?.details);
    if (value === undefined || value === null) continue;
    if (of.type === 'checkPlan' && done) recorded.plan = value as CutoverPlan;
    else if (of.type === 'runShadow' && isObject(value, 'datasets')) recorded.shadow = value as ShadowResult;
    else if (of.type === 'runStress' && isObject(value, 'sizes')) recorded.stress = value as StressResult;
    else if (of.type === 'rehearseRollback' && isObject(value, 'durationMs'))
      recorded.rehearsal = value as RehearsalResult;
    else if (of.type === 'reconcile' && isObject(value, 'comparisons'))
      recorded.reconciliation.push(value as ReconcileResult);
    else if (of.type === 'probe' && done) {
      const input = of.input as ProbeInput | undefined;
      recorded.probes.push({
        result: value as ProbeResult,
        ...(input?.reference ? { reference: input.reference } : {}),
      });
    }
  }
  return recorded;
}

/** An event's time in ms: its seconds come as a number or a Long, depending on how the history was read. */
function eventMs(time: temporal.api.history.v1.IHistoryEvent['eventTime']): number | undefined {
  if (!time) return undefined;
  return Number(String(time.seconds ?? 0)) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
}

function isObject(value: unknown, key: string): boolean {
  return typeof value === 'object' && value !== null && key in value;
}
