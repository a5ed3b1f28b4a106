/**
 * Waiting out a worker that holds another policy than the cutover's. Such a worker refuses an activity at
 * once (`PolicyMismatch`, non-retryable, so the refusal uses no retry attempts); the cutover audits it,
 * shows it in its status and schedules the activity again after a timer, so that any worker on the queue
 * may take it, until one with the cutover's policy does. Nothing runs under other rules meanwhile.
 *
 * Only a `PolicyMismatch` failure takes this path, and no cutover recorded before it could have had one, so
 * their histories replay unchanged without a patch.
 */
import { ActivityFailure, ApplicationFailure, sleep } from '@temporalio/workflow';
import { FailureType } from '../plan/failures';
import type { Bookkeeping } from './bookkeeping';

/** The first wait after a refusal; it doubles up to MAX_WAIT_MS. */
const FIRST_WAIT_MS = 30_000;
const MAX_WAIT_MS = 600_000;

/** Whether `err` is an activity refused by a worker with another policy. */
export function isPolicyMismatch(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.type === FailureType.PolicyMismatch;
}

/**
 * Runs `call` (one activity) until a worker with the cutover's policy runs it. `books` records the wait
 * (status `waitingForPolicy`, one audit line when it starts, one when it ends); without it (the monitor
 * child) the wait is only logged by the worker.
 */
export async function untilPolicyHolds<T>(
  books: Bookkeeping | undefined,
  what: string,
  call: () => Promise<T>,
): Promise<T> {
  let waitMs = FIRST_WAIT_MS;
  for (let refusals = 0; ; refusals++) {
    try {
      const result = await call();
      if (refusals > 0 && books) {
        delete books.status.waitingForPolicy;
        books.audit({
          kind: 'note',
          message: `${what}: taken by a worker with the cutover's policy after ${refusals} refusal(s)`,
        });
        books.refreshDetails();
      }
      return result;
    } catch (err) {
      if (!isPolicyMismatch(err)) throw err;
      const message = err instanceof ActivityFailure && err.cause ? err.cause.message : String(err);
      if (books) {
        const since = books.status.waitingForPolicy?.since ?? new Date().toISOString();
        books.status.waitingForPolicy = { what, since, refusals: refusals + 1, message };
        if (refusals === 0) {
          books.audit({
            kind: 'note',
            accepted: false,
            rule: 'policy-mismatch',
            message: `${what} refused: ${message}; waiting for a worker with the cutover's policy`,
          });
        }
        books.refreshDetails();
      }
      await sleep(waitMs);
      waitMs = Math.min(waitMs * 2, MAX_WAIT_MS);
    }
  }
}
