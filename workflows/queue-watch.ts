/**
 * Work sent to an environment's task queue waits there until a worker of that environment takes it (no
 * schedule-to-start timeout): a missing worker holds the cutover, it does not fail it. So that the wait is
 * seen, a timer in the workflow describes the queue while the work is pending (a query cannot do I/O):
 * no live poller puts the queue, since when and the poller seen last into the status and the UI's
 * current details, and after the plan's `noWorkerAlert` the escalation runs once.
 *
 * Only plans with `environments` take this path, and none was recorded before it, so earlier cutovers'
 * histories replay unchanged without a patch.
 */
import { CancellationScope, isCancellation, proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { QueueView } from '../activities/queues';
import type { Environment } from '../plan/environments';
import { PHASE_DECLARATIONS, PHASES, type Phase } from '../shapes/phases';
import { type WaitingForWorker } from '../shapes/status';
import { toMs } from '../plan/duration';
import type { CutoverPlan } from '../plan/schema';
import type { Bookkeeping } from './bookkeeping';
import { untilPolicyHolds } from './policy-wait';

/** The environment of each phase's activities, compensations included, as the phase declares it (shapes/phases.ts). */
export const PHASE_ENVIRONMENT: Readonly<Record<Phase, Environment | undefined>> = Object.fromEntries(
  PHASES.map((phase) => [phase, PHASE_DECLARATIONS[phase].environment]),
) as Record<Phase, Environment | undefined>;

/** Work done within this never costs a describe. */
export const FIRST_CHECK_MS = 10_000;
/** How often a queue is described while work still waits on it. */
export const CHECK_EVERY_MS = 30_000;

/** Runs on the cutover's own queue: the orchestrator describes the environment's queue through its client. */
const { describeQueue } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumAttempts: 2 },
});

export interface Route {
  environment: string;
  taskQueue: string;
  /** After this long without a live worker, `alert` runs (once). */
  noWorkerAlertMs?: number;
}

export interface Watcher {
  /** Called with the missing worker while one is missing, and with undefined when the wait ends. */
  report(waiting: WaitingForWorker | undefined): void;
  /** The `noWorkerAlert` escalation. */
  alert?(waiting: WaitingForWorker): Promise<void>;
}

/** Runs `call` (one environment's activity) with its queue watched for a live worker while it is pending. */
export async function watched<T>(route: Route, what: string, watcher: Watcher, call: () => Promise<T>): Promise<T> {
  const waitingSince = new Date().toISOString();
  const work = call();
  let reported = false;
  const scope = new CancellationScope();
  const watching = scope.run(async () => {
    await sleep(FIRST_CHECK_MS);
    let alertedAt: string | undefined;
    for (;;) {
      let view: QueueView | undefined;
      try {
        view = await describeQueue(route.taskQueue);
      } catch (err) {
        if (isCancellation(err)) throw err;
        // The queue could not be described: nothing new is known, and nothing is claimed.
      }
      if (view && view.live === 0) {
        const waiting: WaitingForWorker = {
          environment: route.environment,
          taskQueue: route.taskQueue,
          what,
          waitingSince,
          checkedAt: view.checkedAt,
          ...(view.lastSeen ? { lastPoller: view.lastSeen } : {}),
          ...(alertedAt ? { alertedAt } : {}),
        };
        reported = true;
        watcher.report(waiting);
        const alertMs = route.noWorkerAlertMs;
        if (alertedAt === undefined && alertMs !== undefined && Date.now() - Date.parse(waitingSince) >= alertMs) {
          alertedAt = new Date().toISOString();
          watcher.report({ ...waiting, alertedAt });
          await watcher.alert?.({ ...waiting, alertedAt });
        }
      } else if (view && reported) {
        reported = false;
        watcher.report(undefined);
      }
      // The next look, or the alert's moment if that comes first.
      const alertDue =
        alertedAt === undefined && route.noWorkerAlertMs !== undefined && reported
          ? Date.parse(waitingSince) + route.noWorkerAlertMs - Date.now()
          : Infinity;
      await sleep(Math.max(1_000, Math.min(CHECK_EVERY_MS, alertDue)));
    }
  });
  watching.catch(() => undefined);
  try {
    return await work;
  } finally {
    scope.cancel();
    if (reported) watcher.report(undefined);
  }
}

/** What the router reports a missing worker through: the cutover's books and status, and its escalation. */
export interface RouterHost {
  plan: Pick<CutoverPlan, 'release' | 'environments'>;
  books: Bookkeeping;
  status: { waitingForWorker?: WaitingForWorker };
  /** Runs the plan's escalation for a queue no worker polls (nothing when the plan has none). */
  escalate(environment: string): Promise<void>;
}

/**
 * Sends each phase's activities to its environment's queue (when the plan names one) and watches for a missing
 * worker there; every activity waits for a worker with the cutover's policy.
 */
export class PhaseRouter {
  constructor(private readonly host: RouterHost) {}

  /**
   * Runs one activity of `phase` until a worker with the cutover's policy takes it: on the task queue of the
   * phase's environment when the plan names one (`route` carries it), watched for a missing worker there.
   * Without `environments` the route is empty and the commands are what they always were.
   */
  routed<T>(phase: Phase, what: string, call: (route: { taskQueue?: string }) => Promise<T>): Promise<T> {
    const { books, plan } = this.host;
    const environment = PHASE_ENVIRONMENT[phase];
    const where = environment ? plan.environments?.[environment] : undefined;
    if (!environment || !where) return untilPolicyHolds(books, what, () => call({}));
    const route = {
      environment,
      taskQueue: where.taskQueue,
      ...(where.noWorkerAlert !== undefined ? { noWorkerAlertMs: toMs(where.noWorkerAlert) } : {}),
    };
    return watched(route, what, this.watcher(), () =>
      untilPolicyHolds(books, what, () => call({ taskQueue: where.taskQueue })),
    );
  }

  /** How a missing worker shows: the status, one audit line when it starts and one when it ends, the alert. */
  private watcher(): Watcher {
    const { books, status, plan } = this.host;
    return {
      report: (waiting) => {
        const before = status.waitingForWorker;
        if (waiting) {
          if (!before) {
            books.audit({
              kind: 'note',
              message: `${waiting.what}: no live worker polls ${waiting.environment} queue ${waiting.taskQueue}${waiting.lastPoller ? ` (last poller ${waiting.lastPoller.identity} at ${waiting.lastPoller.at})` : ''}; waiting`,
            });
          }
          status.waitingForWorker = waiting;
        } else if (before) {
          delete status.waitingForWorker;
          books.audit({ kind: 'note', message: `${before.what}: a worker polls ${before.taskQueue} again` });
        }
        books.refreshDetails();
      },
      alert: async (waiting) => {
        books.audit({
          kind: 'note',
          rule: 'no-worker',
          message: `no worker has polled ${waiting.environment} queue ${waiting.taskQueue} since ${waiting.lastPoller?.at ?? waiting.waitingSince}: ${waiting.what} waits (noWorkerAlert)`,
        });
        books.notify(
          'escalation',
          `${plan.release}: no worker polls ${waiting.environment} queue ${waiting.taskQueue}; ${waiting.what} waits since ${waiting.waitingSince}`,
        );
        await this.host.escalate(waiting.environment);
      },
    };
  }
}
