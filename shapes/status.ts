/**
 * The shapes a cutover reports: plain JSON (no Maps, classes or Dates), so they survive history, queries
 * and continue-as-new unchanged. Pure and free of the workflow SDK: the CLI, reports and tests import it.
 */
import type { GateStatus, GateView } from './evidence';
import type { Phase, PhaseResults } from './phases';

export const STATES = [
  'running',
  'awaiting-signoff',
  'monitoring',
  'completed',
  'rolled-back',
  'rejected',
  'failed',
  'cancelled',
] as const;
export type CutoverState = (typeof STATES)[number];

/** The states a cutover ends in. */
export const FINAL_STATES: readonly CutoverState[] = ['completed', 'rolled-back', 'rejected', 'failed', 'cancelled'];

/** Whether a cutover in `state` has ended. */
export function isFinal(state: CutoverState): boolean {
  return FINAL_STATES.includes(state);
}

export type PhaseOutcome = 'pending' | 'running' | 'passed' | 'failed' | 'skipped' | 'cancelled';

/** One phase's record; `PhaseRecord` is the union over every phase, so `record.phase` narrows `result`. */
export interface PhaseRecordOf<P extends Phase> {
  phase: P;
  outcome: PhaseOutcome;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  /** Activity attempts used by the phase (1 when nothing was retried). */
  attempts: number;
  /** One line: what was decided and why. */
  verdict?: string;
  /**
   * The phase's evidence: small, JSON, figures and references only. A measuring phase (shadow, stress,
   * rollback-rehearsal) that fails keeps here the evidence it failed on.
   */
  result?: PhaseResults[P];
  /** When the phase failed on an action: what the failing activity reported (its command, exit, output). */
  failure?: unknown;
}

export type PhaseRecord = { [P in Phase]: PhaseRecordOf<P> }[Phase];

/** The evidence of `phase` in `phases`, typed, if it has any. */
export function phaseResult<P extends Phase>(phases: readonly PhaseRecord[], phase: P): PhaseResults[P] | undefined {
  const record = phases.find((r): r is PhaseRecordOf<P> & PhaseRecord => r.phase === phase);
  return record?.result as PhaseResults[P] | undefined;
}

export interface SignOffRecord {
  role: string;
  approver: string;
  decision: 'approve' | 'reject';
  comment?: string;
  /** The evidence digest the sign-off counted against. */
  digest: string;
  signed: boolean;
  /** Who the approval app's login said signed (an attested sign-off). */
  attested?: { keyId: string; issuer: string; subject: string };
  at: string;
  via: 'signal' | 'update';
}

export interface GateState {
  status: GateStatus;
  evidenceDigest?: string;
  openedAt?: string;
  deadline?: string;
  escalatedAt?: string;
  expiresAt?: string;
  signoffs: SignOffRecord[];
  rejectedBy?: SignOffRecord;
  /** Per conditional role (signoff.requiredWhen), why this evidence needs it: found when the gate opens. */
  needs?: Record<string, string[]>;
}

export interface AuditEntry {
  at: string;
  kind: 'phase' | 'signoff' | 'rollback' | 'compensation' | 'gate' | 'trigger' | 'state' | 'note' | 'break-glass';
  /** Whether a sign-off or request was accepted; absent for plain events. */
  accepted?: boolean;
  actor?: string;
  /** The login behind an attested sign-off: its issuer and subject. */
  identity?: { issuer: string; subject: string };
  rule?: string;
  message: string;
  /**
   * The hash of the entry before it (workflows/digest.ts entryHash), or of the run for the first (chainStart):
   * written by the workflow as it goes, so a removed, changed or reordered entry breaks the chain.
   */
  prev?: string;
}

/** A change to production that went ahead by break-glass: what, when, why the calendar said no, and who said go. */
export interface BreakGlassView {
  what: string;
  at: string;
  /** Why the calendar was closed (the freeze, outside the windows, the notice). */
  closed: string;
  by: { role: string; approver: string; reason: string; attested?: { issuer: string; subject: string } }[];
}

/** One line for a break-glass: "the production deploy went ahead by break-glass at …: ivy (incident-commander): …". */
export function describeBreakGlass(b: BreakGlassView): string {
  const who = b.by.map((p) => `${p.approver} (${p.role}): ${p.reason}`).join('; ');
  return `${b.what} went ahead by break-glass at ${b.at}, inside ${b.closed}; ${who}`;
}

/** An audit entry with its link to the one before it. */
export type ChainedEntry = AuditEntry & { prev: string };

