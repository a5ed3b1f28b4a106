/**
 * Hostile sign-offs against a real cutover waiting at its gate (real dev server, real worker process): unknown
 * approvers, wrong roles, one person in two roles, the initiator, missing, forged and replayed signatures,
 * stale digests, oversized comments, and malformed payloads sent with the `temporal` CLI. None may count,
 * every one that reaches the workflow must be in its audit trail, and the cutover must neither fail nor stick:
 * the real approvers finish it afterwards.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { ed25519 } from '@noble/curves/ed25519';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { DevServer } from '../../toolchain/dev-server';
import { temporalCliPath } from '../../toolchain/tools';
import { cutoverWorkflow } from '../../workflows';
import { signOffMessage } from '../../workflows/gate';
import { signOffSignal, statusQuery, submitSignOffUpdate, type SignOff } from '../../workflows/messages';
import type { CutoverStatus } from '../../shapes/status';
import { tempDir, uniqueId, stopProcess } from '../helpers/harness';
import { makePlan, makePlanInput } from '../helpers/plans';
import { startTestDevServer } from '../helpers/temporal';
import { report } from './report';
import { spawnWorker } from '../helpers/worker-process';

const run = promisify(execFile);
const PEOPLE = ['ana', 'fay', 'bo', 'cy', 'di', 'ed', 'rm'] as const;
const keys = Object.fromEntries(PEOPLE.map((p) => [p, ed25519.utils.randomPrivateKey()]));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

let server: DevServer;
let connection: Connection;
let worker: ChildProcess;
let handle: WorkflowHandle<typeof cutoverWorkflow>;
let taskQueue: string;

beforeAll(async () => {
  server = await startTestDevServer();
  taskQueue = uniqueId('tq-signoffs');
  worker = spawnWorker({
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    CUTOVER_TASK_QUEUE: taskQueue,
    CUTOVER_DATA_DIR: path.join(tempDir('signoffs-'), 'data'),
    CUTOVER_LOG_LEVEL: 'error',
  });
  connection = await Connection.connect({ address: server.address });
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await stopProcess(worker);
  await server?.stop();
});

/** `who`'s sign-off message, signed with `keyOf`'s key (their own unless a forger's). */
const sign = (who: string, workflowId: string, role: string, decision: string, digest: string, keyOf = who) =>
  hex(
    ed25519.sign(
      new TextEncoder().encode(signOffMessage(workflowId, { role, approver: who, decision }, digest)),
      keys[keyOf]!,
    ),
  );

async function statusOf(): Promise<CutoverStatus> {
  return handle.query(statusQuery);
}

