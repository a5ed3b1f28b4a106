/**
 * `cutover verify FILE --replay [--history HISTORY.json]`: holds a record to the Temporal history it names, and
 * the history to this release's workflow code. The history (given, or the one `export --with-history` put in the
 * record) must be the one the record's digest names; it must replay on the workflow code without nondeterminism,
 * so the record's cutover is this code's decisions; and what the record says of it must be in it: the effective
 * plan, every sign-off received, in order, as it was sent, the audit trail, and the way the cutover ended.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { historyFromJSON, historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { loadBundle } from '../common/workflow-bundle';
import { canonicalJson } from '../plan/canonical';
import { chainStart, entryHash } from '../workflows/digest';
import type { ChainedEntry } from '../shapes/status';
import { PHASE_DECLARATIONS, PHASES, type Phase, type RecordingPhase } from '../shapes/phases';
import { eventMs, recordedFromHistory, recordedRuns, type Recorded } from '../verdicts/recorded';
import { MAX_AUDIT } from '../workflows/bookkeeping';
import { historyDigest, namesHistory, type Check, type CutoverRecord } from './record';
import type { InjectedSinks } from '@temporalio/worker';
import type { CutoverSinks } from '../workflows/sinks';

/** The workflow code to replay on: the release's prebuilt bundle (as the worker loads it), or the workflows' source. */
async function workflowCode(): Promise<{ workflowBundle: { code: string } } | { workflowsPath: string }> {
  const bundle = path.join(__dirname, '..', 'workflow-bundle.js');
  return existsSync(bundle)
    ? { workflowBundle: { code: await loadBundle(bundle) } }
    : { workflowsPath: require.resolve('../workflows') };
}

/**
 * The workflow's sinks for a replay (workflows/sinks.ts): no metrics; every audit entry the replay writes, chained,
 * into `audit`.
 */
function replaySinks(audit: ChainedEntry[]): InjectedSinks<CutoverSinks> {
  const ignored = { fn: () => undefined, callDuringReplay: false };
  return {
    metrics: { phase: ignored, signoff: ignored, rollback: ignored, breach: ignored },
    record: {
      audit: {
        fn: (_info, entry) => {
          audit.push(entry);
        },
        callDuringReplay: true,
      },
    },
  };
}

const decode = (payload: unknown) => defaultPayloadConverter.fromPayload(payload as Payload);

/** The sign-offs in a history, in order: the `signOff` signals' and the `submitSignOff` updates' inputs. */
function signOffsIn(history: History): unknown[] {
  const out: unknown[] = [];
  for (const e of history.events ?? []) {
    const signal = e.workflowExecutionSignaledEventAttributes;
    if (signal?.signalName === 'signOff' && signal.input?.payloads?.[0]) out.push(decode(signal.input.payloads[0]));
    const update = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    if (update?.name === 'submitSignOff' && update.args?.payloads?.[0]) out.push(decode(update.args.payloads[0]));
  }
  return out;
}

/**
 * The effective plan in a history: the result of the workers' plan check (the `checkPlan` activity), or undefined
 * where there is none (a cutover from before the check ran as an activity, or one refused before it completed).
 */
function checkedPlanIn(history: History): unknown {
  const scheduled = new Set<string>();
  for (const e of history.events ?? []) {
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'checkPlan') scheduled.add(String(e.eventId));
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed && scheduled.has(String(completed.scheduledEventId)) && completed.result?.payloads?.[0])
      return decode(completed.result.payloads[0]);
  }
  return undefined;
}

/** How the history ended: the cutover's result state, `failed`, `cancelled`, or undefined while it runs. */
function endOf(history: History): string | undefined {
  const last = history.events?.at(-1);
  const completed = last?.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0];
  if (completed) return (decode(completed) as { state?: string }).state;
  if (last?.workflowExecutionFailedEventAttributes || last?.workflowExecutionTimedOutEventAttributes) return 'failed';
  if (last?.workflowExecutionCanceledEventAttributes) return 'cancelled';
  if (last?.workflowExecutionTerminatedEventAttributes) return 'terminated';
  if (last?.workflowExecutionContinuedAsNewEventAttributes) return 'continued';
  return undefined;
}

