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

/**
 * The hash an audit chain starts from: the cutover's run, so a chain cannot be moved onto another cutover. The
 * workflow chains its audit entries as it writes them (Bookkeeping.audit); `cutover verify` checks the chain.
 */
export function chainStart(workflowId: string, runId: string): string {
  return bytesToHex(sha256(utf8(`cutover-audit/v1\n${workflowId}\n${runId}`)));
}

/** The hash of a chained audit entry (its canonical JSON, its own `prev` included): the next entry's `prev`. */
export function entryHash(entry: unknown): string {
  return bytesToHex(sha256(utf8(canonicalJson(entry))));
}
