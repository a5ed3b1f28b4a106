/**
 * The sign-off gate of one cutover: its state, the sign-offs it receives (from the signal or the update,
 * decided by gate.ts's pure rules) and the wait for a decision, with its deadline and escalation.
 */
import { ApplicationFailure, condition, log, proxySinks } from '@temporalio/workflow';
import { toMs } from '../plan/duration';
import { FailureType } from '../plan/failures';
import type { CutoverPlan } from '../plan/schema';
import type { Bookkeeping } from './bookkeeping';
import { GateRejected } from './endings';
import { neededBecause } from './gate-needs';
import { appRefusalProblem, applySignOff, decideSignOff, gateView, RefusalRule, type GateConfig } from './gate';
import { checkSignOff } from './message-checks';
import type { AppRefusal, ReceivedSignOff, SignOff, SignOffAnswer } from './messages';
import type { CutoverSinks } from './sinks';
import type { GateState } from '../shapes/status';
import type { GateView } from '../shapes/evidence';

const { metrics } = proxySinks<CutoverSinks>();

export class SignOffGate {
  private state: GateState = { status: 'closed', signoffs: [] };
  /** Every well-formed sign-off, in the order it came, for the record (`recordQuery`): state only, no commands. */
  private readonly log: ReceivedSignOff[] = [];

  constructor(
    private readonly config: GateConfig,
    private readonly books: Bookkeeping,
  ) {}

  /** The well-formed sign-offs received so far, in order, as they were sent. */
  received(): ReceivedSignOff[] {
    return [...this.log];
  }

  /** The gate as people read it. */
  view(): GateView {
    return gateView(this.config, this.state);
  }

  /** A sign-off from a signal or an update: checked, decided by the gate, audited, answered. */
  receive(payload: unknown, via: 'signal' | 'update'): SignOffAnswer {
    const parsed = checkSignOff(payload);
    if (parsed.ok) return this.decide(parsed.value, via);
    const reason = parsed.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
    metrics.signoff('(malformed)', false, RefusalRule.Malformed);
    this.books.audit({
      kind: 'signoff',
      accepted: false,
      rule: RefusalRule.Malformed,
      actor: actorOf(payload),
      message: `malformed sign-off refused: ${reason}`,
    });
    this.books.notify('signoff-refused', `${this.books.status.release}: a malformed sign-off was refused: ${reason}`);
    return { accepted: false, rule: RefusalRule.Malformed, reason, gate: this.view() };
  }

  /**
   * A sign-off the approval app refused before relaying it: kept in the audit (and the approvers told) when an
   * attester the workers trust vouches for the report; anything else is dropped, since anyone may send a signal.
   */
  receiveAppRefusal(payload: unknown): void {
    const refusal = appRefusalOf(payload);
    const problem = refusal ? appRefusalProblem(this.config, refusal, Date.now()) : 'a malformed report';
    if (!refusal || problem) {
      log.warn('an approval app refusal report was dropped', { problem });
      return;
    }
    const { role, decision, user, reason, attestation } = refusal;
    const attempt = `${decision || 'a sign-off'} for ${role || 'no role'}`;
    this.books.audit({
      kind: 'signoff',
      accepted: false,
      rule: RefusalRule.RefusedByApp,
      actor: user,
      identity: { issuer: attestation.issuer, subject: attestation.subject },
      message: `${attempt} refused by the approval app: ${reason}`,
    });
    this.books.notify(
      'signoff-refused',
      `${this.books.status.release}: ${attempt} by ${user} refused by the approval app: ${reason}`,
    );
  }

  private decide(payload: SignOff, via: 'signal' | 'update'): SignOffAnswer {
    const decision = decideSignOff(this.config, this.state, payload, Date.now());
    this.log.push({
      signOff: payload,
      via,
      at: new Date().toISOString(),
      accepted: decision.accepted,
      ...(decision.accepted ? {} : { rule: decision.rule }),
    });
    metrics.signoff(payload.role, decision.accepted, decision.accepted ? '' : decision.rule);
    if (!decision.accepted) {
      this.books.audit({
        kind: 'signoff',
        accepted: false,
        actor: payload.approver,
        rule: decision.rule,
        message: `${payload.decision} for ${payload.role} refused (${decision.rule}): ${decision.reason}`,
      });
      this.books.notify(
        'signoff-refused',
        `${this.books.status.release}: ${payload.decision} by ${payload.approver} for ${payload.role} refused (${decision.rule}): ${decision.reason}`,
      );
      this.books.refreshDetails();
      return { accepted: false, rule: decision.rule, reason: decision.reason, gate: this.view() };
    }
    this.state = applySignOff(this.config, this.state, {
      role: payload.role,
      approver: decision.approver,
      decision: payload.decision,
      digest: this.state.evidenceDigest ?? '',
      signed: decision.signed,
      ...(decision.attested ? { attested: decision.attested } : {}),
      at: new Date().toISOString(),
      via,
      ...(payload.comment !== undefined ? { comment: payload.comment } : {}),
    });
    const by = decision.attested;
    this.books.audit({
      kind: 'signoff',
      accepted: true,
      actor: payload.approver,
      ...(by ? { identity: { issuer: by.issuer, subject: by.subject } } : {}),
      message: `${payload.decision} for ${payload.role} counted${decision.signed ? ' (signed)' : ''}${by ? ` (attested: ${by.subject} at ${by.issuer})` : ''}${payload.comment ? `: ${payload.comment}` : ''}`,
    });
    const missing = this.missingRoles();
    this.books.notify(
      'signoff',
      `${this.books.status.release}: ${payload.approver} ${payload.decision === 'approve' ? 'approved' : 'rejected'} for ${payload.role}${missing.length ? `; missing ${missing.join(', ')}` : ''}`,
    );
    this.books.refreshDetails();
    return { accepted: true, gate: this.view() };
  }

