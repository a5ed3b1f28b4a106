/**
 * The cutover record an auditor verifies offline (`cutover export`, `cutover verify`): an in-toto Statement (v1)
 * whose predicate is the record (the effective plan, the policy's digest, the evidence the approvers signed,
 * every sign-off as it was sent, the gate, the audit trail hash-chained, the outcome, and the digest and length of
 * the Temporal history it came from), in a DSSE envelope signed with the workers' ed25519 key. Standard DSSE
 * tooling checks the signature (PAE, below); `verifyRecord` checks the rest with no Temporal at hand.
 */
import { sha256 } from '@noble/hashes/sha256';
import { bytesToHex } from '@noble/hashes/utils';
import { canonicalJson, utf8 } from '../plan/canonical';
import { curve, decodePublicKey } from '../plan/keys';
import type { CutoverPlan } from '../plan/schema';
import type { AuditEntry, BreakGlassView, ChainedEntry, CutoverState, GateState, PhaseRecord } from '../shapes/status';
import type { GateView } from '../shapes/evidence';
import { chainStart, entryHash, evidenceDigest } from '../workflows/digest';
import { neededBecause } from '../workflows/gate-needs';
import { applySignOff, canonicalName, checkProof, decideSignOff, gateRules, gateView } from '../workflows/gate';
import type { ReceivedBreakGlass, ReceivedSignOff } from '../workflows/messages';
import { breakGlassMessage } from '../workflows/break-glass';
import type { EvidenceReview } from '../workflows/change-window';

/**
 * A history's digest as the record names it (`predicate.history.sha256`): the SHA-256 of the canonical JSON of its
 * proto JSON, so that whoever wrote the file (this export, `temporal workflow show --output json`) gives the same
 * digest for the same history. The proto JSON alone does not: a map's entries (the search attributes) come in
 * whatever order the writer kept them.
 */
export function historyDigest(protoJson: string): string {
  return bytesToHex(sha256(utf8(canonicalJson(JSON.parse(protoJson)))));
}

/**
 * Whether `sha256` (a record's history digest) names the history `protoJson` is: its historyDigest, or, for a record
 * exported by release 1.0, the SHA-256 of the export's own bytes of it. Text that is not JSON names nothing.
 */
export function namesHistory(sha256Hex: string, protoJson: string): boolean {
  try {
    if (historyDigest(protoJson) === sha256Hex) return true;
  } catch {
    return false;
  }
  return bytesToHex(sha256(utf8(protoJson))) === sha256Hex;
}

export const DSSE_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const RECORD_PREDICATE_TYPE = 'https://cutover.dev/record/v1';

/** A DSSE envelope (github.com/secure-systems-lab/dsse): the payload base64, each signature over PAE. */
export interface Envelope {
  payloadType: string;
  payload: string;
  signatures: { keyid: string; sig: string }[];
}

export interface CutoverRecord {
  recordVersion: 1;
  workflowId: string;
  runId: string;
  release: string;
  plan: CutoverPlan;
  policyDigest?: string;
  /** What the approvers signed: the policy's digest and the results of the phases before the gate. */
  evidence: Record<string, unknown>;
  evidenceDigest?: string;
  gate: { view: GateView; received: ReceivedSignOff[] };
  /**
   * Break-glass (workflows/break-glass.ts): every well-formed break-glass sign-off received, as sent, and each
   * change that went ahead by one; absent when none came.
   */
  breakGlass?: { received: ReceivedBreakGlass[]; view: BreakGlassView[] };
  /**
   * The status's audit trail as the workflow chained it, from its first entry (the `dropped` oldest are no longer
   * in the status: the first kept entry's `prev` links to them); `head` is the hash of the last entry, so the last
   * cannot change either.
   */
  audit: { dropped: number; entries: ChainedEntry[]; head: string };
  outcome: { state: CutoverState; phases: PhaseRecord[]; startedAt: string; endedAt?: string; error?: string };
  /** The Temporal history the record came from: its digest (historyDigest: the same whoever wrote its JSON), its
   * events and bytes; with `--with-history`, the history itself. */
  history: { sha256: string; events: number; bytes: number; json?: string };
  exportedAt: string;
}