/**
 * The record's audit trail against the one the replay wrote: the record's entries are the replay's from the
 * `dropped`-th on, each with the same link, and the record's head is the hash of its last; the history may hold
 * a few entries more (written after the export read the status).
 */
export function auditCheck(
  record: CutoverRecord,
  replayed: readonly ChainedEntry[],
  /** How many entries the status keeps (workflows/bookkeeping.ts MAX_AUDIT). */
  limit = MAX_AUDIT,
): Check {
  const check = 'history audit';
  const { dropped, entries, head } = record.audit;
  if (replayed.length < dropped + entries.length) {
    return {
      check,
      ok: false,
      detail: `predicate.audit has ${dropped} dropped and ${entries.length} kept entries, the replay wrote ${replayed.length}`,
    };
  }
  // The status drops its oldest entries only past MAX_AUDIT: a record that says some were dropped keeps that many.
  if (dropped > 0 && entries.length < limit)
    return {
      check,
      ok: false,
      detail: `predicate.audit.dropped is ${dropped}, but the status drops entries only past ${limit} and the record keeps ${entries.length}`,
    };
  const differs = entries.findIndex((entry, i) => canonicalJson(entry) !== canonicalJson(replayed[dropped + i]));
  if (differs >= 0) {
    return {
      check,
      ok: false,
      detail: `predicate.audit.entries[${differs}] is not the entry the replay wrote there (${replayed[dropped + differs]?.kind}: ${replayed[dropped + differs]?.message})`,
    };
  }
  const last = replayed[dropped + entries.length - 1];
  const expected = last ? entryHash(last) : chainStart(record.workflowId, record.runId);
  if (head !== expected)
    return { check, ok: false, detail: "predicate.audit.head is not the replayed chain's head there" };
  const more = replayed.length - dropped - entries.length;
  return {
    check,
    ok: true,
    detail: `the ${replayed.length - more} entries the replay wrote, chained as the record has them${more ? ` (and ${more} written after the export read the status)` : ''}`,
  };
}

const FINAL = ['completed', 'rolled-back', 'rejected', 'failed', 'cancelled'];

/**
 * The record held to its history: the history is the one it names, replays on this release's code, and holds the
 * record's plan, sign-offs, audit chain and outcome.
 */
export async function replayChecks(record: CutoverRecord, historyText: string | undefined): Promise<Check[]> {
  const read = readHistory(record, historyText);
  if (!('history' in read)) return [read.check];
  const { history } = read;
  const replayed: ChainedEntry[] = [];
  return [
    read.check,
    await replayCheck(record, history, replayed),
    planCheck(record, history),
    signOffsCheck(record, history),
    auditCheck(record, replayed),
    outcomeCheck(record, history),
    timesCheck(record, history),
    await phasesCheck(record, history, replayed),
  ];
}

/** The history given, parsed, and the one the record names (by its digest as the export wrote it). */
function readHistory(
  record: CutoverRecord,
  historyText: string | undefined,
): { check: Check; history: History } | { check: Check } {
  const check = 'history';
  if (historyText === undefined)
    return {
      check: {
        check,
        ok: false,
        detail: 'no history to replay: give --history FILE, or export the record with --with-history',
      },
    };
  let history: History;
  try {
    history = historyFromJSON(JSON.parse(historyText));
  } catch (err) {
    return {
      check: { check, ok: false, detail: `not a Temporal history: ${(err as Error).message.split('\n')[0]}` },
    };
  }
  // Hashed as the export hashed it: the history read back, written out again, in canonical JSON (whoever wrote the
  // file given, and whatever order its maps' entries came in).
  const written = historyToJSON(history);
  if (!namesHistory(record.history.sha256, written)) {
    const digest = historyDigest(written);
    const detail = `its SHA-256 is ${digest.slice(0, 12)}…, the record's predicate.history.sha256 ${record.history.sha256.slice(0, 12)}…: another history`;
    return { check: { check, ok: false, detail } };
  }
  const detail = `${history.events?.length ?? 0} events, the digest the record names`;
  return { check: { check, ok: true, detail }, history };
}

