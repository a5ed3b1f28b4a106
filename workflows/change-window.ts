/**
 * Waiting for the change calendar (plan/calendar.ts) before a change to production: the production deploy and
 * the decommission. The workers answer whether production may change now (the `changeWindow` activity, with
 * their current policy and the workflow's clock); if not, the cutover says so (status `waitingForWindow`, the
 * Temporal UI's current details, one audit line and one `window-wait` notification per opening announced) and
 * waits on a durable timer until the window opens, asking again at least every hour: a freeze added to the
 * policy meanwhile extends the wait at the next answer. A rollback never waits. Where the policy allows it, a
 * break-glass (two people, attested: ./break-glass.ts) ends the wait at once.
 */
import { condition, isCancellation, log } from '@temporalio/workflow';
import type { BreakGlassDesk } from './break-glass-desk';
import { evidenceDigest } from './digest';
import { checks } from './proxies';
import { toMs } from '../plan/duration';
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
  ctx: Pick<PhaseContext, 'plan' | 'books' | 'breakGlass' | 'gate' | 'evidence' | 'step'>,
  change: string,
  what: string,
): Promise<void> {
  const { books, breakGlass } = ctx;
  try {
    await waitForWindow(ctx, change, what);
  } catch (err) {
    // A rollback (or a cancellation) ends the wait: it never waits itself, and the status stops saying so.
    if (isCancellation(err) && books.status.waitingForWindow) {
      delete books.status.waitingForWindow;
      books.audit({ kind: 'note', message: `${what} no longer waits for the change window: the cutover is stopping` });
      books.refreshDetails();
    }
    breakGlass.close();
    throw err;
  }
}

async function waitForWindow(
  ctx: Pick<PhaseContext, 'plan' | 'books' | 'breakGlass' | 'gate' | 'evidence' | 'step'>,
  change: string,
  what: string,
): Promise<void> {
  const { plan, books, breakGlass } = ctx;
  const window = plan.production.window;
  const signedOff = books.status.phases.find((p) => p.phase === 'signoff')?.endedAt;
  let approvedAt = signedOff !== undefined ? Date.parse(signedOff) : undefined;
  // The approved evidence's shelf life (the plan's signoff.evidenceValidFor): the deploy's wait only.
  const validFor =
    change === 'production' && plan.signoff.evidenceValidFor !== undefined
      ? toMs(plan.signoff.evidenceValidFor)
      : undefined;
  const expiry = () => (validFor !== undefined && approvedAt !== undefined ? approvedAt + validFor : undefined);
  let announced: string | undefined;
  for (;;) {
    const expiresAt = expiry();
    if (expiresAt !== undefined && Date.now() >= expiresAt) {
      await reviewExpiredEvidence(ctx, what, expiresAt);
      approvedAt = Date.now();
      announced = undefined;
      continue;
    }
    const decision = await checks.changeWindow({
      release: plan.release,
      at: Date.now(),
      ...(approvedAt !== undefined ? { approvedAt } : {}),
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
      ...(decision.breakGlass
        ? {
            breakGlass: decision.breakGlass.role,
            breakGlassBy: { approvers: decision.breakGlass.approvers, groups: decision.breakGlass.groups ?? [] },
          }
        : {}),
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
    const untilExpiry = expiresAt !== undefined ? expiresAt - Date.now() : WINDOW_RECHECK_MS;
    const wait = Math.max(1000, Math.min(WINDOW_RECHECK_MS, untilOpen, untilExpiry));
    // A timer, as before break-glass existed (a cutover that never sees one replays the same commands).
    if (await condition(() => breakGlass.broken(), wait)) {
      goThroughGlass(books, breakGlass, what, reason);
      return;
    }
  }
}

/** One review of the evidence: when its approval expired, and when the gate reopened for it. */
export interface EvidenceReview {
  expiredAt: string;
  reopenedAt: string;
}

/**
 * The approved evidence expired while `what` waited: the evidence gains a review (so its digest changes and the
 * earlier sign-offs stop counting), and the gate reopens on it for the approvers to sign again. Returns once they
 * have approved; a rejection or an expired gate ends the cutover as at the first gate.
 */
async function reviewExpiredEvidence(
  ctx: Pick<PhaseContext, 'plan' | 'books' | 'breakGlass' | 'gate' | 'evidence' | 'step'>,
  what: string,
  expiredAt: number,
): Promise<void> {
  const { plan, books, gate, evidence } = ctx;
  // Nothing waits for the window while the gate reviews: a break-glass then is refused (not-waiting).
  ctx.breakGlass.close();
  const reviews = (evidence.reviews as EvidenceReview[] | undefined) ?? [];
  const review = { expiredAt: new Date(expiredAt).toISOString(), reopenedAt: new Date().toISOString() };
  evidence.reviews = [...reviews, review];
  const digest = evidenceDigest(evidence);
  books.status.evidenceDigest = digest;
  delete books.status.waitingForWindow;
  books.audit({
    kind: 'gate',
    message: `the evidence approved for ${what} expired at ${review.expiredAt} (signoff.evidenceValidFor ${plan.signoff.evidenceValidFor}) while it waited for the change window: the gate reopens for a review`,
  });
  const escalation = plan.signoff.escalate;
  await gate.awaitDecision(
    digest,
    plan.signoff,
    escalation ? () => ctx.step('escalate the review', escalation) : undefined,
  );
  books.audit({ kind: 'gate', message: `the review approved the evidence again: ${what} waits for its window` });
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
