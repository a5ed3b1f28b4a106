/**
 * Break-glass: the rules by which production may change while the calendar says it may not (a freeze, or outside
 * the windows), where the workers' policy allows it. Two people: one who holds the policy's break-glass role
 * (`incident-commander`, say) and a second person (another of them, or an approver of the plan), each attested by
 * the approval app's login or signed with their own key, each with a reason. Pure and deterministic like
 * gate.ts: the time is the caller's workflow clock.
 */
import type { BreakGlassGrant } from '../plan/calendar';
import { canonicalName, checkProof, RefusalRule, type AttestedIdentity, type GateConfig } from './gate';
import type { BreakGlass } from './messages';

/** Why a break-glass sign-off did not count, beyond the gate's own rules. Stable strings. */
export const BreakGlassRule = {
  /** Nothing waits for the calendar now. */
  NotWaiting: 'not-waiting',
  /** The workers' policy allows no break-glass for this pipeline. */
  NotAllowed: 'not-allowed',
  /** The same person, or a second sign-off of the same side (two commanders are fine; the pair needs one). */
  SecondPerson: 'second-person',
} as const;

/** A counted break-glass sign-off. */
export interface BreakGlassRecord {
  /** Which change it lets through: 'production' (the deploy) or 'decommission'. */
  change: string;
  role: string;
  approver: string;
  reason: string;
  /** The evidence digest it was made against. */
  digest: string;
  signed: boolean;
  attested?: AttestedIdentity;
  at: string;
  via: 'signal' | 'update';
}

/** What a change waiting for the calendar offers: which change, and whom the policy lets break the glass. */
export interface GlassCase {
  change: string;
  grant?: BreakGlassGrant;
}

export type BreakGlassDecision =
  | { accepted: true; approver: string; signed: boolean; attested?: AttestedIdentity }
  | { accepted: false; rule: string; reason: string };

/**
 * The exact text a break-glass sign-off signs (and an attester attests): the cutover, the change it lets
 * through, the role, the person, the evidence and the reason; it cannot be moved to another change or reason.
 */
export function breakGlassMessage(
  { workflowId, change, digest }: GlassTarget,
  { role, approver, reason }: { role: string; approver: string; reason: string },
): string {
  return ['cutover-break-glass/v1', workflowId, change, role, approver, digest, reason].join('\n');
}

/** What a break-glass sign-off covers besides its fields: the cutover, the change it lets through, the evidence. */
export interface GlassTarget {
  workflowId: string;
  change: string;
  digest: string;
}

const same = (a: string, b: string) => a === b || canonicalName(a) === canonicalName(b);

/** Whether `given` holds the pair the policy asks for: one of its role, and a second, different person. */
export function glassBroken(grant: BreakGlassGrant | undefined, given: BreakGlassRecord[]): boolean {
  if (!grant) return false;
  const commanders = given.filter((g) => g.role === grant.role);
  return commanders.some((c) => given.some((other) => !samePerson(c, other)));
}

function samePerson(a: BreakGlassRecord, b: { approver: string; attested?: AttestedIdentity }): boolean {
  return (
    same(a.approver, b.approver) ||
    (a.attested !== undefined &&
      b.attested !== undefined &&
      a.attested.issuer === b.attested.issuer &&
      a.attested.subject === b.attested.subject)
  );
}

/**
 * Decides whether a break-glass sign-off counts towards letting `open.change` through now. `given`: the ones
 * counted so far for that change. Never throws; every refusal names its rule.
 */
export function decideBreakGlass(
  config: GateConfig,
  { open, given }: { open: GlassCase | undefined; given: BreakGlassRecord[] },
  request: BreakGlass,
  { digest, now }: { digest: string; now: number },
): BreakGlassDecision {
  const refuse = (rule: string, reason: string): BreakGlassDecision => ({ accepted: false, rule, reason });
  if (!open) {
    return refuse(BreakGlassRule.NotWaiting, 'nothing waits for the change window: there is no glass to break');
  }
  const { grant } = open;
  if (!grant) {
    return refuse(BreakGlassRule.NotAllowed, "the workers' policy allows no break-glass for this pipeline");
  }
  // The policy's role, or a role of the plan for the second person.
  const roles: Record<string, string[]> = { ...config.roles, [grant.role]: grant.approvers };
  const names = roles[request.role];
  if (!names) {
    return refuse(
      RefusalRule.UnknownRole,
      `no role "${request.role}" may break the glass (the policy's ${grant.role}, or the plan's ${Object.keys(config.roles).join(', ')})`,
    );
  }
  const approver = names.find((name) => same(name, request.approver));
  if (approver === undefined) {
    return refuse(RefusalRule.WrongRole, `"${request.approver}" does not hold ${request.role}`);
  }
  if (config.initiator !== undefined && same(approver, config.initiator) && !config.allowInitiator) {
    return refuse(RefusalRule.Initiator, `"${approver}" started this cutover and may not sign it off`);
  }
  if (request.evidenceDigest !== undefined && request.evidenceDigest !== digest) {
    return refuse(
      RefusalRule.StaleEvidence,
      `signed against evidence ${request.evidenceDigest.slice(0, 12)}…, but the evidence is ${digest.slice(0, 12)}…`,
    );
  }
  const message = breakGlassMessage({ workflowId: config.workflowId, change: open.change, digest }, request);
  // Attested or signed, always: a key (the policy's for its role holders, the plan's for its approvers) is checked
  // when a signature comes, not demanded of an attested one.
  const keys = { ...(config.keys ?? {}), ...(grant.keys ?? {}) };
  const proof = checkProof(
    {
      ...config,
      // No key anywhere: an attested break-glass stands on its attestation, as before keys could be pinned.
      keys:
        request.signature === undefined || (Object.keys(keys).length === 0 && request.attestation) ? undefined : keys,
    },
    request,
    { approver, message, now },
    {
      covers: 'this cutover, change, role, approver, evidence, reason and login',
      signs: 'this cutover, change, role, evidence and reason',
      required: true,
      how: 'cutover break-glass --key FILE',
      keysFrom: "the policy's breakGlass.keys, or the plan's signoff.keys",
    },
  );
  if (!proof.ok) return refuse(proof.rule, proof.reason);
  const who = { approver, ...(proof.attested ? { attested: proof.attested } : {}) };
  const already = given.find((g) => samePerson(g, who));
  if (already) {
    return refuse(
      BreakGlassRule.SecondPerson,
      `${already.approver === approver ? `"${approver}"` : `the same login (${already.approver})`} has already signed this break-glass; it takes a second person`,
    );
  }
  // The pair is one of the policy's role and one other: a second plan approver adds nothing.
  if (request.role !== grant.role && given.some((g) => g.role !== grant.role)) {
    return refuse(
      BreakGlassRule.SecondPerson,
      `a second person has signed already; the break-glass waits for the ${grant.role}`,
    );
  }
  return { accepted: true, approver, signed: proof.signed, ...(proof.attested ? { attested: proof.attested } : {}) };
}
