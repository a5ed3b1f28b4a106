/**
 * Break-glass rules (workflows/break-glass.ts): one of the policy's break-glass role and a second person, each
 * attested or signed over the change, the evidence and the reason, only while a change waits for the calendar.
 */
import { ed25519 } from '@noble/curves/ed25519';
import { attestBreakGlass, signBreakGlass } from '../../lib/api';
import { decideBreakGlass, glassBroken, type BreakGlassRecord, type GlassCase } from '../../workflows/break-glass';
import type { GateConfig } from '../../workflows/gate';
import { checkBreakGlass } from '../../workflows/message-checks';

const appKey = ed25519.utils.randomPrivateKey();
const ivyKey = ed25519.utils.randomPrivateKey();
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const DIGEST = 'a'.repeat(64);
const NOW = Date.parse('2027-03-29T08:00:00Z');
const config: GateConfig = {
  workflowId: 'cutover-x',
  roles: { operations: ['di'], business: ['ed'] },
  quorum: { operations: 1, business: 1 },
  separationOfDuties: true,
  allowInitiator: false,
  initiator: 'ed',
  attesters: { 'app-1': hex(ed25519.getPublicKey(appKey)) },
};
const waiting: GlassCase = {
  change: 'production',
  grant: { role: 'incident-commander', approvers: ['ivy', 'ike'] },
};
const target = { workflowId: 'cutover-x', change: 'production', digest: DIGEST };
const ISSUER = 'https://login.example';

/** A request as the approval app sends it: attested for `who` at NOW. */
function attested(role: string, approver: string, reason = 'INC-4711: V1 corrupts PAR90') {
  const request = { role, approver, reason };
  const attestation = attestBreakGlass({ keyId: 'app-1', privateKey: appKey }, target, request, {
    issuer: ISSUER,
    subject: `sub-${approver}`,
    issuedAt: new Date(NOW),
  });
  return { ...request, evidenceDigest: DIGEST, attestation };
}

function counted(role: string, approver: string): BreakGlassRecord {
  return {
    change: 'production',
    role,
    approver,
    reason: 'r',
    digest: DIGEST,
    signed: false,
    attested: { keyId: 'app-1', issuer: ISSUER, subject: `sub-${approver}` },
    at: 't',
    via: 'update',
  };
}

const decide = (request: ReturnType<typeof attested>, given: BreakGlassRecord[] = [], open = waiting) =>
  decideBreakGlass(config, { open: open, given: given }, request, { digest: DIGEST, now: NOW });

test('the commander and a second person, attested, break the glass, in either order', () => {
  expect(decide(attested('incident-commander', 'ivy'))).toEqual({
    accepted: true,
    approver: 'ivy',
    signed: false,
    attested: { keyId: 'app-1', issuer: ISSUER, subject: 'sub-ivy' },
  });
  expect(decide(attested('operations', 'di'), [counted('incident-commander', 'ivy')])).toMatchObject({
    accepted: true,
  });
  expect(glassBroken(waiting.grant, [counted('incident-commander', 'ivy')])).toBe(false);
  expect(glassBroken(waiting.grant, [counted('operations', 'di'), counted('incident-commander', 'ivy')])).toBe(true);
  // Two commanders are a pair too; two plan approvers are not.
  expect(glassBroken(waiting.grant, [counted('incident-commander', 'ivy'), counted('incident-commander', 'ike')])).toBe(
    true,
  );
  expect(decide(attested('business', 'di'), [counted('operations', 'di')])).toMatchObject({ rule: 'wrong-role' });
  expect(decide(attested('operations', 'di'), [counted('operations', 'di')])).toMatchObject({
    accepted: false,
    rule: 'second-person',
  });
});

test('the same person twice is one person, however they come', () => {
  expect(decide(attested('operations', 'ivy'), [counted('incident-commander', 'ivy')])).toMatchObject({
    accepted: false,
    rule: 'wrong-role',
  });
  expect(decide(attested('incident-commander', 'ivy'), [counted('incident-commander', 'ivy')])).toEqual({
    accepted: false,
    rule: 'second-person',
    reason: '"ivy" has already signed this break-glass; it takes a second person',
  });
  expect(decide(attested('incident-commander', 'ike'), [counted('operations', 'di')])).toMatchObject({
    accepted: true,
  });
});

test('only while a change waits, only where the policy allows it, only by who holds the role', () => {
  expect(
    decideBreakGlass(config, { open: undefined, given: [] }, attested('incident-commander', 'ivy'), {
      digest: DIGEST,
      now: NOW,
    }),
  ).toEqual({
    accepted: false,
    rule: 'not-waiting',
    reason: 'nothing waits for the change window: there is no glass to break',
  });
  expect(decide(attested('incident-commander', 'ivy'), [], { change: 'production' })).toEqual({
    accepted: false,
    rule: 'not-allowed',
    reason: "the workers' policy allows no break-glass for this pipeline",
  });
  expect(decide(attested('incident-commander', 'di'))).toEqual({
    accepted: false,
    rule: 'wrong-role',
    reason: '"di" does not hold incident-commander',
  });
  expect(decide(attested('site-reliability', 'ivy'))).toMatchObject({ rule: 'unknown-role' });
  // The initiator is not a second person unless the plan lets them sign.
  expect(decide(attested('business', 'ed'), [counted('incident-commander', 'ivy')])).toMatchObject({
    rule: 'initiator',
  });
});

