/**
 * The cutover's activities as workflow code calls them, grouped by timeout profile. Activities are imported
 * by type only: their code runs in the worker, never in the sandbox.
 */
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_TYPES } from '../plan/failures';

// Ten attempts: a worker that dies mid-activity costs one each time (the chaos suite kills workers every few
// seconds for minutes); with backoff up to a minute they span several minutes. Plan faults do not retry.
export const retry = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 10,
  nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
};

/** Steps that run a user's action: the action's own timeout bounds them; heartbeats catch a dead worker. */
export const steps = proxyActivities<Activities>({
  startToCloseTimeout: '1h',
  heartbeatTimeout: '15s',
  retry,
});

/**
 * Long measuring phases: they heartbeat progress and resume from it after a crash. A dead worker is noticed
 * within the heartbeat timeout (the runner heartbeats every 5 s while a process runs).
 */
export const long = proxyActivities<Activities>({
  startToCloseTimeout: '4h',
  heartbeatTimeout: '15s',
  // Each attempt resumes from the last heartbeat.
  retry,
});

/** The plan check: quick, no heartbeat. */
export const checks = proxyActivities<Activities>({ startToCloseTimeout: '1m', retry });

/** Options for one action's activity: the runner enforces the action's own timeout; this adds room to clean up. */
export function stepOptions(actionMs: number): ActivityOptions {
  return { startToCloseTimeout: actionMs + 60_000, heartbeatTimeout: '15s', retry };
}
