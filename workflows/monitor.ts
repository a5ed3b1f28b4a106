/**
 * monitorWorkflow: probes production every interval for the monitoring window and returns at the first
 * trigger breach. Continues as new well before history gets long, so a 24 h window at a 1-minute interval
 * stays far below the event limit in every run.
 */
import {
  ApplicationFailure,
  continueAsNew,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { Breach, Metrics, ProbeResult } from '../shapes/evidence';
import { FailureType, NON_RETRYABLE_TYPES } from '../plan/failures';
import type { PlanSeal } from '../plan/seal';
import type { Action, Triggers } from '../plan/schema';
import { monitorStatusQuery } from './messages';
import { untilPolicyHolds } from './policy-wait';
import { watched } from './queue-watch';
import { describeWaitingForWorker, type MonitorStatus, type WaitingForWorker } from '../shapes/status';
import { type MonitorOutcome } from '../shapes/evidence';

const { probe } = proxyActivities<Activities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '15s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    // The probe reports a failing action as a failed sample itself; only a dead worker fails an attempt.
    maximumAttempts: 10,
    nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
  },
});

/**
 * Samples per run before continuing as new. One sample is about 11 history events (timer, activity,
 * workflow tasks), so a run stays near 3,000 events whatever the window.
 */
export const SAMPLES_PER_RUN = 250;

export interface MonitorState {
  samples: number;
  consecutiveFailures: number;
  runs: number;
  startedAt: string;
  last?: ProbeResult;
  /** The first breach of a dry-run trigger: it would have rolled back at that probe, and did not. */
  wouldBreach?: Breach & { probe: number };
  /** A probe waiting on production's queue with no live worker (not carried across continue-as-new). */
  waitingForWorker?: WaitingForWorker;
}

export interface MonitorInput {
  parentWorkflowId: string;
  release: string;
  keyPrefix: string;
  probe: Action;
  triggers: Triggers;
  reference: Metrics;
  intervalMs: number;
  /** Epoch milliseconds (a number, not a Date: it crosses continue-as-new). */
  windowEndsAt: number;
  baseDir?: string;
  /** The policy the cutover was checked against: workers holding another refuse the probes. */
  policyDigest?: string;
  /** Production's task queue (plan `environments.production`): the probes run there, watched for a worker. */
  taskQueue?: string;
  /** The workers' seal on the probe (plan/seal.ts): production's worker runs no probe it does not cover. */
  seal?: PlanSeal;
  state: MonitorState;
}

/**
 * Whoever can start a workflow is untrusted: a monitor's input names an action, a queue and a cutover's work
 * folder, and only its cutover's plan check may vouch for those. So it runs only as the child of the cutover its
 * input names (which checked the plan and started it); otherwise it ends at once, before any probe.
 */
function refuseWithoutItsCutover(input: MonitorInput): void {
  const parent = workflowInfo().parent;
  const why =
    parent === undefined
      ? 'it was started on its own, not by a cutover'
      : parent.workflowId !== input?.parentWorkflowId
        ? `its parent ${parent.workflowId} is not the cutover its input names (${String(input?.parentWorkflowId)})`
        : undefined;
  if (why === undefined) return;
  throw ApplicationFailure.create({
    type: FailureType.PolicyViolation,
    nonRetryable: true,
    message: `monitorWorkflow runs only as the monitoring child of a checked cutover: ${why}; nothing was run`,
  });
}

/**
 * Time to the next sample: the next multiple of the interval since the window started (or the window's end), so
 * the time each probe takes never drifts the cadence. Sleeping a whole interval after each probe did: at a
 * 1-minute interval a busy machine's round trips added up to over a minute in 24 h, and the window closed a
 * sample short. A probe slower than the interval skips the ticks it missed rather than firing back to back.
 */
function untilNextTick(input: MonitorInput, state: MonitorState): number {
  const start = Date.parse(state.startedAt);
  const now = Date.now();
  const tick = Math.floor((now - start) / input.intervalMs) + 1;
  return Math.min(start + tick * input.intervalMs, input.windowEndsAt) - now;
}

