/**
 * The sign-off gate's rules: one pure function decides whether a sign-off counts, for the `signOff`
 * signal, the `submitSignOff` update, the `temporal` CLI and the UI alike. Deterministic: no I/O, and the
 * time (to judge an attestation's age) is the caller's workflow clock.
 */
import { utf8 } from '../plan/canonical';
import { toMs } from '../plan/duration';
import { quorumFor } from '../plan/helpers';
import { curve, decodeBytes, decodePublicKey } from '../plan/keys';
import type { SignoffCondition } from '../plan/conditions';
import type { CutoverPlan } from '../plan/schema';
import type { AppRefusal, SignOff } from './messages';
import type { GateState, SignOffRecord } from '../shapes/status';
import type { GateView } from '../shapes/evidence';

/** The plan's gate settings, as the decision needs them. */
export interface GateConfig {
  workflowId: string;
  roles: Record<string, string[]>;
  quorum: Record<string, number>;
  /** Roles needed only when the evidence shows one of these (their reasons are the gate state's `needs`). */
  requiredWhen?: Record<string, readonly SignoffCondition[]>;
  separationOfDuties: boolean;
  initiator?: string;
  allowInitiator: boolean;
  keys?: Record<string, string>;
  /** The attesters the workers trust, by key id (CUTOVER_ATTESTER_KEYS): public keys. */
  attesters?: Record<string, string>;
  /** A sign-off must be attested or signed with the approver's own key (CUTOVER_REQUIRE_ATTESTED). */
  requireAttested?: boolean;
  /** How old an attestation may be when it arrives. @default 10 minutes */
  attestationMaxAgeMs?: number;
}

/** How far an attester's clock may run ahead of the workflow's. */
const ATTESTATION_SKEW_MS = 60_000;
export const DEFAULT_ATTESTATION_MAX_AGE_MS = 600_000;

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
  /** Neither attested by a trusted attester nor signed with the approver's key, where the workers require it. */
  Unattested: 'unattested',
  /** An attestation by an unknown key, that does not verify, or that is too old. */
  BadAttestation: 'bad-attestation',
  /** Refused by the approval app before it was relayed (a user without the role, a bad form). */
  RefusedByApp: 'refused-by-app',
} as const;
export type RefusalRule = (typeof RefusalRule)[keyof typeof RefusalRule];

/** Who the attester says signed: the login's issuer and subject. */
export interface AttestedIdentity {
  keyId: string;
  issuer: string;
  subject: string;
}

export type Decision =
  | {
      accepted: true;
      signed: boolean;
      attested?: AttestedIdentity;
      /** Who signed, as the plan spells them (the sign-off may spell them otherwise: canonicalName). */
      approver: string;
    }
  | { accepted: false; rule: RefusalRule; reason: string };

/**
 * The exact text an approver signs: every field that gives a sign-off its meaning, so a signature cannot be
 * replayed for another cutover, role, decision or evidence.
 */
export function signOffMessage(
  workflowId: string,
  { role, approver, decision }: { role: string; approver: string; decision: string },
  digest: string,
): string {
  return ['cutover-signoff/v1', workflowId, role, approver, decision, digest].join('\n');
}

/**
 * The exact text an attester signs: the sign-off's meaning (signOffMessage) and who the login said signed,
 * when. A different issuer, subject or time, or another cutover, role, decision or evidence, does not verify.
 */
export function attestationMessage(
  signOff: string,
  attestation: { keyId: string; issuer: string; subject: string; issuedAt: string },
): string {
  return [
    'cutover-attestation/v1',
    signOff,
    attestation.keyId,
    attestation.issuer,
    attestation.subject,
    attestation.issuedAt,
  ].join('\n');
}

/**
 * A person's name as the gate compares it: Unicode NFC, and lower case where it is e-mail-like (holds an @), the
 * way organisations write logins: `Ana@Example.org` is `ana@example.org`. Plain names stay case-sensitive. The
 * sign-off's own spelling is what its signature and attestation cover; the record keeps the plan's.
 */
export function canonicalName(name: string): string {
  const nfc = name.normalize('NFC');
  return nfc.includes('@') ? nfc.toLowerCase() : nfc;
}

/** The exact text an approval app signs when it reports a refusal: the cutover, the attempt, the login, the time. */
export function appRefusalMessage(
  workflowId: string,
  refusal: Omit<AppRefusal, 'attestation'>,
  a: Omit<AppRefusal['attestation'], 'signature'>,
): string {
  return [
    'cutover-app-refusal/v1',
    workflowId,
    refusal.role,
    refusal.decision,
    refusal.user,
    refusal.reason,
    a.keyId,
    a.issuer,
    a.subject,
    a.issuedAt,
  ].join('\n');
}

