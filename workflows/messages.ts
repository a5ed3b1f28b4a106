/**
 * Every name a user, script or the UI uses to talk to a cutover, defined once. The CLI imports these.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { CutoverStatus, MonitorStatus } from '../shapes/status';
import type { GateView } from '../shapes/evidence';
import type { CutoverPlan } from '../plan/schema';

/** Largest comment kept with a sign-off. */
export const MAX_COMMENT_LENGTH = 2000;

/**
 * A sign-off, as sent by the CLI, `temporal workflow signal` or the UI's signal form. A plain interface: the
 * workflow checks payloads with message-checks.ts (no zod in any running cutover); a zod twin in the tests
 * holds those checks to the same verdicts.
 */
export interface SignOff {
  /** A role of the plan's `signoff.roles`; 1 to 64 characters. */
  role: string;
  /** Who signs; 1 to 128 characters. */
  approver: string;
  decision: 'approve' | 'reject';
  /** At most `MAX_COMMENT_LENGTH` characters. */
  comment?: string;
  /** The 64-character hex evidence digest the approver saw (`cutover status` shows it). */
  evidenceDigest?: string;
  /** ed25519 signature (hex or base64, at most 200 characters) over `signOffMessage(...)`; required when the plan has keys. */
  signature?: string;
  /**
   * The approval app's word that its login said who signs: its ed25519 signature over `attestationMessage(...)`
   * (the sign-off's meaning plus the token's issuer and subject and the time of signing), with its key id.
   */
  attestation?: Attestation;
}

/** A well-formed sign-off as the gate received it, in order (accepted or not): what a recount of the gate replays. */
export interface ReceivedSignOff {
  signOff: SignOff;
  via: 'signal' | 'update';
  /** The workflow's clock when it arrived: an attestation's age is judged against it. */
  at: string;
  /** Whether the gate counted it, and if not, by which rule it refused it. */
  accepted: boolean;
  rule?: string;
}

/** The cutover's own word for its record: the plan it checked, the evidence the approvers signed, the sign-offs. */
export interface RecordState {
  /** The effective plan (the workers' plan check's result); absent while the plan is being checked. */
  plan?: CutoverPlan;
  /** What the evidence digest is computed over: the policy's digest and the results of the phases before the gate. */
  evidence: Record<string, unknown>;
  received: ReceivedSignOff[];
  /** Break-glass sign-offs received, in order; absent when none came. */
  breakGlass?: ReceivedBreakGlass[];
}

/** An attestation of who signed, by an attester the workers trust (`CUTOVER_ATTESTER_KEYS`). */
export interface Attestation {
  /** The attester's key id (1 to 64 characters): keys rotate by id. */
  keyId: string;
  /** The OpenID issuer of the approver's login (1 to 512 characters). */
  issuer: string;
  /** The login's subject at that issuer (1 to 512 characters). */
  subject: string;
  /** When the attester signed (ISO 8601 UTC, as `Date.toISOString()` writes it). */
  issuedAt: string;
  /** ed25519 signature (hex or base64, at most 200 characters). */
  signature: string;
}

/** A request to roll back, from anyone who can signal the workflow. */
export interface RollbackRequest {
  /** 1 to 128 characters. */
  requestedBy: string;
  /** 1 to `MAX_COMMENT_LENGTH` characters. */
  reason: string;
}

/**
 * A sign-off the approval app refused before relaying it (a user without the role, a bad form), reported to the
 * cutover so that its audit holds every attempt on it. The app attests it like a sign-off: only a report an
 * attester the workers trust signed, recently, is written to the audit (anyone may send a signal).
 */
export interface AppRefusal {
  /** The role and decision as the form gave them ('' where it gave none). */
  role: string;
  decision: string;
  /** The login's user claim: the name the user would have signed as. */
  user: string;
  /** Why the app refused. */
  reason: string;
  attestation: { keyId: string; issuer: string; subject: string; issuedAt: string; signature: string };
}

/**
 * A break-glass sign-off (workflows/break-glass.ts): while a change to production waits for the calendar, one
 * person who holds the policy's break-glass role and a second person let it go ahead now, each with a reason and
 * attested (or signed) like a sign-off, over breakGlassMessage(...).
 */
export interface BreakGlass {
  /** The policy's break-glass role (incident-commander, say), or the second person's role in the plan. */
  role: string;
  /** Who signs; 1 to 128 characters. */
  approver: string;
  /** Why production must move now; 1 to `MAX_COMMENT_LENGTH` characters. */
  reason: string;
  evidenceDigest?: string;
  signature?: string;
  attestation?: Attestation;
}

/** What `submitBreakGlass` answers: whether it counted, and whether the glass is broken (the pair is complete). */
export interface BreakGlassAnswer {
  accepted: boolean;
  rule?: string;
  reason?: string;
  broken: boolean;
}

/** A well-formed break-glass sign-off as the cutover received it, in order (counted or not): for the record. */
export interface ReceivedBreakGlass {
  breakGlass: BreakGlass;
  /** The change it was for: 'production' or 'decommission' ('' when nothing waited). */
  change: string;
  via: 'signal' | 'update';
  at: string;
  accepted: boolean;
  rule?: string;
}

/** What `submitSignOff` answers. */
export interface SignOffAnswer {
  accepted: boolean;
  /** Which rule refused it, and why. */
  rule?: string;
  reason?: string;
  gate: GateView;
}

export const signOffSignal = defineSignal<[SignOff]>('signOff');
export const submitSignOffUpdate = defineUpdate<SignOffAnswer, [SignOff]>('submitSignOff');
export const requestRollbackSignal = defineSignal<[RollbackRequest]>('requestRollback');
/** A break-glass sign-off; its refusal is told in the audit trail. */
export const breakGlassSignal = defineSignal<[BreakGlass]>('breakGlass');
export const submitBreakGlassUpdate = defineUpdate<BreakGlassAnswer, [BreakGlass]>('submitBreakGlass');
/** The approval app reports a sign-off it refused before relaying it (kept in the audit when attested). */
export const appRefusalSignal = defineSignal<[AppRefusal]>('approvalAppRefusal');
export const statusQuery = defineQuery<CutoverStatus>('status');
/** What an auditor's record needs beyond the status (`cutover export`): see RecordState. */
export const recordQuery = defineQuery<RecordState>('record');
export const monitorStatusQuery = defineQuery<MonitorStatus>('monitorStatus');

export const releaseSearchAttribute = defineSearchAttributeKey('CutoverRelease', SearchAttributeType.KEYWORD);
export const phaseSearchAttribute = defineSearchAttributeKey('CutoverPhase', SearchAttributeType.KEYWORD);
export const stateSearchAttribute = defineSearchAttributeKey('CutoverState', SearchAttributeType.KEYWORD);

/** The search attributes a namespace must have registered (all Keyword). */
export const SEARCH_ATTRIBUTE_NAMES = ['CutoverRelease', 'CutoverPhase', 'CutoverState'] as const;

/** The default workflow id for a release. */
export function workflowIdFor(release: string): string {
  return `cutover-${release}`;
}
