/**
 * `cutover export`: a cutover's record, read from Temporal (its status, its own record query and its history) and
 * signed with the workers' key (lib/record.ts). A cutover in any state; a finished one needs a worker to answer
 * its queries, as `cutover status` does.
 */
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { sha256 } from '@noble/hashes/sha256';
import { bytesToHex } from '@noble/hashes/utils';
import { utf8 } from '../plan/canonical';
import { recordQuery, statusQuery } from '../workflows/messages';
import { chainStart } from '../workflows/digest';
import type { ChainedEntry, CutoverStatus } from '../shapes/status';
import { curve, parseKeyPairs } from '../plan/keys';
import { cutover, readPrivateKey, type Cutovers } from './api';
import { UserError } from './errors';
import {
  chainAudit,
  historyDigest,
  signRecord,
  verifyRecord,
  type CutoverRecord,
  type Envelope,
  type RecordLine,
} from './record';

export async function exportRecord(
  c: Cutovers,
  workflowId: string,
  options: { signer: { keyId: string; privateKey: Uint8Array }; withHistory?: boolean },
): Promise<Envelope> {
  // Every read of one run: the latest when the export starts.
  const { runId } = await (await cutover(c, workflowId)).describe();
  const handle = c.client.workflow.getHandle(workflowId, runId);
  const s = await handle.query(statusQuery);
  const own = await handle.query(recordQuery).catch((err: unknown) => {
    throw new UserError(
      `${workflowId}: its record query did not answer (${(err as Error).message.split('\n')[0]}): is it a cutover of this release, and a worker running?`,
    );
  });
  if (!own.plan) throw new UserError(`${workflowId}: its plan is still being checked; export it once it is`);
  // Read after the status: the history holds every entry the status had, and perhaps a few more.
  const history = await handle.fetchHistory();
  const json = historyToJSON(history);
  const bytes = utf8(json);
  const record: CutoverRecord = {
    recordVersion: 1,
    workflowId,
    runId,
    release: s.release,
    plan: own.plan,
    ...(s.policyDigest !== undefined ? { policyDigest: s.policyDigest } : {}),
    evidence: own.evidence,
    ...(s.evidenceDigest !== undefined ? { evidenceDigest: s.evidenceDigest } : {}),
    gate: { view: s.gate, received: own.received },
    ...(own.breakGlass ? { breakGlass: { received: own.breakGlass, view: s.breakGlass ?? [] } } : {}),
    audit: { dropped: s.auditDropped, ...auditChain(s, workflowId, runId) },
    outcome: {
      state: s.state,
      phases: s.phases,
      startedAt: s.startedAt,
      ...(s.endedAt !== undefined ? { endedAt: s.endedAt } : {}),
      ...(s.error ? { error: s.error.message } : {}),
    },
    history: {
      sha256: historyDigest(json),
      events: history.events?.length ?? 0,
      bytes: bytes.length,
      ...(options.withHistory ? { json } : {}),
    },
    exportedAt: new Date().toISOString(),
  };
  return signRecord(record, options.signer);
}

/** The status's audit trail as the workflow chained it; chained here if a worker of an older release answered. */
function auditChain(s: CutoverStatus, workflowId: string, runId: string): { entries: ChainedEntry[]; head: string } {
  const entries = s.audit;
  if (s.auditHead !== undefined && entries.every((e) => e.prev !== undefined))
    return { entries: entries as ChainedEntry[], head: s.auditHead };
  return chainAudit(entries, chainStart(workflowId, runId));
}

/**
 * The record line, where the workers' key is configured (`CUTOVER_WORKER_KEY_FILE`, `CUTOVER_WORKER_KEY_ID`): the
 * record exported and verified with the key's public half and the attesters of `CUTOVER_ATTESTER_KEYS`, as an
 * auditor would. Undefined without the key.
 */
export async function recordLine(
  c: Cutovers,
  workflowId: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RecordLine | undefined> {
  const keyFile = env.CUTOVER_WORKER_KEY_FILE;
  if (!keyFile) return undefined;
  const privateKey = await readPrivateKey(keyFile);
  const keyId = env.CUTOVER_WORKER_KEY_ID ?? 'workers';
  const envelope = await exportRecord(c, workflowId, { signer: { keyId, privateKey } });
  const attesters = parseKeyPairs('CUTOVER_ATTESTER_KEYS', env.CUTOVER_ATTESTER_KEYS);
  const publicKey = Buffer.from(curve().getPublicKey(privateKey)).toString('hex');
  const checks = verifyRecord(envelope, { workers: { [keyId]: publicKey }, attesters });
  const broken = checks.find((check) => !check.ok);
  return {
    digest: bytesToHex(sha256(new Uint8Array(Buffer.from(envelope.payload, 'base64')))),
    keyId,
    verified: !broken,
    detail: broken ? `${broken.check}: ${broken.detail}` : `${checks.length} checks held`,
  };
}

/**
 * The record line of each cutover, exported again only when its history has grown (or a new run began): a page
 * viewed twice with nothing new in between reads its history once. The last `size` cutovers are kept.
 */
export class RecordLines {
  private readonly lines = new Map<string, { version: string; line: Promise<RecordLine | undefined> }>();

  constructor(
    private readonly c: Cutovers,
    private readonly env: NodeJS.ProcessEnv,
    private readonly size = 200,
  ) {}

  /** The cutover's record line, as of its history now. */
  async of(workflowId: string): Promise<RecordLine | undefined> {
    const { runId, historyLength } = await (await cutover(this.c, workflowId)).describe();
    return lineFor(this.lines, { key: workflowId, version: `${runId}:${historyLength}`, size: this.size }, () =>
      recordLine(this.c, workflowId, this.env),
    );
  }
}

/**
 * `lines`' value for `key` while its version holds, else `compute`'s (kept, the oldest key dropped past `size`); a
 * failed computation is not kept.
 */
export function lineFor<T>(
  lines: Map<string, { version: string; line: Promise<T> }>,
  { key, version, size }: { key: string; version: string; size: number },
  compute: () => Promise<T>,
): Promise<T> {
  const kept = lines.get(key);
  if (kept?.version === version) return kept.line;
  const line = compute();
  lines.delete(key);
  lines.set(key, { version, line });
  line.catch(() => {
    if (lines.get(key)?.line === line) lines.delete(key);
  });
  for (const oldest of lines.keys()) {
    if (lines.size <= size) break;
    lines.delete(oldest);
  }
  return line;
}
