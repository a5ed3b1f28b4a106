/**
 * Waiting for the change calendar (plan/calendar.ts) before a change to production: the production deploy and
 * the decommission. The workers answer whether production may change now (the `changeWindow` activity, with
 * their current policy and the workflow's clock); if not, the cutover says so (status `waitingForWindow`, the
 * Temporal UI's current details, one audit line and one `window-wait` notification per opening announced) and
 * sleeps on a durable timer until the window opens, asking again at least every hour: a freeze added to the
 * policy meanwhile extends the wait at the next answer. A rollback never waits.
 */
import { sleep } from '@temporalio/workflow';
import { checks } from './proxies';
import type { PhaseContext } from './phases/context';
import type { CutoverPlan } from '../plan/schema';

/** How often a waiting cutover asks the workers again, at the latest. */
export const WINDOW_RECHECK_MS = 60 * 60_000;

/** Whether a calendar can apply: the workers hold a policy (its pipelines may have one), or the plan has a window. */
export function windowApplies(plan: CutoverPlan): boolean {
  return plan.policyDigest !== undefined || plan.production.window !== undefined;
}

/** Returns once the calendar lets `what` change production. */
export async function awaitChangeWindow(ctx: Pick<PhaseContext, 'plan' | 'books'>, what: string): Promise<void> {
  const { plan, books } = ctx;
  const window = plan.production.window;
  let announced: string | undefined;
  for (;;) {
    const decision = await checks.changeWindow({
      release: plan.release,
      at: Date.now(),
      ...(window ? { window } : {}),
    });
    if (decision.open) {
      if (books.status.waitingForWindow) {
        delete books.status.waitingForWindow;
        books.audit({ kind: 'note', message: `the change window is open: ${what} goes ahead` });
        books.refreshDetails();
      }
      return;
    }
    const { reason, opensAt, local, zone } = decision;
    books.status.waitingForWindow = {
      what,
      since: books.status.waitingForWindow?.since ?? new Date().toISOString(),
      reason,
      ...(opensAt !== undefined ? { opensAt } : {}),
      ...(local !== undefined ? { local } : {}),
      zone,
    };
    if (announced !== (opensAt ?? 'never')) {
      announced = opensAt ?? 'never';
      const text = opensAt
        ? `${what} waits for the change window: opens ${local} (${zone}); ${reason}`
        : `${what} waits for the change window: none opens within a year; ${reason}`;
      books.audit({ kind: 'note', message: text });
      books.notify('window-wait', `${plan.release}: ${text}`);
      books.refreshDetails();
    }
    const untilOpen = opensAt !== undefined ? Date.parse(opensAt) - Date.now() : WINDOW_RECHECK_MS;
    await sleep(Math.max(1000, Math.min(WINDOW_RECHECK_MS, untilOpen)));
  }
}
