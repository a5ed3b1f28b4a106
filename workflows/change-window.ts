/**
 * Waiting for the change calendar (plan/calendar.ts) before a change to production: the production deploy and
 * the decommission. The workers answer whether production may change now (the `changeWindow` activity, with
 * their current policy and the workflow's clock); if not, the cutover says so (status `waitingForWindow`, the
 * Temporal UI's current details, one audit line and one `window-wait` notification per opening announced) and
 * waits on a durable timer until the window opens, asking again at least every hour: a freeze added to the
 * policy meanwhile extends the wait at the next answer. A rollback never waits. Where the policy allows it, a
 * break-glass (two people, attested: ./break-glass.ts) ends the wait at once.
 */
import { condition, log } from '@temporalio/workflow';
import type { BreakGlassDesk } from './break-glass-desk';
import { checks } from './proxies';
import type { Bookkeeping } from './bookkeeping';
import type { PhaseContext } from './phases/context';
import type { CutoverPlan } from '../plan/schema';

/** How often a waiting cutover asks the workers again, at the latest. */
export const WINDOW_RECHECK_MS = 60 * 60_000;

/** Whether a calendar can apply: the workers hold a policy (its pipelines may have one), or the plan has a window. */
export function windowApplies(plan: CutoverPlan): boolean {
  return plan.policyDigest !== undefined || plan.production.window !== undefined;
}

/**
 * Returns once the calendar lets `what` change production, or two people break the glass. `change` names it for
 * break-glass sign-offs ('production', 'decommission').
 */
export async function awaitChangeWindow(
  ctx: Pick<PhaseContext, 'plan' | 'books' | 'breakGlass'>,
  change: string,
  what: string,
): Promise<void> {
  const { plan, books, breakGlass } = ctx;
  const window = plan.production.window;
  const approvedAt = books.status.phases.find((p) => p.phase === 'signoff')?.endedAt;
  let announced: string | undefined;
  for (;;) {
    const decision = await checks.changeWindow({
      release: plan.release,
      at: Date.now(),
      ...(approvedAt !== undefined ? { approvedAt: Date.parse(approvedAt) } : {}),
      ...(window ? { window } : {}),
    });
    if (decision.open) {
      if (books.status.waitingForWindow) {
        delete books.status.waitingForWindow;
        books.audit({ kind: 'note', message: `the change window is open: ${what} goes ahead` });
        books.refreshDetails();
      }
      breakGlass.close();
      return;
    }
    const { reason, opensAt, local, zone } = decision;
    breakGlass.waiting(change, what, decision.breakGlass);
    books.status.waitingForWindow = {
      what,
      change,
      since: books.status.waitingForWindow?.since ?? new Date().toISOString(),
      reason,
      ...(opensAt !== undefined ? { opensAt } : {}),
      ...(local !== undefined ? { local } : {}),
      zone,
      ...(decision.breakGlass ? { breakGlass: decision.breakGlass.role } : {}),
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
    // A timer, as before break-glass existed (a cutover that never sees one replays the same commands).
    if (await condition(() => breakGlass.broken(), Math.max(1000, Math.min(WINDOW_RECHECK_MS, untilOpen)))) {
      goThroughGlass(books, breakGlass, what, reason);
      return;
    }
  }
}

/** The wait ends by break-glass: the status, the audit and the notification say so, and who, and why. */
function goThroughGlass(books: Bookkeeping, desk: BreakGlassDesk, what: string, closed: string): void {
  const by = desk.signers().map((s) => ({
    role: s.role,
    approver: s.approver,
    reason: s.reason,
    ...(s.attested ? { attested: { issuer: s.attested.issuer, subject: s.attested.subject } } : {}),
  }));
  const view = { what, at: new Date().toISOString(), closed, by };
  books.status.breakGlass = [...(books.status.breakGlass ?? []), view];
  delete books.status.waitingForWindow;
  desk.close();
  const names = by.map((p) => `${p.approver} (${p.role})`).join(' and ');
  const text = `break-glass: ${what} goes ahead inside ${closed}, by ${names}`;
  log.warn(text);
  books.audit({ kind: 'break-glass', message: text });
  books.notify('break-glass', `${books.status.release}: ${text}`);
  books.refreshDetails();
}
