/** The auditor's record in tests: the workers' key that signs it, and an export checked by `cutover verify`'s code. */
import { ed25519 } from '@noble/curves/ed25519';
import type { Client } from '@temporalio/client';
import type { Cutovers } from '../../lib/api';
import { verifyRecord, type Check, type Envelope, type Trust } from '../../lib/record';
import { exportRecord } from '../../lib/record-export';

/** A workers' signing key and the trust that verifies with it (plus `attesters`, when given). */
export function recordKeys(attesters?: Record<string, string>) {
  const privateKey = ed25519.utils.randomPrivateKey();
  const signer = { keyId: 'workers-2026', privateKey };
  const trust: Trust = {
    workers: { 'workers-2026': Buffer.from(ed25519.getPublicKey(privateKey)).toString('hex') },
    ...(attesters ? { attesters } : {}),
  };
  return { signer, trust };
}

/** Exports a cutover's record, verifies it offline, and expects every check to hold. */
export async function exportVerified(
  client: Client,
  workflowId: string,
  keys: ReturnType<typeof recordKeys>,
): Promise<{ envelope: Envelope; checks: Check[] }> {
  const envelope = await exportRecord({ client, namespace: 'default' } as unknown as Cutovers, workflowId, {
    signer: keys.signer,
  });
  const checks = verifyRecord(envelope, keys.trust);
  expect(checks.filter((c) => !c.ok)).toEqual([]);
  return { envelope, checks };
}