/** Why an app's refusal report is not one to keep (unknown attester, bad signature, too old), or nothing. */
export function appRefusalProblem(config: GateConfig, refusal: AppRefusal, now: number): string | undefined {
  const a = refusal.attestation;
  const key = config.attesters?.[a.keyId];
  if (!key) return `attester key "${a.keyId}" is not one the workers trust`;
  if (!verifySignature(key, a.signature, appRefusalMessage(config.workflowId, refusal, a))) {
    return `the report does not verify with key "${a.keyId}"`;
  }
  const age = now - Date.parse(a.issuedAt);
  const maxAge = config.attestationMaxAgeMs ?? DEFAULT_ATTESTATION_MAX_AGE_MS;
  if (!(age >= -ATTESTATION_SKEW_MS && age <= maxAge)) return `reported at ${a.issuedAt}: outside the attestation age`;
  return undefined;
}

/** The sign-offs that count now: those made against the current evidence. */
export function countingSignOffs(gate: GateState): SignOffRecord[] {
  return gate.signoffs.filter((s) => s.digest === gate.evidenceDigest);
}

/**
 * Decides whether `signOff` counts. Never throws; every refusal names its rule. Names are compared by
 * canonicalName: one person however the sign-off spells them.
 */
export function decideSignOff(config: GateConfig, gate: GateState, signOff: SignOff, now = 0): Decision {
  const { role, decision } = signOff;
  const same = (a: string, b: string) => a === b || canonicalName(a) === canonicalName(b);
  // The plan's spelling of the signer, when the plan lists them: what the gate records and counts.
  const listed = Object.values(config.roles).flat();
  const approver = listed.includes(signOff.approver)
    ? signOff.approver
    : (listed.find((name) => same(name, signOff.approver)) ?? signOff.approver);
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
    .filter(([, names]) => names.some((name) => same(name, approver)))
    .map(([r]) => r);
  if (rolesOfApprover.length === 0) {
    return refuse(RefusalRule.UnknownApprover, `"${approver}" is not an approver in this plan`);
  }
  if (!approvers.some((name) => same(name, approver))) {
    return refuse(RefusalRule.WrongRole, `"${approver}" may sign for ${rolesOfApprover.join(', ')}, not for ${role}`);
  }
  if (config.initiator !== undefined && same(approver, config.initiator) && !config.allowInitiator) {
    return refuse(RefusalRule.Initiator, `"${approver}" started this cutover and may not sign it off`);
  }
  const digest = gate.evidenceDigest ?? '';
  if (signOff.evidenceDigest !== undefined && signOff.evidenceDigest !== digest) {
    return refuse(
      RefusalRule.StaleEvidence,
      `signed against evidence ${signOff.evidenceDigest.slice(0, 12)}…, but the evidence is now ${digest.slice(0, 12)}…`,
    );
  }
  // What the approver signed, and the app attested: the sign-off as it was sent.
  const message = signOffMessage(config.workflowId, { role, approver: signOff.approver, decision }, digest);
  const proof = checkProof(
    config,
    signOff,
    { approver, message, now },
    {
      covers: 'this cutover, role, approver, decision, evidence and login',
      signs: 'this cutover, role, decision and evidence',
      required: config.requireAttested === true,
      how: 'cutover approve --key FILE',
    },
  );
  if (!proof.ok) return refuse(proof.rule, proof.reason);
  const { signed, attested } = proof;
  // One person: the same typed name, or the same login where the app attested one.
  const samePerson = (s: SignOffRecord) =>
    same(s.approver, approver) ||
    (attested !== undefined && s.attested?.issuer === attested.issuer && s.attested.subject === attested.subject);
  const counting = countingSignOffs(gate);
  const duplicate = counting.find((s) => samePerson(s) && s.role === role);
  if (duplicate) {
    return refuse(RefusalRule.Duplicate, `"${duplicate.approver}" has already signed for ${role}`);
  }
  if (config.separationOfDuties) {
    const other = counting.find((s) => samePerson(s) && s.role !== role);
    if (other) {
      return refuse(
        RefusalRule.SeparationOfDuties,
        `${other.approver === approver ? `"${approver}"` : `the same login (${other.approver})`} already signed for ${other.role}; one person signs for one role`,
      );
    }
  }
  return { accepted: true, signed, approver, ...(attested ? { attested } : {}) };
}

function refuse(rule: RefusalRule, reason: string): Decision {
  return { accepted: false, rule, reason };
}

/** What a sign-off (or a break-glass sign-off) brings to show who sent it. */
export interface Proof {
  signature?: string;
  attestation?: { keyId: string; issuer: string; subject: string; issuedAt: string; signature: string };
}