test('unattested and unsigned is refused; an attestation or signature for another change or reason does not verify', () => {
  const bare = { role: 'incident-commander', approver: 'ivy', reason: 'now', evidenceDigest: DIGEST };
  expect(decideBreakGlass(config, { open: waiting, given: [] }, bare, { digest: DIGEST, now: NOW })).toMatchObject({
    rule: 'unattested',
  });
  const forDecommission = attestBreakGlass(
    { keyId: 'app-1', privateKey: appKey },
    { ...target, change: 'decommission' },
    bare,
    { issuer: ISSUER, subject: 'sub-ivy', issuedAt: new Date(NOW) },
  );
  expect(
    decideBreakGlass(
      config,
      { open: waiting, given: [] },
      { ...bare, attestation: forDecommission },
      { digest: DIGEST, now: NOW },
    ),
  ).toMatchObject({
    rule: 'bad-attestation',
  });
  const otherReason = { ...attested('incident-commander', 'ivy', 'one reason'), reason: 'another reason' };
  expect(decide(otherReason)).toMatchObject({ rule: 'bad-attestation' });
  // Signed with the approver's own key, where the plan has it.
  const keyed = { ...config, keys: { ivy: hex(ed25519.getPublicKey(ivyKey)) } };
  const signature = signBreakGlass(ivyKey, target, bare);
  expect(
    decideBreakGlass(keyed, { open: waiting, given: [] }, { ...bare, signature }, { digest: DIGEST, now: NOW }),
  ).toMatchObject({
    accepted: true,
    signed: true,
  });
  expect(
    decideBreakGlass(
      keyed,
      { open: waiting, given: [] },
      { ...bare, signature: signBreakGlass(appKey, target, bare) },
      { digest: DIGEST, now: NOW },
    ),
  ).toMatchObject({ rule: 'bad-signature' });
  // A plan with keys does not make an attested break-glass sign as well.
  expect(
    decideBreakGlass(keyed, { open: waiting, given: [] }, attested('incident-commander', 'ivy'), {
      digest: DIGEST,
      now: NOW,
    }),
  ).toMatchObject({
    accepted: true,
    signed: false,
  });
  // Old evidence: refused by name.
  expect(decide({ ...attested('incident-commander', 'ivy'), evidenceDigest: 'b'.repeat(64) })).toMatchObject({
    rule: 'stale-evidence',
  });
});

test('a malformed break-glass names each field', () => {
  expect(checkBreakGlass({ role: 'incident-commander', approver: '', decision: 'approve' })).toEqual({
    ok: false,
    problems: [
      { path: 'approver', message: 'too short: expected at least 1 character(s)' },
      { path: 'reason', message: 'expected reason, received undefined' },
      { path: '(payload)', message: 'unknown key "decision"' },
    ],
  });
});

test("the policy pins its role holders' keys: a break-glass signed with one counts, and a refusal says what is missing", () => {
  // The incident commander is no approver of the plan, and the plan has no keys: only the policy knows her key.
  const bare = { role: 'incident-commander', approver: 'ivy', reason: 'INC-4711', evidenceDigest: DIGEST };
  const signature = signBreakGlass(ivyKey, target, bare);
  const grant = waiting.grant as NonNullable<typeof waiting.grant>;
  const pinned = { ...waiting, grant: { ...grant, keys: { ivy: hex(ed25519.getPublicKey(ivyKey)) } } };
  expect(
    decideBreakGlass(config, { open: pinned, given: [] }, { ...bare, signature }, { digest: DIGEST, now: NOW }),
  ).toMatchObject({ accepted: true, signed: true });
  // Signed, but nothing pins her key: the refusal names where a key goes.
  expect(
    decideBreakGlass(config, { open: waiting, given: [] }, { ...bare, signature }, { digest: DIGEST, now: NOW }),
  ).toEqual({
    accepted: false,
    rule: 'bad-signature',
    reason: "it is signed, but no key is pinned for ivy (the policy's breakGlass.keys, or the plan's signoff.keys)",
  });
  // Neither attested nor signed: how to do either.
  expect(decideBreakGlass(config, { open: pinned, given: [] }, bare, { digest: DIGEST, now: NOW })).toMatchObject({
    rule: 'unattested',
    reason: expect.stringContaining("signed with a key pinned for ivy (the policy's breakGlass.keys"),
  });
  // Signed with another key than the one pinned.
  const other = signBreakGlass(ed25519.utils.randomPrivateKey(), target, bare);
  expect(
    decideBreakGlass(config, { open: pinned, given: [] }, { ...bare, signature: other }, { digest: DIGEST, now: NOW }),
  ).toMatchObject({ accepted: false, rule: 'bad-signature' });
});
