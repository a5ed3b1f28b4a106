/**
 * Attested sign-offs at the gate: an attester the workers trust vouches for who signed (the login's issuer
 * and subject); the gate verifies it, refuses a bad or stale one, requires one where the workers say so,
 * and separates duties by login, not by typed name.
 */
import { ed25519 } from '@noble/curves/ed25519';
import { attestSignOff, signSignOff } from '../../lib/api';
import { applySignOff, decideSignOff, type GateConfig } from '../../workflows/gate';
import type { GateState } from '../../shapes/status';

const digest = 'a'.repeat(64);
const appKey = ed25519.utils.randomPrivateKey();
const otherKey = ed25519.utils.randomPrivateKey();
const edKey = ed25519.utils.randomPrivateKey();
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const NOW = Date.parse('2026-11-26T10:00:00.000Z');

const config: GateConfig = {
  workflowId: 'cutover-x',
  roles: { engineering: ['ana'], qa: ['bo'], business: ['ed'] },
  quorum: { engineering: 1, qa: 1, business: 1 },
  separationOfDuties: true,
  allowInitiator: false,
  attesters: { 'app-1': hex(ed25519.getPublicKey(appKey)) },
};
const open = (): GateState => ({ status: 'open', evidenceDigest: digest, signoffs: [] });
const login = { issuer: 'https://login.example', subject: 'user-42' };

function attested(role: string, approver: string, options: { key?: Uint8Array; keyId?: string; at?: number } = {}) {
  const signOff = { role, approver, decision: 'approve' as const };
  const attestation = attestSignOff(
    { keyId: options.keyId ?? 'app-1', privateKey: options.key ?? appKey },
    { workflowId: config.workflowId, digest },
    signOff,
    { ...login, issuedAt: new Date(options.at ?? NOW - 5_000) },
  );
  return { ...signOff, attestation };
}

test('a trusted attestation counts, and names the login behind it', () => {
  expect(decideSignOff(config, open(), attested('qa', 'bo'), NOW)).toEqual({
    accepted: true,
    signed: false,
    approver: 'bo',
    attested: { keyId: 'app-1', ...login },
  });
});

test('an unknown key, a forged or altered attestation, or a stale one is refused as bad-attestation', () => {
  const refusal = (payload: Parameters<typeof decideSignOff>[2]) => decideSignOff(config, open(), payload, NOW);
  expect(refusal(attested('qa', 'bo', { keyId: 'app-9' }))).toMatchObject({
    accepted: false,
    rule: 'bad-attestation',
    reason: 'attester key "app-9" is not one the workers trust',
  });
  expect(refusal(attested('qa', 'bo', { key: otherKey }))).toMatchObject({ rule: 'bad-attestation' });
  // Signed for bo, sent as ed: the signature covers the approver.
  expect(refusal({ ...attested('qa', 'bo'), approver: 'ed', role: 'business' })).toMatchObject({
    rule: 'bad-attestation',
  });
  // Another subject than the one signed.
  const a = attested('qa', 'bo');
  expect(refusal({ ...a, attestation: { ...a.attestation, subject: 'user-7' } })).toMatchObject({
    rule: 'bad-attestation',
  });
  expect(refusal(attested('qa', 'bo', { at: NOW - 11 * 60_000 }))).toMatchObject({
    rule: 'bad-attestation',
    reason: 'attested at 2026-11-26T09:49:00.000Z: older than 600 s',
  });
  expect(refusal(attested('qa', 'bo', { at: NOW + 5 * 60_000 }))).toMatchObject({ rule: 'bad-attestation' });
});

test('where the workers require it, a sign-off neither attested nor signed with the approver’s key is unattested', () => {
  const strict = { ...config, requireAttested: true, keys: undefined };
  expect(decideSignOff(strict, open(), { role: 'qa', approver: 'bo', decision: 'approve' }, NOW)).toMatchObject({
    accepted: false,
    rule: 'unattested',
  });
  expect(decideSignOff(strict, open(), attested('qa', 'bo'), NOW)).toMatchObject({ accepted: true });
  // The approver's own key still counts, where the plan has keys.
  const withKeys = { ...strict, keys: { ed: hex(ed25519.getPublicKey(edKey)) } };
  const signOff = { role: 'business', approver: 'ed', decision: 'approve' as const };
  const signature = signSignOff(edKey, config.workflowId, signOff, digest);
  expect(decideSignOff(withKeys, open(), { ...signOff, signature }, NOW)).toMatchObject({
    accepted: true,
    signed: true,
  });
});

test('separation of duties compares logins: one login signs for one role, whatever names it types', () => {
  const first = decideSignOff(config, open(), attested('qa', 'bo'), NOW);
  expect(first.accepted).toBe(true);
  const gate = applySignOff(config, open(), {
    role: 'qa',
    approver: 'bo',
    decision: 'approve',
    digest,
    signed: false,
    attested: { keyId: 'app-1', ...login },
    at: 't',
    via: 'update',
  });
  expect(decideSignOff(config, gate, attested('business', 'ed'), NOW)).toMatchObject({
    accepted: false,
    rule: 'separation-of-duties',
    reason: 'the same login (bo) already signed for qa; one person signs for one role',
  });
});
