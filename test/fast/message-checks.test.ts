/**
 * The workflow's zod-free message checks (workflows/message-checks.ts) give the same verdict as the zod
 * schemas of its zod twin (test/fast/message-schemas.ts), on valid payloads and on thousands of mutations.
 */
import { checkRollbackRequest, checkSignOff } from '../../workflows/message-checks';
import { rollbackRequestSchema, signOffSchema } from './message-schemas';

const digest = 'a'.repeat(64);
const VALUES: unknown[] = [
  undefined,
  null,
  true,
  0,
  -1,
  1.5,
  '',
  ' ',
  'x',
  'approve',
  'reject',
  'maybe',
  digest,
  digest.toUpperCase(),
  'g'.repeat(64),
  'a'.repeat(63),
  'a'.repeat(65),
  'x'.repeat(64),
  'x'.repeat(128),
  'x'.repeat(129),
  'x'.repeat(200),
  'x'.repeat(201),
  'x'.repeat(2000),
  'x'.repeat(2001),
  [],
  ['x'],
  {},
  { a: 1 },
];

/** Every payload that differs from `base` in one field (each value above), or lacks it, or adds one. */
function mutations(base: Record<string, unknown>): unknown[] {
  const out: unknown[] = [base, null, [], 'text', 7, {}];
  for (const key of [...Object.keys(base), 'comment', 'evidenceDigest', 'signature', 'attestation', 'extra']) {
    for (const value of VALUES) out.push({ ...base, [key]: value });
    const { [key]: _dropped, ...rest } = base;
    out.push(rest);
  }
  // JSON is what arrives: undefined fields vanish on the way.
  return out.map((p) => (p === undefined ? p : (JSON.parse(JSON.stringify(p)) as unknown)));
}

test('sign-offs: the workflow check and the zod schema agree on every payload', () => {
  const attestation = {
    keyId: 'app-1',
    issuer: 'https://login.example',
    subject: 'user-42',
    issuedAt: '2026-11-26T09:30:00.000Z',
    signature: 'cd',
  };
  const bases = [
    { role: 'qa', approver: 'bo', decision: 'approve' },
    { role: 'qa', approver: 'bo', decision: 'reject', comment: 'no', evidenceDigest: digest, signature: 'ab' },
    { role: 'qa', approver: 'bo', decision: 'approve', attestation },
    // The attestation's own fields, each mutated.
    ...mutations(attestation).map((a) => ({ role: 'qa', approver: 'bo', decision: 'approve', attestation: a })),
  ];
  let compared = 0;
  for (const payload of bases.slice(0, 3).flatMap(mutations).concat(bases.slice(3))) {
    const zod = signOffSchema.safeParse(payload);
    const ours = checkSignOff(payload);
    expect({ payload, ok: ours.ok }).toEqual({ payload, ok: zod.success });
    if (ours.ok && zod.success) expect(ours.value).toEqual(zod.data);
    compared++;
  }
  expect(compared).toBeGreaterThan(500);
});

test('rollback requests: the workflow check and the zod schema agree on every payload', () => {
  for (const payload of mutations({ requestedBy: 'di', reason: 'error rate up' })) {
    const zod = rollbackRequestSchema.safeParse(payload);
    const ours = checkRollbackRequest(payload);
    expect({ payload, ok: ours.ok }).toEqual({ payload, ok: zod.success });
  }
});

test('a refused payload names the field that is wrong', () => {
  const refused = checkSignOff({ role: 'qa', approver: 'bo', decision: 'maybe', extra: 1 });
  expect(refused.ok).toBe(false);
  if (!refused.ok) {
    expect(refused.problems.map((p) => p.path)).toEqual(['decision', '(payload)']);
    expect(refused.problems[1]?.message).toBe('unknown key "extra"');
  }
});