  /**
   * Opens the gate on `digest` and waits for a decision: approved returns; rejected throws GateRejected; the
   * deadline runs `escalate` (the plan's escalation action, if it has one) and, when the escalation window
   * passes too, fails as SignoffExpired.
   */
  async awaitDecision(
    digest: string,
    signoff: CutoverPlan['signoff'],
    escalate: (() => Promise<unknown>) | undefined,
    /** The evidence signed, at the first opening: the conditional roles it needs are found in it (a review keeps them). */
    evidence?: Record<string, unknown>,
  ): Promise<void> {
    const now = Date.now();
    // A review opens the gate again: a fresh deadline, no escalation of the round before.
    const { escalatedAt: _escalated, expiresAt: _expires, ...before } = this.state;
    const needs = evidence ? neededBecause(this.config.requiredWhen, evidence) : undefined;
    this.state = {
      ...before,
      status: 'open',
      evidenceDigest: digest,
      openedAt: new Date(now).toISOString(),
      deadline: new Date(now + toMs(signoff.deadline)).toISOString(),
      ...(needs ? { needs } : {}),
    };
    for (const [role, because] of Object.entries(needs ?? {}))
      this.books.audit({
        kind: 'gate',
        message:
          because.length > 0
            ? `${role}'s sign-off is needed: ${because.join('; ')}`
            : `${role}'s sign-off is not awaited: the evidence shows none of ${this.config.requiredWhen?.[role]?.join(', ')}`,
      });
    this.books.setState('awaiting-signoff');
    this.books.audit({
      kind: 'gate',
      message: `gate open for evidence ${digest.slice(0, 12)}…; deadline ${this.state.deadline}`,
    });
    if (signoff.keysBy === 'plan') {
      this.books.audit({
        kind: 'note',
        message:
          "approvers' keys are the plan author's (signoff.keys; the workers' policy pins none): a signed sign-off proves the key, not who holds it",
      });
    }
    this.books.notify(
      'gate-open',
      `${this.books.status.release}: sign-off open (${this.missingRoles().join(', ')}); deadline ${this.state.deadline}`,
    );
    const decided = () => this.state.status === 'approved' || this.state.status === 'rejected';
    if (!(await condition(decided, signoff.deadline))) {
      this.state = {
        ...this.state,
        escalatedAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + toMs(signoff.escalationWindow)).toISOString(),
      };
      this.books.audit({ kind: 'gate', message: `deadline passed; escalating until ${this.state.expiresAt}` });
      this.books.notify(
        'escalation',
        `${this.books.status.release}: sign-off deadline passed, missing ${this.missingRoles().join(', ')}; expires ${this.state.expiresAt}`,
      );
      if (escalate) await escalate();
      this.books.refreshDetails();
      if (!(await condition(decided, signoff.escalationWindow))) {
        this.state = { ...this.state, status: 'expired' };
        this.books.audit({
          kind: 'gate',
          message: 'sign-off expired: no decision by the end of the escalation window',
        });
        throw ApplicationFailure.create({
          type: FailureType.SignoffExpired,
          nonRetryable: true,
          message: `sign-off expired: missing ${this.missingRoles().join(', ')}`,
        });
      }
    }
    if (this.state.status === 'rejected') {
      const by = this.state.rejectedBy;
      throw new GateRejected(`rejected by ${by?.approver} (${by?.role})${by?.comment ? `: ${by.comment}` : ''}`);
    }
    this.books.setState('running');
  }

  /** Who signed against `digest`, as `name (role)`. */
  approversOf(digest: string): string[] {
    return this.state.signoffs.filter((s) => s.digest === digest).map((s) => `${s.approver} (${s.role})`);
  }

  private missingRoles(): string[] {
    return this.view()
      .roles.filter((r) => r.missing > 0)
      .map((r) => `${r.role} (${r.missing})`);
  }
}

/** The name a payload claims, for the audit trail of a refusal (kept short). */
/** The report's fields if it has the shape of an AppRefusal (strings, bounded), else undefined. */
function appRefusalOf(payload: unknown): AppRefusal | undefined {
  const text = (value: unknown, max: number): value is string => typeof value === 'string' && value.length <= max;
  if (!payload || typeof payload !== 'object') return undefined;
  const p = payload as Record<string, unknown>;
  const a = p.attestation as Record<string, unknown> | undefined;
  if (!text(p.role, 100) || !text(p.decision, 20) || !text(p.user, 200) || !text(p.reason, 1000)) return undefined;
  if (!a || typeof a !== 'object') return undefined;
  if (
    !text(a.keyId, 100) ||
    !text(a.issuer, 500) ||
    !text(a.subject, 500) ||
    !text(a.issuedAt, 40) ||
    !text(a.signature, 200)
  )
    return undefined;
  return {
    role: p.role,
    decision: p.decision,
    user: p.user,
    reason: p.reason,
    attestation: { keyId: a.keyId, issuer: a.issuer, subject: a.subject, issuedAt: a.issuedAt, signature: a.signature },
  };
}

export function actorOf(payload: unknown): string | undefined {
  if (payload && typeof payload === 'object') {
    const value = (payload as Record<string, unknown>).approver ?? (payload as Record<string, unknown>).requestedBy;
    if (typeof value === 'string') return value.slice(0, 128);
  }
  return undefined;
}