/**
 * Checks a message's proof of who sent it: an attestation by an attester the workers trust, recent against the
 * workflow's clock, and the approver's signature where the plan has keys. `required`: one of the two must be
 * there. The words say what the message covers in a refusal; `how` is the command that signs.
 */
export function checkProof(
  config: GateConfig,
  proof: Proof,
  /** Who the message says sent it, the exact text signed, and the workflow's time. */
  { approver, message, now }: { approver: string; message: string; now: number },
  words: { covers: string; signs: string; required: boolean; how: string; keysFrom?: string },
): { ok: true; signed: boolean; attested?: AttestedIdentity } | { ok: false; rule: RefusalRule; reason: string } {
  const no = (rule: RefusalRule, reason: string) => ({ ok: false as const, rule, reason });
  let attested: AttestedIdentity | undefined;
  if (proof.attestation) {
    const a = proof.attestation;
    const key = config.attesters?.[a.keyId];
    if (!key) return no(RefusalRule.BadAttestation, `attester key "${a.keyId}" is not one the workers trust`);
    if (!verifySignature(key, a.signature, attestationMessage(message, a))) {
      return no(
        RefusalRule.BadAttestation,
        `the attestation does not verify with key "${a.keyId}" for ${words.covers}`,
      );
    }
    const maxAge = config.attestationMaxAgeMs ?? DEFAULT_ATTESTATION_MAX_AGE_MS;
    const age = now - Date.parse(a.issuedAt);
    if (!(age >= -ATTESTATION_SKEW_MS && age <= maxAge)) {
      return no(
        RefusalRule.BadAttestation,
        age < 0
          ? `attested at ${a.issuedAt}, ahead of the workflow's clock`
          : `attested at ${a.issuedAt}: older than ${Math.round(maxAge / 1000)} s`,
      );
    }
    attested = { keyId: a.keyId, issuer: a.issuer, subject: a.subject };
  }
  let signed = false;
  if (config.keys) {
    const key = config.keys[approver];
    if (proof.signature === undefined) {
      return no(RefusalRule.MissingSignature, `this plan requires signed sign-offs (${words.how})`);
    }
    if (!key) {
      return no(
        RefusalRule.BadSignature,
        `it is signed, but no key is pinned for ${approver} (${words.keysFrom ?? "the plan's signoff.keys"})`,
      );
    }
    if (!verifySignature(key, proof.signature, message)) {
      return no(RefusalRule.BadSignature, `the signature does not verify with ${approver}'s key for ${words.signs}`);
    }
    signed = true;
  }
  if (words.required && !attested && !signed) {
    return no(
      RefusalRule.Unattested,
      `the workers require it attested by the approval app's login (sign in there) or signed with a key pinned for ${approver} (${words.keysFrom ?? "the plan's signoff.keys"}: ${words.how})`,
    );
  }
  return { ok: true, signed, ...(attested ? { attested } : {}) };
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
    const when = config.requiredWhen?.[role];
    const because = gate.needs?.[role] ?? [];
    // A conditional role is awaited only once the evidence shows its condition (gate-needs.ts).
    const required = when && because.length === 0 ? 0 : (config.quorum[role] ?? 1);
    const approvedBy = counting.filter((s) => s.role === role && s.decision === 'approve').map((s) => s.approver);
    return {
      role,
      required,
      approvers,
      approvedBy,
      missing: Math.max(0, required - approvedBy.length),
      ...(when ? { onlyWhen: { conditions: [...when], because } } : {}),
    };
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

/** The sign-off gate's rules, from the checked plan. */
export function gateRules(plan: CutoverPlan, workflowId: string): GateConfig {
  return {
    workflowId: workflowId,
    roles: plan.signoff.roles,
    quorum: Object.fromEntries(Object.keys(plan.signoff.roles).map((role) => [role, quorumFor(plan, role)])),
    ...(plan.signoff.requiredWhen ? { requiredWhen: plan.signoff.requiredWhen } : {}),
    separationOfDuties: plan.signoff.separationOfDuties,
    allowInitiator: plan.signoff.allowInitiator,
    ...(plan.initiator !== undefined ? { initiator: plan.initiator } : {}),
    ...(plan.signoff.keys !== undefined ? { keys: plan.signoff.keys } : {}),
    ...(plan.signoff.attesters !== undefined ? { attesters: plan.signoff.attesters } : {}),
    ...(plan.signoff.requireAttested ? { requireAttested: true } : {}),
    ...(plan.signoff.attestationMaxAge !== undefined
      ? { attestationMaxAgeMs: toMs(plan.signoff.attestationMaxAge) }
      : {}),
  };
}