test('at least 50 hostile sign-offs: none counted, all audited, the cutover neither fails nor sticks', async () => {
  const client = new Client({ connection });
  const base = makePlanInput();
  const plan = makePlan({
    initiator: 'rm',
    production: {
      ...base.production,
      monitor: { ...base.production.monitor, window: '3s', interval: '1s' },
      reconcile: { every: '1s', days: 1 },
      decommission: { ...base.production.decommission, afterCleanDays: 1 },
    },
    signoff: {
      ...base.signoff,
      // ana may approve engineering or QA, not both (fay and bo can stand in); rm, the initiator, is listed too.
      roles: {
        engineering: ['ana', 'fay'],
        qa: ['bo', 'ana'],
        architecture: ['cy'],
        operations: ['di', 'rm'],
        business: ['ed'],
      },
      keys: Object.fromEntries(PEOPLE.map((p) => [p, hex(ed25519.getPublicKey(keys[p]!))])),
      separationOfDuties: true,
    },
  });
  const workflowId = uniqueId('hostile-signoffs');
  handle = await client.workflow.start(cutoverWorkflow, { taskQueue, workflowId, args: [plan] });

  const attempts: { name: string; how: 'update' | 'signal' | 'temporal-cli'; refused: boolean; rule?: string }[] = [];
  const viaUpdate = async (name: string, signOff: SignOff | Record<string, unknown>) => {
    try {
      const answer = await handle.executeUpdate(submitSignOffUpdate, { args: [signOff as SignOff] });
      attempts.push({ name, how: 'update', refused: !answer.accepted, ...(answer.rule ? { rule: answer.rule } : {}) });
    } catch (err) {
      // The update's validator refused it before it reached the gate.
      attempts.push({ name, how: 'update', refused: true, rule: `validator: ${(err as Error).message.slice(0, 60)}` });
    }
  };

  // Before the gate opens: refused as gate-not-open.
  await viaUpdate('before the gate opens', { role: 'engineering', approver: 'ana', decision: 'approve' });

  const deadline = Date.now() + 90_000;
  let status = await statusOf();
  while (status.state !== 'awaiting-signoff' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300));
    status = await statusOf();
  }
  expect(status.state).toBe('awaiting-signoff');
  const digest = status.evidenceDigest!;
  const signed = (who: string, role: string, decision = 'approve', over = { workflowId, digest }) => ({
    role,
    approver: who,
    decision: decision as 'approve' | 'reject',
    evidenceDigest: over.digest,
    signature: sign(who, over.workflowId, role, decision, over.digest),
  });

  // Unknown approvers, wrong roles, unknown roles.
  for (const who of ['zed', 'mallory', 'ANA', 'аna', 'root', 'admin', 'rm2', 'a'.repeat(128)]) {
    await viaUpdate(`unknown approver ${who.slice(0, 12)}`, {
      role: 'engineering',
      approver: who,
      decision: 'approve',
      evidenceDigest: digest,
    });
  }
  for (const [who, role] of [
    ['bo', 'engineering'],
    ['cy', 'qa'],
    ['di', 'architecture'],
    ['ed', 'operations'],
    ['cy', 'business'],
  ] as const) {
    await viaUpdate(`${who} for ${role}`, signed(who, role));
  }
  for (const role of ['security', 'Engineering', 'qa ', 'engineering\u200b']) {
    await viaUpdate(`unknown role ${JSON.stringify(role)}`, signed('ana', role));
  }
  // The initiator may not sign off the cutover they started.
  await viaUpdate('the initiator approves', signed('rm', 'operations'));
  await viaUpdate('the initiator rejects', signed('rm', 'operations', 'reject'));
  // Signatures: missing, random, someone else's key, another cutover's (replayed), another decision's,
  // other evidence's, garbage.
  for (const who of ['bo', 'cy', 'di', 'ed']) {
    const role = { bo: 'qa', cy: 'architecture', di: 'operations', ed: 'business' }[who]!;
    await viaUpdate(`${who} unsigned`, { role, approver: who, decision: 'approve', evidenceDigest: digest });
    await viaUpdate(`${who} random signature`, { ...signed(who, role), signature: hex(randomBytes(64)) });
    await viaUpdate(`${who} signed with ana's key`, {
      ...signed(who, role),
      signature: sign(who, workflowId, role, 'approve', digest, 'ana'),
    });
    await viaUpdate(`${who} replayed from another cutover`, {
      ...signed(who, role),
      signature: sign(who, 'cutover-other', role, 'approve', digest),
    });
    await viaUpdate(`${who} signature for reject used to approve`, {
      ...signed(who, role),
      signature: sign(who, workflowId, role, 'reject', digest),
    });
    await viaUpdate(`${who} garbage signature`, { ...signed(who, role), signature: 'zz'.repeat(40) });
  }
  // Stale evidence: a digest that is not the one at the gate.
  for (const other of [hex(randomBytes(32)), digest.replace(/.$/, (c) => (c === '0' ? '1' : '0')), '0'.repeat(64)]) {
    await viaUpdate('stale digest', signed('bo', 'qa', 'approve', { workflowId, digest: other }));
  }
  await viaUpdate('uppercase digest', { ...signed('bo', 'qa'), evidenceDigest: digest.toUpperCase() });
  // Oversized comments.
  // Up to 16,384 characters a refusal is audited; a larger sign-off is refused before it reaches history.
  for (const size of [2001, 10_000, 16_000, 500_000]) {
    await viaUpdate(`a ${size}-character comment`, { ...signed('bo', 'qa'), comment: 'x'.repeat(size) });
  }
  // One person in two roles: ana approves engineering (counted), then QA (refused), then engineering again.
  const first = await handle.executeUpdate(submitSignOffUpdate, { args: [signed('ana', 'engineering')] });
  expect(first.accepted).toBe(true);
  await viaUpdate('ana for QA after engineering', signed('ana', 'qa'));
  await viaUpdate('ana for engineering again', signed('ana', 'engineering'));

  // Signals from the client with payloads that are not sign-offs.
  for (const payload of [
    {},
    { role: 'qa' },
    { role: 'qa', approver: 'bo', decision: 'maybe' },
    { role: 5, approver: [], decision: null },
  ]) {
    await handle.signal(signOffSignal, payload as never);
    attempts.push({ name: `signal ${JSON.stringify(payload)}`, how: 'signal', refused: true });
  }
  // The temporal CLI: broken JSON (refused by the CLI itself) and JSON that is not a sign-off.
  const temporalCli = async (name: string, input: string, reachesWorkflow: boolean) => {
    let exit = 0;
    try {
      await run(
        temporalCliPath(),
        [
          'workflow',
          'signal',
          '--address',
          server.address,
          '--workflow-id',
          workflowId,
          '--name',
          'signOff',
          '--input',
          input,
        ],
        { timeout: 30_000 },
      );
    } catch (err) {
      exit = (err as { code: number }).code;
    }
    if (!reachesWorkflow) expect(exit).not.toBe(0);
    attempts.push({ name: `temporal CLI ${name}`, how: reachesWorkflow ? 'signal' : 'temporal-cli', refused: true });
  };
  await temporalCli('broken JSON', '{"role": "qa", ', false);
  await temporalCli('not JSON', 'approve please', false);
  await temporalCli('an array', '[1, 2]', true);
  await temporalCli('a string', '"approve"', true);
  await temporalCli('null', 'null', true);
  await temporalCli('an extra field', JSON.stringify({ ...signed('bo', 'qa'), admin: true }), true);
  await temporalCli('a number for a role', '{"role": 5, "approver": "bo", "decision": "approve"}', true);

  // Let the signals be processed (an update after them is ordered after them).
  await viaUpdate('last probe: unknown approver', { role: 'qa', approver: 'nobody', decision: 'approve' });

  status = await statusOf();
  const refused = attempts.filter((a) => a.refused);
  const accepted = attempts.filter((a) => !a.refused);
  const audited = status.audit.filter((e) => e.kind === 'signoff' && e.accepted === false).length;
  const reachedWorkflow = attempts.filter((a) => a.how !== 'temporal-cli' && !a.rule?.startsWith('validator')).length;
  report({
    area: 'hostile sign-offs',
    faults: attempts.length,
    refused: `${refused.length} of ${attempts.length} (${audited} in the audit trail)`,
    wronglyAccepted: accepted.length,
  });
  console.log(
    `sign-offs: ${attempts.length} attempts, ${refused.length} refused, audited ${audited}; rules: ${JSON.stringify(
      Object.fromEntries(
        [...new Set(attempts.map((a) => a.rule?.split(':')[0] ?? a.how))].map((r) => [
          r,
          attempts.filter((a) => (a.rule?.split(':')[0] ?? a.how) === r).length,
        ]),
      ),
    )}; stopped by the validator: ${JSON.stringify(
      attempts.filter((a) => a.rule?.startsWith('validator')).map((a) => `${a.name} (${a.rule})`),
    )}`,
  );

  expect(attempts.length).toBeGreaterThanOrEqual(50);
  // Sent while the plan was still being checked: answered by the gate, not dropped by the SDK.
  expect(attempts.find((a) => a.name === 'before the gate opens')?.rule).toBe('gate-not-open');
  expect(accepted.map((a) => a.name)).toEqual([]);
  // Every refusal that reached the workflow is in its audit trail; nothing counted but ana's one approval.
  expect(audited).toBe(reachedWorkflow);
  expect(status.state).toBe('awaiting-signoff');
  expect(status.gate.roles.map((r) => [r.role, r.approvedBy])).toEqual([
    ['engineering', ['ana']],
    ['qa', []],
    ['architecture', []],
    ['operations', []],
    ['business', []],
  ]);

  // The real approvers finish the cutover.
  for (const [who, role] of [
    ['bo', 'qa'],
    ['cy', 'architecture'],
    ['di', 'operations'],
    ['ed', 'business'],
  ] as const) {
    const answer = await handle.executeUpdate(submitSignOffUpdate, { args: [signed(who, role)] });
    expect(answer).toMatchObject({ accepted: true });
  }
  expect((await handle.result()).state).toBe('completed');
}, 300_000);
