/**
 * The plan's notifications: each event told to every target that asked for it, as an activity that runs
 * beside the cutover (never awaited where the cutover waits, never cancelled by a rollback or a cancel). A
 * target that keeps failing is audited; it never holds up or fails the cutover. The cutover waits for what it
 * sent before it ends, so that its last events are told too.
 *
 * Only plans with `notify` send anything, and no cutover recorded before it had one, so earlier histories
 * replay unchanged without a patch.
 */
import { CancellationScope, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { StepIdentity } from '../shapes/evidence';
import { NON_RETRYABLE_TYPES } from '../plan/failures';
import type { CutoverPlan, NotifyEvent } from '../plan/schema';
import { errorMessage, type Bookkeeping } from './bookkeeping';

const { notify } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '30s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
  },
});

export class Notifier {
  private readonly sent: Promise<void>[] = [];
  private readonly counts = new Map<NotifyEvent, number>();

  constructor(
    private readonly plan: CutoverPlan,
    private readonly books: Bookkeeping,
    private readonly identity: (step: string) => StepIdentity,
  ) {}

  /** Tells `event` to every target that asked for it; returns at once. */
  emit(event: NotifyEvent, text: string): void {
    const targets = (this.plan.notify ?? []).flatMap((target, index) =>
      target.events.includes(event) ? [{ target, index }] : [],
    );
    if (targets.length === 0) return;
    // The n-th event of its kind: its key stays the same across the delivery's retries, and differs per event.
    const n = (this.counts.get(event) ?? 0) + 1;
    this.counts.set(event, n);
    for (const { target, index } of targets) {
      const { events: _events, ...action } = target;
      const name = target.name ?? `notify[${index}]`;
      const input = {
        ...this.identity(`notify/${event}-${n}/${name}`),
        target: action,
        event,
        state: this.books.status.state,
        text,
        ...(this.plan.baseDir ? { baseDir: this.plan.baseDir } : {}),
        ...(this.plan.policyDigest !== undefined ? { policyDigest: this.plan.policyDigest } : {}),
      };
      const delivery = CancellationScope.nonCancellable(() =>
        notify.executeWithOptions({ summary: `notify ${name}: ${event}` }, [input]),
      ).then(
        () => undefined,
        (err: unknown) => {
          this.books.audit({
            kind: 'note',
            rule: 'notify-failed',
            message: `notification ${name} of ${event} failed: ${errorMessage(err)}`,
          });
        },
      );
      this.sent.push(delivery);
    }
  }

  /** Waits for every delivery sent so far (each ends: delivered, or failed and audited). */
  async settled(): Promise<void> {
    await Promise.all(this.sent);
  }
}
