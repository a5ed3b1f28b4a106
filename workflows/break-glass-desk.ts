/**
 * The desk where break-glass sign-offs arrive (the `breakGlass` signal and the `submitBreakGlass` update) while a
 * change to production waits for the calendar (./change-window.ts): each decided by ./break-glass.ts's rules
 * against the change waiting now, audited (counted or refused, and the approvers told), and kept for the record.
 */
import { decideBreakGlass, glassBroken, type BreakGlassRecord, type GlassCase } from './break-glass';
import type { Bookkeeping } from './bookkeeping';
import type { GateConfig } from './gate';
import { actorOf } from './gate-wait';
import { checkBreakGlass } from './message-checks';
import type { BreakGlassAnswer, ReceivedBreakGlass } from './messages';
import type { BreakGlassGrant } from '../plan/calendar';

/** One cutover's break-glass desk. */
export class BreakGlassDesk {
  private open?: GlassCase & { what: string };
  private given: BreakGlassRecord[] = [];
  private readonly log: ReceivedBreakGlass[] = [];

  constructor(
    private readonly config: GateConfig,
    private readonly books: Bookkeeping,
  ) {}

  /** Every well-formed break-glass sign-off received, in order, as sent. */
  received(): ReceivedBreakGlass[] {
    return [...this.log];
  }

  receive(payload: unknown, via: 'signal' | 'update'): BreakGlassAnswer {
    const parsed = checkBreakGlass(payload);
    if (!parsed.ok) {
      const reason = parsed.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
      this.books.audit({
        kind: 'break-glass',
        accepted: false,
        rule: 'malformed',
        actor: actorOf(payload),
        message: `malformed break-glass refused: ${reason}`,
      });
      return { accepted: false, rule: 'malformed', reason, broken: false };
    }
    const request = parsed.value;
    const at = new Date().toISOString();
    const digest = this.books.status.evidenceDigest ?? '';
    const decision = decideBreakGlass(this.config, { open: this.open, given: this.given }, request, {
      digest,
      now: Date.now(),
    });
    const change = this.open?.change ?? '';
    this.log.push({
      breakGlass: request,
      change,
      via,
      at,
      accepted: decision.accepted,
      ...(decision.accepted ? {} : { rule: decision.rule }),
    });
    const release = this.books.status.release;
    if (!decision.accepted) {
      this.books.audit({
        kind: 'break-glass',
        accepted: false,
        rule: decision.rule,
        actor: request.approver,
        message: `break-glass by ${request.approver} (${request.role}) refused: ${decision.reason}`,
      });
      this.books.notify(
        'signoff-refused',
        `${release}: break-glass by ${request.approver} (${request.role}) refused: ${decision.reason}`,
      );
      return { accepted: false, rule: decision.rule, reason: decision.reason, broken: false };
    }
    this.given.push({
      change,
      role: request.role,
      approver: decision.approver,
      reason: request.reason,
      digest,
      signed: decision.signed,
      ...(decision.attested ? { attested: decision.attested } : {}),
      at,
      via,
    });
    const identity = decision.attested
      ? { identity: { issuer: decision.attested.issuer, subject: decision.attested.subject } }
      : {};
    const text = `break-glass by ${decision.approver} (${request.role}) for ${this.open?.what}: ${request.reason}`;
    this.books.audit({ kind: 'break-glass', accepted: true, actor: decision.approver, ...identity, message: text });
    // The status says who has signed, so the approval page shows it instead of the form to whoever has.
    const waiting = this.books.status.waitingForWindow;
    if (waiting) waiting.glassGiven = this.given.map(({ role, approver, at: when }) => ({ role, approver, at: when }));
    this.books.notify('break-glass', `${release}: ${text}`);
    return { accepted: true, broken: this.broken() };
  }

  /** A change waits for the calendar: break-glass sign-offs count for it from now (those for another are gone). */
  waiting(change: string, what: string, grant: BreakGlassGrant | undefined): void {
    if (this.open?.change !== change) this.given = [];
    this.open = { change, what, ...(grant ? { grant } : {}) };
  }

  /** Nothing waits any more. */
  close(): void {
    this.open = undefined;
    this.given = [];
  }

  /** Whether the pair the policy asks for has signed. */
  broken(): boolean {
    return glassBroken(this.open?.grant, this.given);
  }

  /** Who broke the glass, for the status. */
  signers(): BreakGlassRecord[] {
    return [...this.given];
  }
}