/** The SDK's replay worker: a nondeterminism error means this code would not have made these decisions. */
async function replayCheck(record: CutoverRecord, history: History, replayed: ChainedEntry[]): Promise<Check> {
  try {
    const { DefaultLogger, Runtime, Worker } = await import('@temporalio/worker');
    // The SDK's own lines (its replay worker starting and stopping) are not the auditor's to read.
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      // A runtime is installed already (a test, a bench): its logger stays.
    }
    await Worker.runReplayHistory(
      { ...(await workflowCode()), sinks: replaySinks(replayed) } as never,
      history,
      record.workflowId,
    );
    return { check: 'replay', ok: true, detail: "the history replays on this release's workflow code" };
  } catch (err) {
    return {
      check: 'replay',
      ok: false,
      detail: `the history does not replay on this release's workflow code: ${(err as Error).message.split('\n')[0]}`,
    };
  }
}

/** The record's plan is the effective plan the workers' plan check returned in the history. */
function planCheck(record: CutoverRecord, history: History): Check {
  const check = 'history plan';
  const checked = checkedPlanIn(history);
  if (checked === undefined)
    return { check, ok: true, detail: 'no plan check completed in the history: nothing to compare' };
  if (canonicalJson(checked) !== canonicalJson(record.plan))
    return {
      check,
      ok: false,
      detail: "predicate.plan is not the effective plan the workers' plan check returned in the history",
    };
  return { check, ok: true, detail: "the effective plan the workers' plan check returned" };
}

/** Every sign-off the record says the gate received is in the history, in the record's order. */
function signOffsCheck(record: CutoverRecord, history: History): Check {
  const check = 'history sign-offs';
  const sent = signOffsIn(history).map((s) => canonicalJson(s));
  let at = 0;
  const missing = record.gate.received.findIndex(({ signOff }) => {
    const found = sent.indexOf(canonicalJson(signOff), at);
    if (found < 0) return true;
    at = found + 1;
    return false;
  });
  if (missing >= 0) {
    const s = record.gate.received[missing]?.signOff;
    const detail = `predicate.gate.received[${missing}] (${s?.role}, ${s?.approver}): not in the history as the record has it`;
    return { check, ok: false, detail };
  }
  const detail = `${record.gate.received.length} sign-off(s), in order, as the history has them`;
  return { check, ok: true, detail };
}

/** The record's outcome is how the history ended (or it is still running, and so is the record's state). */
function outcomeCheck(record: CutoverRecord, history: History): Check {
  const end = endOf(history);
  const state = record.outcome.state;
  const agrees = end === undefined ? !FINAL.includes(state) : end === state || (end === 'failed' && state === 'failed');
  if (agrees) return { check: 'history outcome', ok: true, detail: end ? `ended ${end}` : 'still running' };
  const detail = `predicate.outcome.state is ${state}, the history ${end ? `ended ${end}` : 'is still running'}`;
  return { check: 'history outcome', ok: false, detail };
}

/** The first and last event times of a history, in ms. */
function spanOf(history: History): { first?: number; last?: number } {
  const at = (e: NonNullable<History['events']>[number] | undefined) => (e ? eventMs(e.eventTime) : undefined);
  return { first: at(history.events?.[0]), last: at(history.events?.at(-1)) };
}

/** How far the workflow's clock may be from its events' times (its timestamps are its workflow tasks'). */
const CLOCK_SLACK_MS = 5_000;

/** The record's times are the history's: started with it, ended when it closed (and not while it runs). */
function timesCheck(record: CutoverRecord, history: History): Check {
  const check = 'history times';
  const { first, last } = spanOf(history);
  const { startedAt, endedAt } = record.outcome;
  const at = (iso: string) => Date.parse(iso);
  if (first !== undefined && Math.abs(at(startedAt) - first) > CLOCK_SLACK_MS)
    return { check, ok: false, detail: `predicate.outcome.startedAt ${startedAt} is not when the history started` };
  const closed = endOf(history) !== undefined;
  if (endedAt !== undefined && (!closed || last === undefined || Math.abs(at(endedAt) - last) > CLOCK_SLACK_MS))
    return {
      check,
      ok: false,
      detail: `predicate.outcome.endedAt ${endedAt} is not when the history ${closed ? `closed (${new Date(last ?? 0).toISOString()})` : 'ended: it is still running'}`,
    };
  return { check, ok: true, detail: 'started and ended when the history did' };
}