/** What a report or the approval app shows of a cutover's record: its digest, and whether it verified. */
export interface RecordLine {
  /** SHA-256 of the signed statement (the envelope's payload). */
  digest: string;
  keyId: string;
  verified: boolean;
  /** The checks that held, or the first broken link. */
  detail: string;
}

export interface Statement {
  _type: string;
  subject: { name: string; digest: { sha256: string } }[];
  predicateType: string;
  predicate: CutoverRecord;
}

/** DSSE's pre-authentication encoding: what a signature covers, with the payload's type bound into it. */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = utf8(payloadType);
  const head = utf8(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

/**
 * The entries chained from `start` (each with the hash of the entry before it, workflows/digest.ts entryHash), and
 * the head: for a status whose entries carry no chain (written by workers before the workflow chained them).
 */
export function chainAudit(entries: readonly AuditEntry[], start: string): { entries: ChainedEntry[]; head: string } {
  let prev = start;
  const chained = entries.map((entry) => {
    const linked = { ...entry, prev };
    prev = entryHash(linked);
    return linked;
  });
  return { entries: chained, head: prev };
}

/** Wraps a record in a Statement and a DSSE envelope signed by `signer`. */
export function signRecord(record: CutoverRecord, signer: { keyId: string; privateKey: Uint8Array }): Envelope {
  const statement: Statement = {
    _type: STATEMENT_TYPE,
    subject: [
      { name: `temporal-history/${record.workflowId}/${record.runId}`, digest: { sha256: record.history.sha256 } },
    ],
    predicateType: RECORD_PREDICATE_TYPE,
    predicate: record,
  };
  const payload = utf8(JSON.stringify(statement));
  const sig = curve().sign(pae(DSSE_PAYLOAD_TYPE, payload), signer.privateKey);
  return {
    payloadType: DSSE_PAYLOAD_TYPE,
    payload: Buffer.from(payload).toString('base64'),
    signatures: [{ keyid: signer.keyId, sig: Buffer.from(sig).toString('base64') }],
  };
}

/** The public keys an auditor trusts: the workers' (by key id), the attesters' (by key id), approvers' (by name). */
export interface Trust {
  workers: Record<string, string>;
  attesters?: Record<string, string>;
  approvers?: Record<string, string>;
}

export interface Check {
  check: string;
  ok: boolean;
  detail: string;
}

/** Thrown inside a check: the first broken link, by field and entry. */
class Broken extends Error {}
const broken = (where: string, what: string): never => {
  throw new Broken(`${where}: ${what}`);
};

/**
 * Verifies an exported record with the keys an auditor trusts: the envelope's signature, the statement, the
 * evidence digest, every sign-off recounted by the gate's own rules under the effective plan, the gate's outcome,
 * and the audit chain. Each check's verdict, in order; all must hold.
 */
export function verifyRecord(envelope: unknown, trust: Trust): Check[] {
  const checks: Check[] = [];
  let statement: Statement | undefined;
  const run = (check: string, body: () => string) => {
    try {
      checks.push({ check, ok: true, detail: body() });
    } catch (err) {
      checks.push({ check, ok: false, detail: err instanceof Broken ? err.message : String(err) });
    }
  };
  run('envelope', () => {
    statement = openEnvelope(envelope, trust);
    return `signed by workers' key ${(envelope as Envelope).signatures[0]?.keyid}`;
  });
  if (!statement) return checks;
  const record = statement.predicate;
  run('statement', () => checkStatement(statement as Statement));
  run('evidence', () => checkEvidence(record));
  run('sign-offs', () => checkSignOffs(record, trust));
  run('audit chain', () => checkChain(record));
  if (record.breakGlass) run('break-glass', () => checkBreakGlass(record, trust));
  return checks;
}

/** The record inside an envelope, unchecked: for a caller that has verified it (verifyRecord). */
export function recordOf(envelope: unknown): CutoverRecord {
  const payload = Buffer.from((envelope as Envelope).payload, 'base64').toString('utf8');
  return (JSON.parse(payload) as Statement).predicate;
}

function openEnvelope(value: unknown, trust: Trust): Statement {
  const e = value as Partial<Envelope> | null;
  if (!e || typeof e !== 'object') broken('envelope', 'not a JSON object');
  if (e?.payloadType !== DSSE_PAYLOAD_TYPE) broken('envelope.payloadType', `expected ${DSSE_PAYLOAD_TYPE}`);
  if (typeof e?.payload !== 'string') broken('envelope.payload', 'missing');
  const signatures = Array.isArray(e?.signatures) ? e.signatures : [];
  if (signatures.length === 0) broken('envelope.signatures', 'none');
  const payload = new Uint8Array(Buffer.from(e?.payload as string, 'base64'));
  const message = pae(DSSE_PAYLOAD_TYPE, payload);
  const problems: string[] = [];
  for (const [i, s] of signatures.entries()) {
    const key = decodePublicKey(trust.workers[s.keyid] ?? '');
    if (!key) {
      problems.push(`signatures[${i}]: key id "${s.keyid}" is not a workers' key you trust`);
      continue;
    }
    let ok = false;
    try {
      ok = curve().verify(new Uint8Array(Buffer.from(s.sig, 'base64')), message, key);
    } catch {
      ok = false;
    }
    if (ok) {
      try {
        return JSON.parse(Buffer.from(payload).toString('utf8')) as Statement;
      } catch {
        broken('envelope.payload', 'signed, but not JSON');
      }
    }
    problems.push(`signatures[${i}]: does not verify with key "${s.keyid}" (the payload or the signature was changed)`);
  }
  return broken('envelope', problems.join('; '));
}

function checkStatement(s: Statement): string {
  if (s._type !== STATEMENT_TYPE) broken('statement._type', `expected ${STATEMENT_TYPE}`);
  if (s.predicateType !== RECORD_PREDICATE_TYPE) broken('statement.predicateType', `expected ${RECORD_PREDICATE_TYPE}`);
  const r = s.predicate;
  if (!r || r.recordVersion !== 1) broken('predicate.recordVersion', 'expected 1');
  if (s.subject?.[0]?.digest?.sha256 !== r.history?.sha256) {
    broken('statement.subject[0].digest.sha256', 'is not the recorded history digest');
  }
  if (r.history.json !== undefined && !namesHistory(r.history.sha256, r.history.json)) {
    broken('predicate.history.json', 'its digest is not the recorded history digest');
  }
  return `${r.workflowId} (run ${r.runId}), history ${r.history.sha256.slice(0, 12)}… (${r.history.events} events)`;
}

function checkEvidence(r: CutoverRecord): string {
  if (r.plan.policyDigest !== r.policyDigest) broken('predicate.policyDigest', "is not the effective plan's");
  if (r.evidence.policy !== r.policyDigest) broken('predicate.evidence.policy', "is not the record's policy digest");
  if (r.evidenceDigest === undefined) return 'the gate never opened: no evidence was signed';
  const digest = evidenceDigest(r.evidence);
  if (digest !== r.evidenceDigest) {
    broken(
      'predicate.evidence',
      `its digest is ${digest.slice(0, 12)}…, the record says ${r.evidenceDigest.slice(0, 12)}…`,
    );
  }
  if (r.gate.view.evidenceDigest !== r.evidenceDigest)
    broken('predicate.gate.view.evidenceDigest', 'is not the evidence digest');
  return `evidence digest ${digest.slice(0, 12)}… recomputed`;
}

/**
 * The gate recounted: every sign-off received, in order, decided again by the gate's rules (workflows/gate.ts)
 * under the effective plan, with the attesters' and approvers' keys the auditor trusts (not the record's), at the
 * workflow's time of its arrival. The recount must reach the recorded gate: the same status, the same approvers.
 */
function checkSignOffs(r: CutoverRecord, trust: Trust): string {
  if (r.evidenceDigest === undefined) return 'no gate to recount';
  const config = trustedRules(r, trust);
  const recounted = gateView(config, recount(r, config));
  const recorded = r.gate.view;
  // A gate that expired was open when its deadline passed: the recount leaves it open.
  const status = recorded.status === 'expired' && recounted.status === 'open' ? 'expired' : recounted.status;
  if (status !== recorded.status) {
    broken(
      'predicate.gate.view.status',
      `the record says ${recorded.status}, the recount under the plan's rules gives ${recounted.status}`,
    );
  }
  for (const role of recounted.roles) {
    const theirs = recorded.roles.find((x) => x.role === role.role);
    if (JSON.stringify(theirs?.approvedBy ?? []) !== JSON.stringify(role.approvedBy)) {
      broken(
        `predicate.gate.view.roles[${role.role}].approvedBy`,
        `the record says ${JSON.stringify(theirs?.approvedBy ?? [])}, the recount ${JSON.stringify(role.approvedBy)}`,
      );
    }
  }
  if (['completed', 'rolled-back'].includes(r.outcome.state) && recounted.status !== 'approved') {
    broken(
      'predicate.outcome.state',
      `${r.outcome.state}, but the recounted gate is ${recounted.status}: production moved without an approved gate`,
    );
  }
  if (r.outcome.state === 'rejected' && recounted.status !== 'rejected') {
    broken('predicate.outcome.state', `rejected, but the recounted gate is ${recounted.status}`);
  }
  return `${r.gate.received.length} sign-off(s) recounted: gate ${recounted.status}`;
}

/** The gate's rules under the effective plan, with only the attesters' and approvers' keys the auditor trusts. */
function trustedRules(r: CutoverRecord, trust: Trust): ReturnType<typeof gateRules> {
  const rules = gateRules(r.plan, r.workflowId);
  const trusted = (keys: Record<string, string> | undefined, theirs: Record<string, string> | undefined) =>
    theirs === undefined
      ? undefined
      : Object.fromEntries(Object.entries(theirs).filter(([id, key]) => keys?.[id] !== undefined && keys[id] === key));
  return {
    ...rules,
    ...(rules.attesters ? { attesters: trusted(trust.attesters, rules.attesters) ?? {} } : {}),
    ...(rules.keys ? { keys: trusted(trust.approvers, rules.keys) ?? {} } : {}),
  };
}

/**
 * Every sign-off received decided again, in order, at the workflow's time of its arrival; each one whose decision
 * differs from the record's is broken. The gate's rounds: the first on the evidence as the phases left it, one more
 * per review (the evidence expired while the deploy waited for its window: workflows/change-window.ts), each on
 * the evidence with its reviews so far.
 */
function recount(r: CutoverRecord, config: ReturnType<typeof gateRules>): GateState {
  const { reviews: recordedReviews, ...phasesEvidence } = r.evidence;
  const reviews = Array.isArray(recordedReviews) ? (recordedReviews as EvidenceReview[]) : [];
  const digests = [
    evidenceDigest(phasesEvidence),
    ...reviews.map((_, k) => evidenceDigest({ ...phasesEvidence, reviews: reviews.slice(0, k + 1) })),
  ];
  let round = 0;
  // The conditional roles this evidence needs, found again from the evidence itself (never the record's word).
  const needs = neededBecause(config.requiredWhen, phasesEvidence);
  let state: GateState = { status: 'open', evidenceDigest: digests[0], signoffs: [], ...(needs ? { needs } : {}) };
  for (const [i, { signOff, via, at, accepted }] of r.gate.received.entries()) {
    const where = `predicate.gate.received[${i}] (${signOff.role}, ${signOff.approver})`;
    // A sign-off that arrived after a review reopened the gate counts in that round (one handled in the same
    // workflow task came before it: handlers run first).
    while (round < reviews.length && at > (reviews[round] as EvidenceReview).reopenedAt) {
      round++;
      state = { ...state, status: 'open', evidenceDigest: digests[round] as string };
    }
    const decision =
      state.status === 'open'
        ? decideSignOff(config, state, signOff, Date.parse(at))
        : ({ accepted: false, rule: 'gate-decided', reason: `the gate was already ${state.status}` } as const);
    if (decision.accepted !== accepted) {
      broken(
        where,
        decision.accepted
          ? 'refused in the record, counted on recount'
          : `counted in the record, refused on recount (${decision.rule}: ${decision.reason})`,
      );
    }
    if (!decision.accepted) continue;
    state = applySignOff(config, state, {
      role: signOff.role,
      approver: decision.approver,
      decision: signOff.decision,
      digest: state.evidenceDigest as string,
      signed: decision.signed,
      ...(decision.attested ? { attested: decision.attested } : {}),
      at,
      via,
    });
  }
  return state;
}

/**
 * Break-glass: every counted break-glass sign-off verifies with the attesters' or approvers' keys the auditor
 * trusts, over what it claims (the cutover, the change, the role, the person, the evidence, the reason), and every
 * change that went ahead by break-glass was let through by counted sign-offs of the people the record names.
 */
function checkBreakGlass(r: CutoverRecord, trust: Trust): string {
  const glass = r.breakGlass as NonNullable<CutoverRecord['breakGlass']>;
  const config = {
    workflowId: r.workflowId,
    roles: {},
    quorum: {},
    separationOfDuties: false,
    allowInitiator: true,
    attesters: trust.attesters ?? {},
  };
  const counted = glass.received.filter((g) => g.accepted);
  for (const [i, { breakGlass: b, change, at, accepted }] of glass.received.entries()) {
    if (!accepted) continue;
    const digest = b.evidenceDigest ?? r.evidenceDigest ?? '';
    const message = breakGlassMessage({ workflowId: r.workflowId, change, digest }, b);
    const keys = b.signature !== undefined ? { keys: trust.approvers ?? {} } : {};
    const proof = checkProof(
      { ...config, ...keys },
      b,
      { approver: b.approver, message, now: Date.parse(at) },
      {
        covers: 'this cutover, change, role, approver, evidence, reason and login',
        signs: 'this cutover, change, role, evidence and reason',
        required: true,
        how: 'cutover break-glass --key FILE',
      },
    );
    if (!proof.ok) broken(`predicate.breakGlass.received[${i}] (${b.role}, ${b.approver})`, proof.reason);
  }
  for (const [i, view] of glass.view.entries()) {
    for (const person of view.by) {
      const theirs = (g: ReceivedBreakGlass) =>
        g.breakGlass.role === person.role &&
        g.breakGlass.reason === person.reason &&
        canonicalName(g.breakGlass.approver) === canonicalName(person.approver);
      if (!counted.some(theirs)) {
        broken(
          `predicate.breakGlass.view[${i}]`,
          `${person.approver} (${person.role}) let ${view.what} through, but no counted break-glass sign-off of theirs says so`,
        );
      }
    }
  }
  return `${counted.length} break-glass sign-off(s) verified; ${glass.view.length} change(s) let through by them`;
}

function checkChain(r: CutoverRecord): string {
  let prev = chainStart(r.workflowId, r.runId);
  // Entries the status had dropped (the oldest) are not in the record: the chain starts at the first kept one.
  const entries = r.audit.entries;
  if (r.audit.dropped > 0 && entries[0]) prev = entries[0].prev;
  for (const [i, entry] of entries.entries()) {
    if (entry.prev !== prev) {
      broken(
        `predicate.audit.entries[${i}]`,
        `its prev hash is not the hash of entry ${i - 1}: an entry before it was changed, removed or moved`,
      );
    }
    prev = entryHash(entry);
  }
  if (r.audit.head !== prev)
    broken('predicate.audit.head', 'is not the hash of the last entry: the last entry was changed or removed');
  return `${entries.length} audit entries chained${r.audit.dropped > 0 ? ` (the ${r.audit.dropped} oldest were dropped by the status)` : ''}`;
}
