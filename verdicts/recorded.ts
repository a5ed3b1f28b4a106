/**
 * A cutover's recorded evidence, read back from its history: the plan it ran and each phase's evidence (its
 * activities' results, and the evidence a verdict failure carries). Pure: it reads a history it is given, so
 * `cutover what-if` and the reference comparison of the shadow and stress activities read the same way.
 */
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { CutoverPlan } from '../plan/schema';
import { PHASE_DECLARATIONS, PHASES, type RecordedResults, type RecordingPhase } from '../shapes/phases';

type History = temporal.api.history.v1.IHistory;
export type Decode = (payload: Payload) => Promise<unknown>;

/** One result a phase's activity recorded, with the input it was given (a probe's reference, a day). */
export interface RecordedRun<P extends RecordingPhase> {
  result: RecordedResults[P];
  input: unknown;
}

/** What a cutover recorded: the plan it ran and the evidence of each phase that got that far. */
export interface Recorded {
  workflowId: string;
  plan?: CutoverPlan;
  /** Each phase's recorded results in order, read by its declaration's `records` (shapes/phases.ts). */
  phases: { [P in RecordingPhase]?: RecordedRun<P>[] };
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

/** The activities whose results are a phase's evidence, by activity type. */
const RECORDERS = new Map(
  PHASES.flatMap((phase) => {
    const records = (PHASE_DECLARATIONS[phase] as { records?: { activity: string; has: string } }).records;
    return records ? [[records.activity, { phase: phase as RecordingPhase, has: records.has }] as const] : [];
  }),
);

/** The runs of `phase` a cutover recorded, in order (none before the phase ran). */
export function recordedRuns<P extends RecordingPhase>(recorded: Recorded, phase: P): RecordedRun<P>[] {
  return (recorded.phases[phase] ?? []) as RecordedRun<P>[];
}

/** The last result of `phase` a cutover recorded: the evidence of a phase that runs once. */
export function lastRecorded<P extends RecordingPhase>(recorded: Recorded, phase: P): RecordedResults[P] | undefined {
  return recordedRuns(recorded, phase).at(-1)?.result;
}

const first = async (decode: Decode, payloads: temporal.api.common.v1.IPayloads | null | undefined) =>
  payloads?.payloads?.[0] ? decode(payloads.payloads[0] as Payload) : undefined;

/** The evidence of a cutover's history (its activities' results, and the evidence their verdict failures carry). */
export async function recordedFromHistory(workflowId: string, history: History, decode: Decode): Promise<Recorded> {
  const recorded: Recorded = { workflowId, phases: {}, monitors: [] };
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
    const recorder = RECORDERS.get(of.type);
    if (recorder && isObject(value, recorder.has)) {
      const runs = (recorded.phases[recorder.phase] ??= []) as { result: unknown; input: unknown }[];
      runs.push({ result: value, input: of.input });
    }
  }
  return recorded;
}

/** An event's time in ms: its seconds come as a number or a Long, depending on how the history was read. */
export function eventMs(time: temporal.api.history.v1.IHistoryEvent['eventTime']): number | undefined {
  if (!time) return undefined;
  return Number(String(time.seconds ?? 0)) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
}

function isObject(value: unknown, key: string): boolean {
  return typeof value === 'object' && value !== null && key in value;
}