/** The phases whose outcome the replayed audit states (`<phase> passed: …`), as they stand at the end of it. */
function phasesIn(replayed: readonly ChainedEntry[]): Map<string, string> {
  const outcomes = new Map<string, string>();
  for (const entry of replayed) {
    if (entry.kind !== 'phase') continue;
    const match = /^([a-z-]+) (started|passed|failed|skipped|cancelled)\b/.exec(entry.message);
    if (match) outcomes.set(match[1] as string, match[2] === 'started' ? 'running' : (match[2] as string));
  }
  return outcomes;
}

/**
 * The record's phases and state are the replay's: each phase the record says ran, passed or failed did so in the
 * replayed audit (the history may have gone on after the export read the status, never back), a state past the
 * gate has production behind it, and each phase's result is one its activity returned in the history.
 */
async function phasesCheck(record: CutoverRecord, history: History, replayed: readonly ChainedEntry[]) {
  const check = 'history phases';
  const replay = phasesIn(replayed);
  for (const [i, p] of record.outcome.phases.entries()) {
    if (p.outcome === 'pending') continue;
    const theirs = replay.get(p.phase);
    const later = p.outcome === 'running' && theirs !== undefined;
    if (theirs !== p.outcome && !later)
      return {
        check,
        ok: false,
        detail: `predicate.outcome.phases[${i}] (${p.phase}) is ${p.outcome}, the replay ${theirs ? `has it ${theirs}` : 'never started it'}`,
      };
  }
  const production = record.outcome.phases.find((p) => p.phase === 'production')?.outcome;
  if (['monitoring', 'completed'].includes(record.outcome.state) && production !== 'passed')
    return {
      check,
      ok: false,
      detail: `predicate.outcome.state is ${record.outcome.state}, but production has not passed`,
    };
  const mismatch = await resultsMismatch(record, history);
  if (mismatch) return { check, ok: false, detail: mismatch };
  return { check, ok: true, detail: "every phase's outcome and result as the history has them" };
}

/**
 * The first phase result (in `outcome.phases`) or piece of evidence that no activity of the history returned, named;
 * undefined when each is one of the results the history recorded for its phase.
 */
async function resultsMismatch(record: CutoverRecord, history: History): Promise<string | undefined> {
  let recorded: Recorded;
  try {
    recorded = await recordedFromHistory(record.workflowId, history, async (p) => decode(p));
  } catch (err) {
    return `the history's results cannot be read: ${(err as Error).message.split('\n')[0]}`;
  }
  const results = (phase: string) =>
    recordedRuns(recorded, phase as RecordingPhase).map((run) => canonicalJson(run.result));
  const recording = new Set(PHASES.filter((p) => PHASE_DECLARATIONS[p].records));
  // A phase whose result is its activity's (it has the field the declaration names; a monitor's summary is not).
  const isResult = (phase: Phase, value: unknown) => {
    const has = PHASE_DECLARATIONS[phase].records?.has;
    return has !== undefined && typeof value === 'object' && value !== null && has in value;
  };
  for (const [i, p] of record.outcome.phases.entries()) {
    if (p.result === undefined || !recording.has(p.phase) || !isResult(p.phase, p.result)) continue;
    if (!results(p.phase).includes(canonicalJson(p.result)))
      return `predicate.outcome.phases[${i}] (${p.phase}).result is not a result the history's ${p.phase} returned`;
  }
  // A piece of evidence that is a recording phase's result (it has the field its declaration names).
  for (const [key, value] of Object.entries(record.evidence)) {
    const phase = [...recording].find((p) => isResult(p, value));
    if (phase === undefined) continue;
    if (!results(phase).includes(canonicalJson(value)))
      return `predicate.evidence.${key} is not a result the history's ${phase} returned`;
  }
  return undefined;
}
