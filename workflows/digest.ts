/**
 * The evidence digest: SHA-256 over a canonical JSON form (keys sorted), pure JS so it runs in the sandbox.
 */
import { sha256 } from '@noble/hashes/sha256';
import { bytesToHex } from '@noble/hashes/utils';
import { utf8 } from './gate';

/** JSON with object keys sorted at every level, so equal evidence always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** Hex SHA-256 of the canonical JSON of `evidence`. */
export function evidenceDigest(evidence: unknown): string {
  return bytesToHex(sha256(utf8(canonicalJson(evidence))));
}
