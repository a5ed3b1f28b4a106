/**
 * The sign-off gate's rules: one pure function decides whether a sign-off counts, for the `signOff`
 * signal, the `submitSignOff` update, the `temporal` CLI and the UI alike. Deterministic: no clock, no I/O.
 */
import { utf8 } from '../plan/canonical';
import { curve, decodeBytes, decodePublicKey } from '../plan/keys';
import type { SignOff } from './messages';
import type { GateState, GateView, SignOffRecord } from './status';

/** The plan's gate settings, as the decision needs them. */
export interface GateConfig {
  workflowId: string;
  roles: Record<string, string[]>;
  quorum: Record<string, number>;
  separationOfDuties: boolean;
  initiator?: string;
  allowInitiator: boolean;
  keys?: Record<string, string>;
}

/** Why a sign-off did not count. Stable strings: the CLI and tests match on them. */
export const RefusalRule = {
  Malformed: 'malformed',
  GateNotOpen: 'gate-not-open',
  GateDecided: 'gate-decided',
  UnknownRole: 'unknown-role',
  UnknownApprover: 'unknown-approver',
  WrongRole: 'wrong-role',
  Initiator: 'initiator',
  StaleEvidence: 'stale-evidence',
  MissingSignature: 'missing-signature',
  BadSignature: 'bad-signature',
  Duplicate: 'duplicate',
  SeparationOfDuties: 'separation-of-duties',
} as const;
export type RefusalRule = (typeof RefusalRule)[keyof typeof RefusalRule];

export type Decision = { accepted: true; signed: boolean } | { accepted: false; rule: RefusalRule; reason: string };

/**
 * The exact text an approver signs: every field that gives a sign-off its meaning, so a signature cannot be
 * replayed for another cutover, role, decision or evidence.
 */
export function signOffMessage(
  workflowId: string,
  role: string,
  approver: string,
  decision: string,
  digest: string,
): string {
  return ['cutover-signoff/v1', workflowId, role, approver, decision, digest].join('\n');
}

/** The sign-offs that count now: those made against the current evidence. */
export function countingSignOffs(gate: GateState): SignOffRecord[] {
  return gate.signoffs.filter((s) => s.digest === gate.evidenceDigest);
}

/** Decides whether `signOff` counts. Never throws; every refusal names its rule. */
export function decideSignOff(config: GateConfig, gate: GateState, signOff: SignOff): Decision {
  const { role, approver, decision } = signOff;
  if (gate.status === 'closed') {
    return refuse(RefusalRule.GateNotOpen, 'the sign-off gate is not open yet: the evidence phases are still running');
  }
  if (gate.status !== 'open') {
    const by = gate.rejectedBy ? ` by ${gate.rejectedBy.approver} (${gate.rejectedBy.role})` : '';
    return refuse(RefusalRule.GateDecided, `the gate is already ${gate.status}${by}`);
  }
  const approvers = config.roles[role];
  if (!approvers) {
    return refuse(
      RefusalRule.UnknownRole,
      `no role "${role}" in this plan (roles: ${Object.keys(config.roles).join(', ')})`,
    );
  }
  const rolesOfApprover = Object.entries(config.roles)
    .filter(([, names]) => names.includes(approver))
    .map(([r]) => r);
  if (rolesOfApprover.length === 0) {
    return refuse(RefusalRule.UnknownApprover, `"${approver}" is not an approver in this plan`);
  }
  if (!approvers.includes(approver)) {
    return refuse(RefusalRule.WrongRole, `"${approver}" may sign for ${rolesOfApprover.join(', ')}, not for ${role}`);
  }
  if (config.initiator !== undefined && approver === config.initiator && !config.allowInitiator) {
    return refuse(RefusalRule.Initiator, `"${approver}" started this cutover and may not sign it off`);
  }
  const digest = gate.evidenceDigest ?? '';
  if (signOff.evidenceDigest !== undefined && signOff.evidenceDigest !== digest) {
    return refuse(
      RefusalRule.StaleEvidence,
      `signed against evidence ${signOff.evidenceDigest.slice(0, 12)}…, but the evidence is now ${digest.slice(0, 12)}…`,
    );
  }
  let signed = false;
  if (config.keys) {
    const key = config.keys[approver];
    if (signOff.signature === undefined) {
      return refuse(RefusalRule.MissingSignature, 'this plan requires signed sign-offs (cutover approve --key FILE)');
    }
    if (
      !key ||
      !verifySignature(key, signOff.signature, signOffMessage(config.workflowId, role, approver, decision, digest))
    ) {
      return refuse(
        RefusalRule.BadSignature,
        `the signature does not verify with ${approver}'s key for this cutover, role, decision and evidence`,
      );
    }
    signed = true;
  }
  const counting = countingSignOffs(gate);
  if (counting.some((s) => s.approver === approver && s.role === role)) {
    return refuse(RefusalRule.Duplicate, `"${approver}" has already signed for ${role}`);
  }
  if (config.separationOfDuties) {
    const other = counting.find((s) => s.approver === approver && s.role !== role);
    if (other) {
      return refuse(
        RefusalRule.SeparationOfDuties,
        `"${approver}" already signed for ${other.role}; one person signs for one role`,
      );
    }
  }
  return { accepted: true, signed };
}

function refuse(rule: RefusalRule, reason: string): Decision {
  return { accepted: false, rule, reason };
}

function verifySignature(publicKey: string, signature: string, message: string): boolean {
  const key = decodePublicKey(publicKey);
  const sig = decodeBytes(signature, 64);
  if (!key || !sig) return false;
  try {
    return curve().verify(sig, utf8(message), key);
  } catch {
    return false;
  }
}

/** Records an accepted sign-off and decides the gate: any rejection rejects; every quorum met approves. */
export function applySignOff(config: GateConfig, gate: GateState, record: SignOffRecord): GateState {
  const next: GateState = { ...gate, signoffs: [...gate.signoffs, record] };
  if (record.decision === 'reject') {
    next.status = 'rejected';
    next.rejectedBy = record;
  } else if (gateView(config, next).roles.every((r) => r.missing === 0)) {
    next.status = 'approved';
  }
  return next;
}

/** Per role: who approved against the current evidence and how many are missing. */
export function gateView(config: GateConfig, gate: GateState): GateView {
  const counting = countingSignOffs(gate);
  const roles = Object.entries(config.roles).map(([role, approvers]) => {
    const required = config.quorum[role] ?? 1;
    const approvedBy = counting.filter((s) => s.role === role && s.decision === 'approve').map((s) => s.approver);
    return { role, required, approvers, approvedBy, missing: Math.max(0, required - approvedBy.length) };
  });
  const view: GateView = { status: gate.status, roles };
  if (gate.evidenceDigest !== undefined) view.evidenceDigest = gate.evidenceDigest;
  if (gate.deadline !== undefined) view.deadline = gate.deadline;
  if (gate.escalatedAt !== undefined) view.escalatedAt = gate.escalatedAt;
  if (gate.expiresAt !== undefined) view.expiresAt = gate.expiresAt;
  if (gate.rejectedBy) {
    view.rejectedBy = { role: gate.rejectedBy.role, approver: gate.rejectedBy.approver };
    if (gate.rejectedBy.comment !== undefined) view.rejectedBy.comment = gate.rejectedBy.comment;
  }
  return view;
}
