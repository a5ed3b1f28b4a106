/**
 * The sign-off and rollback-request rules, without zod, for the workflow: the sandbox
 * evaluates every module a workflow loads once per workflow, and zod alone is over a megabyte per cutover.
 * test/fast/message-checks.test.ts holds them to a zod twin (test/fast/message-schemas.ts) on thousands of payloads.
 */
import { MAX_COMMENT_LENGTH, type Attestation, type BreakGlass, type RollbackRequest, type SignOff } from './messages';

export interface MessageProblem {
  path: string;
  message: string;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; problems: MessageProblem[] };

type Rule = (value: unknown) => string | undefined;

const kind = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

const text =
  (min: number, max: number, pattern?: RegExp, patternMessage?: string): Rule =>
  (v) => {
    if (typeof v !== 'string') return `expected string, received ${kind(v)}`;
    if (v.length < min) return `too short: expected at least ${min} character(s)`;
    if (v.length > max) return `too long: expected at most ${max} characters`;
    if (pattern && !pattern.test(v)) return patternMessage ?? 'invalid format';
    return undefined;
  };

const oneOf =
  (...options: string[]): Rule =>
  (v) =>
    typeof v === 'string' && options.includes(v)
      ? undefined
      : `expected one of ${options.map((o) => `"${o}"`).join(', ')}`;

function check<T>(payload: unknown, required: Record<string, Rule>, optional: Record<string, Rule>): Checked<T> {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
    return { ok: false, problems: [{ path: '(payload)', message: `expected object, received ${kind(payload)}` }] };
  }
  const record = payload as Record<string, unknown>;
  const problems: MessageProblem[] = [];
  for (const [key, rule] of Object.entries(required)) {
    const message = key in record ? rule(record[key]) : `expected ${key}, received undefined`;
    if (message) problems.push({ path: key, message });
  }
  for (const [key, rule] of Object.entries(optional)) {
    if (record[key] === undefined) continue;
    const message = rule(record[key]);
    if (message) problems.push({ path: key, message });
  }
  const unknown = Object.keys(record).filter((k) => !(k in required) && !(k in optional));
  if (unknown.length > 0) {
    problems.push({
      path: '(payload)',
      message: `unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}`,
    });
  }
  if (problems.length > 0) return { ok: false, problems };
  const value: Record<string, unknown> = {};
  for (const key of [...Object.keys(required), ...Object.keys(optional)]) {
    if (record[key] !== undefined) value[key] = record[key];
  }
  return { ok: true, value: value as T };
}

/** `Date.toISOString()`'s form: what an attester writes as `issuedAt`. */
export const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** An object checked field by field; its problems come back as one message naming the fields. */
const object =
  (required: Record<string, Rule>): Rule =>
  (v) => {
    const checked = check<Attestation>(v, required, {});
    return checked.ok ? undefined : checked.problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  };

const attestationRule = object({
  keyId: text(1, 64),
  issuer: text(1, 512),
  subject: text(1, 512),
  issuedAt: text(24, 24, ISO_INSTANT, 'expected an ISO 8601 UTC time such as 2026-11-26T09:30:00.000Z'),
  signature: text(1, 200),
});

/** Checks a sign-off: its fields, and nothing else. */
export function checkSignOff(payload: unknown): Checked<SignOff> {
  return check<SignOff>(
    payload,
    { role: text(1, 64), approver: text(1, 128), decision: oneOf('approve', 'reject') },
    {
      comment: text(0, MAX_COMMENT_LENGTH),
      evidenceDigest: text(64, 64, /^[0-9a-f]{64}$/, 'expected the 64-character hex evidence digest'),
      signature: text(0, 200),
      attestation: attestationRule,
    },
  );
}

/** Checks a break-glass sign-off: a sign-off's fields, with a reason in place of the decision and comment. */
export function checkBreakGlass(payload: unknown): Checked<BreakGlass> {
  return check<BreakGlass>(
    payload,
    { role: text(1, 64), approver: text(1, 128), reason: text(1, MAX_COMMENT_LENGTH) },
    {
      evidenceDigest: text(64, 64, /^[0-9a-f]{64}$/, 'expected the 64-character hex evidence digest'),
      signature: text(0, 200),
      attestation: attestationRule,
    },
  );
}

export function checkRollbackRequest(payload: unknown): Checked<RollbackRequest> {
  return check<RollbackRequest>(payload, { requestedBy: text(1, 128), reason: text(1, MAX_COMMENT_LENGTH) }, {});
}