/** What the monitor's status query answers: its window, its samples so far and the last one. */
function statusOf(input: MonitorInput, state: MonitorState): MonitorStatus {
  const status: MonitorStatus = {
    startedAt: state.startedAt,
    windowEndsAt: new Date(input.windowEndsAt).toISOString(),
    samples: state.samples,
    consecutiveFailures: state.consecutiveFailures,
    runs: state.runs,
  };
  if (state.last) {
    status.last = { at: state.last.at, ok: state.last.ok };
    if (state.last.errorRate !== undefined) status.last.errorRate = state.last.errorRate;
    if (state.last.maxDrift !== undefined) status.last.maxDrift = state.last.maxDrift;
  }
  if (state.waitingForWorker) status.waitingForWorker = state.waitingForWorker;
  return status;
}

/**
 * One probe on production's queue, through the policy wait, and (on a queue of its own) watched for a worker
 * while it waits there: the waiting shows in the status and the Temporal UI's details.
 */
function takeSample(input: MonitorInput, state: MonitorState): Promise<ProbeResult> {
  const taskQueue = input.taskQueue;
  const sample = () =>
    untilPolicyHolds(undefined, 'monitoring probe', () =>
      probe.executeWithOptions(
        {
          startToCloseTimeout: '10m',
          heartbeatTimeout: '15s',
          ...(taskQueue !== undefined ? { taskQueue } : {}),
          summary: `probe #${state.samples + 1}`,
        },
        [
          {
            workflowId: input.parentWorkflowId,
            release: input.release,
            key: `${input.keyPrefix}/monitoring/probe-${state.samples + 1}`,
            probe: input.probe,
            triggers: input.triggers,
            reference: input.reference,
            consecutiveFailures: state.consecutiveFailures,
            ...(input.baseDir ? { baseDir: input.baseDir } : {}),
            ...(input.policyDigest !== undefined ? { policyDigest: input.policyDigest } : {}),
            ...(input.seal ? { seal: input.seal } : {}),
          },
        ],
      ),
    );
  return taskQueue === undefined
    ? sample()
    : watched(
        { environment: 'production', taskQueue },
        `monitoring probe #${state.samples + 1}`,
        {
          report: (waiting) => {
            if (waiting) state.waitingForWorker = waiting;
            else delete state.waitingForWorker;
            setCurrentDetails(waiting ? `**Waiting**: ${describeWaitingForWorker(waiting)}` : '');
          },
        },
        sample,
      );
}

export async function monitorWorkflow(input: MonitorInput): Promise<MonitorOutcome> {
  refuseWithoutItsCutover(input);
  const state: MonitorState = { ...input.state };
  setHandler(monitorStatusQuery, () => statusOf(input, state));

  let samplesThisRun = 0;
  while (Date.now() < input.windowEndsAt) {
    await sleep(untilNextTick(input, state));
    const result = await takeSample(input, state);
    state.samples++;
    samplesThisRun++;
    state.consecutiveFailures = result.consecutiveFailures;
    state.last = result;
    if (result.wouldBreach && !state.wouldBreach) {
      state.wouldBreach = { ...result.wouldBreach, probe: state.samples };
      log.warn('dry-run trigger breached: no rollback', { ...result.wouldBreach });
    }
    if (result.breach) {
      log.warn('trigger breached', { trigger: result.breach.trigger, detail: result.breach.detail });
      return {
        outcome: 'breach',
        samples: state.samples,
        runs: state.runs,
        breach: result.breach,
        last: result,
        ...(state.wouldBreach ? { wouldBreach: state.wouldBreach } : {}),
      };
    }
    if (
      Date.now() < input.windowEndsAt &&
      (samplesThisRun >= SAMPLES_PER_RUN || workflowInfo().continueAsNewSuggested)
    ) {
      await continueAsNew<typeof monitorWorkflow>({ ...input, state: { ...state, runs: state.runs + 1 } });
    }
  }
  return {
    outcome: 'clean',
    samples: state.samples,
    runs: state.runs,
    ...(state.last ? { last: state.last } : {}),
    ...(state.wouldBreach ? { wouldBreach: state.wouldBreach } : {}),
  };
}