/** Work on an environment's queue that no live worker polls: which queue, since when, what was seen last. */
export interface WaitingForWorker {
  environment: string;
  taskQueue: string;
  /** The work waiting (a phase's activity). */
  what: string;
  /** When the work was queued. */
  waitingSince: string;
  /** When the queue was last described. */
  checkedAt: string;
  /** The poller the server saw last on this queue, if it lists any (it lists dead ones for minutes). */
  lastPoller?: { identity: string; at: string };
  /** When the plan's `noWorkerAlert` passed and the escalation ran. */
  alertedAt?: string;
}

export interface MonitorStatus {
  startedAt: string;
  windowEndsAt: string;
  samples: number;
  consecutiveFailures: number;
  runs: number;
  last?: { at: string; ok: boolean; errorRate?: number; maxDrift?: number };
  waitingForWorker?: WaitingForWorker;
}

export interface CutoverStatus {
  workflowId: string;
  release: string;
  phase: Phase;
  state: CutoverState;
  initiator?: string;
  /** The digest of the workers' policy the plan was checked against (absent: no policy). */
  policyDigest?: string;
  /** The cutover's page in the approval app (the workers' CUTOVER_APPROVAL_URL), where approvers sign off. */
  approvalLink?: string;
  /** Which of the organisation's groups hold each role (the workers' CUTOVER_ROLE_GROUPS or policy). */
  roleGroups?: Record<string, string[]>;
  /** An activity refused by workers holding another policy, waiting for one with the cutover's. */
  waitingForPolicy?: { what: string; since: string; refusals: number; message: string };
  /**
   * A change to production waiting for the calendar's next open window (plan/calendar.ts): what waits, why, and
   * when it opens (UTC, and as people in the calendar's zone read it); absent when no window opens within a year.
   */
  waitingForWindow?: {
    what: string;
    /** The change's name in a break-glass sign-off: 'production' or 'decommission' (absent before break-glass). */
    change?: string;
    since: string;
    reason: string;
    opensAt?: string;
    local?: string;
    zone: string;
    /** The policy's break-glass role, where it allows one to move production now with a second person. */
    breakGlass?: string;
    /** Who holds that role: by name, and by the login's groups (the approval app's break-glass form). */
    breakGlassBy?: { approvers: string[]; groups: string[] };
    /** The break-glass sign-offs counted for this change so far: who, as which role, when. */
    glassGiven?: { role: string; approver: string; at: string }[];
  };
  /** Changes to production that went ahead while the calendar said no, by break-glass (workflows/break-glass.ts). */
  breakGlass?: BreakGlassView[];
  /** Work waiting on an environment's task queue that no live worker polls (plan `environments`). */
  waitingForWorker?: WaitingForWorker;
  startedAt: string;
  endedAt?: string;
  phases: PhaseRecord[];
  gate: GateView;
  evidenceDigest?: string;
  monitor?: { childWorkflowId: string; windowEndsAt: string; outcome?: string };
  reconciliation: { day: number; days: number; cleanDays: number };
  rollback?: { requestedBy: string; reason: string; at: string; automatic: boolean };
  error?: { type?: string; message: string };
  audit: AuditEntry[];
  /** Audit entries dropped to keep the status bounded (the oldest go first). */
  auditDropped: number;
  /** The hash of the last audit entry written (dropped or kept): the chain's head. */
  auditHead?: string;
}

/** The words status, the Temporal UI and the approval page use for a change waiting for its window. */
export function describeWaitingForWindow(w: NonNullable<CutoverStatus['waitingForWindow']>): string {
  const glass = w.breakGlass ? `; break-glass: the ${w.breakGlass} and a second person may let it go now` : '';
  return w.opensAt
    ? `${w.what} is waiting for the change window: opens ${w.local} (${w.zone}), ${w.opensAt} (${w.reason})${glass}`
    : `${w.what} is waiting for the change window: none opens within a year (${w.reason})${glass}`;
}

/** What the workflow returns when it ends without failing. */
export interface CutoverResult {
  workflowId: string;
  release: string;
  state: CutoverState;
  evidenceDigest?: string;
  phases: PhaseRecord[];
}

/** One line: which queue has no live worker, since when, and what waits on it. */
export function describeWaitingForWorker(w: WaitingForWorker): string {
  const last = w.lastPoller ? `last poller ${w.lastPoller.identity} seen ${w.lastPoller.at}` : 'no poller ever listed';
  return `no live worker on ${w.environment} queue ${w.taskQueue} (${last}; checked ${w.checkedAt}): ${w.what} waits since ${w.waitingSince}${w.alertedAt ? `; alerted ${w.alertedAt}` : ''}`;
}
