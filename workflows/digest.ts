/**
 * The evidence digest: SHA-256 over a canonical JSON form (keys sorted), pure JS so it runs in the sandbox.
 */
import { sha256 } from '@noble/hashes/sha256';
import { bytesToHex } from '@noble/hashes/utils';
import { canonicalJson, utf8 } from '../plan/canonical';

/** Hex SHA-256 of the canonical JSON of `evidence`. */
export function evidenceDigest(evidence: unknown): string {
  return bytesToHex(sha256(utf8(canonicalJson(evidence))));
}
