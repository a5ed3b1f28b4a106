import { ed25519 } from '@noble/curves/ed25519';
import { signSignOff } from '../../lib/api';
import { applySignOff, decideSignOff, gateView, type GateConfig } from '../../workflows/gate';
import { canonicalJson } from '../../plan/canonical';
import { evidenceDigest } from '../../workflows/digest';
import type { GateState } from '../../shapes/status';

const config: GateConfig = {
  workflowId: 'cutover-x',
  roles: { engineering: ['ana', 'al'], qa: ['bo'] },
  quorum: { engineering: 2, qa: 1 },
  separationOfDuties: true,
  allowInitiator: false,
  initiator: 'al',
};

const open = (digest = 'a'.repeat(64)): GateState => ({ status: 'open', evidenceDigest: digest, signoffs: [] });
const record = (role: string, approver: string, digest = 'a'.repeat(64)) => ({
  role,
  approver,
  decision: 'approve' as const,
  digest,
  signed: false,
  at: 't',
  via: 'update' as const,
});

test('a sign-off before the gate opens is refused', () => {
  expect(
    decideSignOff(config, { status: 'closed', signoffs: [] }, { role: 'qa', approver: 'bo', decision: 'approve' }),
  ).toMatchObject({ accepted: false, rule: 'gate-not-open' });
});

test('per-role quorum: the gate approves only when every role has enough approvals', () => {
  const withInitiatorAllowed = { ...config, allowInitiator: true };
  let gate = applySignOff(withInitiatorAllowed, open(), record('qa', 'bo'));
  gate = applySignOff(withInitiatorAllowed, gate, record('engineering', 'ana'));
  expect(gate.status).toBe('open');
  expect(gateView(withInitiatorAllowed, gate).roles.map((r) => [r.role, r.missing])).toEqual([
    ['engineering', 1],
    ['qa', 0],
  ]);
  gate = applySignOff(withInitiatorAllowed, gate, record('engineering', 'al'));
  expect(gate.status).toBe('approved');
});

test('the initiator may not sign unless the plan allows it', () => {
  expect(decideSignOff(config, open(), { role: 'engineering', approver: 'al', decision: 'approve' })).toMatchObject({
    rule: 'initiator',
  });
  expect(
    decideSignOff({ ...config, allowInitiator: true }, open(), {
      role: 'engineering',
      approver: 'al',
      decision: 'approve',
    }),
  ).toMatchObject({ accepted: true });
});

test('sign-offs made against old evidence stop counting when the evidence changes', () => {
  let gate = applySignOff(config, open('a'.repeat(64)), record('qa', 'bo'));
  expect(gateView(config, gate).roles.find((r) => r.role === 'qa')?.approvedBy).toEqual(['bo']);
  gate = { ...gate, evidenceDigest: 'b'.repeat(64) };
  expect(gateView(config, gate).roles.find((r) => r.role === 'qa')?.approvedBy).toEqual([]);
  // ...and the approver may sign again, for the new evidence.
  expect(decideSignOff(config, gate, { role: 'qa', approver: 'bo', decision: 'approve' })).toMatchObject({
    accepted: true,
  });
});

test('a rejection decides the gate at once', () => {
  const gate = applySignOff(config, open(), { ...record('qa', 'bo'), decision: 'reject' });
  expect(gate.status).toBe('rejected');
  expect(decideSignOff(config, gate, { role: 'engineering', approver: 'ana', decision: 'approve' })).toMatchObject({
    rule: 'gate-decided',
  });
});

test('the evidence digest ignores key order but not values', () => {
  expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
  expect(evidenceDigest({ a: 1, b: 2 })).toBe(evidenceDigest({ b: 2, a: 1 }));
  expect(evidenceDigest({ a: 1 })).not.toBe(evidenceDigest({ a: 2 }));
  expect(evidenceDigest({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
});

test('a sign-off signed by the CLI verifies under the gate, and only for what was signed', () => {
  const secret = ed25519.utils.randomPrivateKey();
  const keyed: GateConfig = { ...config, keys: { bo: Buffer.from(ed25519.getPublicKey(secret)).toString('base64') } };
  const digest = 'a'.repeat(64);
  const signature = signSignOff(secret, 'cutover-x', { role: 'qa', approver: 'bo', decision: 'approve' }, digest);
  expect(decideSignOff(keyed, open(digest), { role: 'qa', approver: 'bo', decision: 'approve', signature })).toEqual({
    accepted: true,
    signed: true,
    approver: 'bo',
  });
  expect(
    decideSignOff(keyed, open(digest), { role: 'qa', approver: 'bo', decision: 'reject', signature }),
  ).toMatchObject({ rule: 'bad-signature' });
  expect(
    decideSignOff({ ...keyed, workflowId: 'cutover-y' }, open(digest), {
      role: 'qa',
      approver: 'bo',
      decision: 'approve',
      signature,
    }),
  ).toMatchObject({ rule: 'bad-signature' });
});

describe('identity as the organisation writes it: names compared after NFC, e-mail-like ones case-insensitively', () => {
  const mail: GateConfig = {
    workflowId: 'cutover-x',
    roles: { engineering: ['ana@example.org'], qa: ['bo@example.org'], business: ['Zoë'] },
    quorum: { engineering: 1, qa: 1, business: 1 },
    separationOfDuties: true,
    allowInitiator: false,
    initiator: 'rm@example.org',
  };
  const sign = (role: string, approver: string, gate = open()) =>
    decideSignOff(mail, gate, { role, approver, decision: 'approve' }, 0);

  test('Ana@Example.org signs for a plan that lists ana@example.org, recorded as the plan spells her', () => {
    expect(sign('engineering', 'Ana@Example.org')).toEqual({
      accepted: true,
      signed: false,
      approver: 'ana@example.org',
    });
  });

  test('a decomposed Zoë (e + U+0308) is the plan’s Zoë; plain names stay case-sensitive', () => {
    expect(sign('business', 'Zoe\u0308')).toMatchObject({ accepted: true, approver: 'Zoë' });
    expect(sign('business', 'zoë')).toMatchObject({ accepted: false, rule: 'unknown-approver' });
  });

  test('two spellings of one person are one for duplicates and the initiator', () => {
    const gate = { ...open(), signoffs: [record('engineering', 'ana@example.org')] };
    expect(sign('engineering', 'ANA@example.org', gate)).toMatchObject({ accepted: false, rule: 'duplicate' });
    const initiatorConfig = { ...mail, roles: { ...mail.roles, qa: ['rm@example.org'] } };
    expect(
      decideSignOff(initiatorConfig, open(), { role: 'qa', approver: 'RM@example.org', decision: 'approve' }),
    ).toMatchObject({ accepted: false, rule: 'initiator' });
  });
});
