/**
 * Plan helpers without zod: what the workflow needs of the plan at run time (time limits, quorums, keys,
 * problem paths). The workflow sandbox evaluates a bundle's modules once per workflow, so keeping the zod
 * schemas out of these keeps every running cutover small.
 */
import type { ed25519 as Ed25519 } from '@noble/curves/ed25519';
import type { z } from 'zod';
import { toMs } from './duration';
import type { Action, CutoverPlan } from './schema';

/** An action's time limit when it names none. */
export const DEFAULT_RUN_TIMEOUT_MS = 600_000;
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

/** The time an action may take: its own `timeout`, or the default for its kind. */
export function actionTimeoutMs(action: Action): number {
  if (action.timeout) return toMs(action.timeout);
  return 'http' in action ? DEFAULT_HTTP_TIMEOUT_MS : DEFAULT_RUN_TIMEOUT_MS;
}

/** Approvals needed for `role`. */
export function quorumFor(plan: CutoverPlan, role: string): number {
  const { quorum } = plan.signoff;
  return typeof quorum === 'number' ? quorum : (quorum[role] ?? 1);
}

/** Decodes a hex or base64 ed25519 public key and checks that it is a point on the curve. */
export function decodePublicKey(text: string): Uint8Array | undefined {
  const bytes = decodeBytes(text, 32);
  if (!bytes) return undefined;
  try {
    curve().ExtendedPoint.fromHex(bytes);
    return bytes;
  } catch {
    return undefined;
  }
}

/** Decodes hex or base64 text of exactly `length` bytes. */
export function decodeBytes(text: string, length: number): Uint8Array | undefined {
  if (new RegExp(`^[0-9a-fA-F]{${length * 2}}$`).test(text)) {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
    return out;
  }
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
    const out = base64Decode(text);
    return out && out.length === length ? out : undefined;
  }
  return undefined;
}

function base64Decode(text: string): Uint8Array | undefined {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const clean = text.replace(/=+$/, '');
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of clean) {
    const value = alphabet.indexOf(char);
    if (value < 0) return undefined;
    buffer = (buffer << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((buffer >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

/** One problem with a plan: where it is and what is wrong. */
export interface PlanProblem {
  path: string;
  message: string;
}

type Issue = z.core.$ZodIssue;

/**
 * Turns zod issues into `path: message` problems. A union (an action is a run or an http action) reports
 * the branch that came closest, so the message is about the field the user got wrong, not "invalid input".
 */
export function flattenIssues(issues: readonly Issue[], prefix: PropertyKey[] = []): PlanProblem[] {
  const out: PlanProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const branches = issue.errors.map((branch) => flattenIssues(branch, path));
      const best = branches.reduce((a, b) => (score(b) < score(a) ? b : a));
      out.push(...best);
      continue;
    }
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    }
    out.push({ path: formatPath(path), message });
  }
  return out;
}

function score(problems: PlanProblem[]): number {
  // Fewer problems, and problems about something other than the union's own shape, mean a closer branch.
  return problems.length * 10 + problems.filter((p) => p.message.startsWith('unknown key')).length * 5;
}

/** `signoff.roles.qa[0]` style path. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(plan)';
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
    .join('');
}

/** The ed25519 curve, loaded on first use: a cutover without signatures never evaluates it. */
export function curve(): typeof Ed25519 {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('@noble/curves/ed25519') as { ed25519: typeof Ed25519 }).ed25519;
}
