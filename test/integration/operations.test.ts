/**
 * Operations on a real dev server with real worker processes:
 * - encrypted payloads: with CUTOVER_CODEC_KEY the cutover runs as usual, its history holds ciphertext
 *   only, the CLI (with the key) reads it, and `cutover codec-server` decodes it for a token holder only;
 * - SIGTERM during a long activity: the worker exits 0 within its grace period and a new worker finishes
 *   the cutover; the worker's JSON log lines carry the workflow id.
 * Needs `npm run build` (npm test does it).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { AesGcmCodec, ENCRYPTED_ENCODING } from '../../codec/aes-gcm';
import { freePort, waitForPort } from '../../common/net';
import { cutoverWorkflow } from '../../workflows';
import { statusQuery, submitSignOffUpdate } from '../../workflows/messages';
import type { CutoverStatus } from '../../shapes/status';
import { tempDir, uniqueId } from '../helpers/harness';
import { makePlan, makePlanInput, nodeRun } from '../helpers/plans';
import { useDevServer } from '../helpers/temporal';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'client', 'cli.js');
const ROLES = { engineering: 'ana', qa: 'bo', architecture: 'cy', operations: 'di', business: 'ed' };

const dev = useDevServer();

function spawnNode(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return dev.track(spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] }));
}

function baseEnv(dir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TEMPORAL_ADDRESS: dev.server.address,
    CUTOVER_TASK_QUEUE: uniqueId('tq-ops'),
    CUTOVER_DATA_DIR: path.join(dir, 'data'),
    CUTOVER_LOG_LEVEL: 'warn',
    ...extra,
  };
}

const quickProduction = () => {
  const base = makePlanInput();
  return {
    ...base.production,
    monitor: { ...base.production.monitor, window: '4s', interval: '2s' },
    reconcile: { every: '1s', days: 1 },
    decommission: { ...base.production.decommission, afterCleanDays: 1 },
  };
};

/** Every Payload in a history, with the path it sits at. */
function payloadsOf(value: unknown, at = ''): { at: string; encoding: string }[] {
  if (!value || typeof value !== 'object' || value instanceof Uint8Array) return [];
  const record = value as Record<string, unknown>;
  const found: { at: string; encoding: string }[] = [];
  const metadata = record.metadata as Record<string, Uint8Array> | undefined;
  if (metadata?.encoding instanceof Uint8Array && 'data' in record) {
    found.push({ at, encoding: Buffer.from(metadata.encoding).toString() });
  }
  for (const [key, child] of Object.entries(record)) found.push(...payloadsOf(child, `${at}.${key}`));
  return found;
}

test('encrypted payloads: the cutover completes, history holds ciphertext only, the codec server decodes for a token holder', async () => {
  const dir = tempDir('codec-');
  const key = randomBytes(32);
  const marker = `confidential-${randomBytes(6).toString('hex')}`;
  const env = baseEnv(dir, { CUTOVER_CODEC_KEY: key.toString('base64'), CUTOVER_CODEC_KEY_ID: 'ops-test' });
  spawnNode([path.join(ROOT, 'dist', 'worker', 'main.js')], env);

  // The marker is in the plan (an action's argv) and in every KPI result the pipeline prints.
  const metrics = JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, rows: 10, note: marker });
  const plan = makePlanInput({
    baseline: { run: nodeRun(`process.stdout.write(${JSON.stringify(metrics)})`) },
    candidate: { run: nodeRun(`process.stdout.write(${JSON.stringify(metrics)})`) },
    initiator: marker,
    production: quickProduction(),
  });
  const planPath = path.join(dir, 'plan.json');
  writeFileSync(planPath, JSON.stringify(plan));
  const id = uniqueId('encrypted');
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    run(process.execPath, [CLI, ...args], { env: { ...env, ...extra }, timeout: 60_000 });

  await cli(['start', planPath, '--id', id]);
  const status = async (): Promise<CutoverStatus> => JSON.parse((await cli(['status', id, '--json'])).stdout);
  const deadline = Date.now() + 90_000;
  while ((await status()).state !== 'awaiting-signoff' && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 500));
  for (const [role, approver] of Object.entries(ROLES)) await cli(['approve', id, '--role', role, '--as', approver]);

  const codecClient = new Client({
    connection: dev.connection,
    dataConverter: {
      payloadCodecs: [new AesGcmCodec({ activeKeyId: 'ops-test', keys: new Map([['ops-test', key]]) })],
    },
  });
  const handle = codecClient.workflow.getHandle(id);
  expect((await handle.result()).state).toBe('completed');

  // Without the key: every stored payload is ciphertext, and the marker appears nowhere in the history.
  const history = await dev.client.workflow.getHandle(id).fetchHistory();
  // Search attributes are indexed; a patch marker holds only the name of a code change, past the codec.
  // Everything else must be ciphertext. (A local activity's marker would carry its bookkeeping in clear beside
  // its encrypted result; the cutover takes none since the reference reading moved into deployProduction.)
  const events = history.events ?? [];
  expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toEqual([]);
  expect(events.some((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'deployProduction')).toBe(
    true,
  );
  const payloads = payloadsOf(history).filter(
    (p) => !p.at.includes('searchAttributes') && !p.at.includes('markerRecordedEventAttributes.details.patch-data'),
  );
  expect(payloads.length).toBeGreaterThan(20);
  expect(payloads.filter((p) => p.encoding !== ENCRYPTED_ENCODING)).toEqual([]);
  const raw = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
  expect(raw.includes(marker)).toBe(false);

  // The CLI without the key says what is missing, in one line.
  const keyless = await cli(['status', id], { CUTOVER_CODEC_KEY: '' }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  );
  expect(keyless.code).toBe(1);
  expect(keyless.stderr.trim()).toMatch(/^cutover: .*encrypted.*CUTOVER_CODEC_KEY/);
  // So does what-if, which reads the history itself; with the key it reads the evidence.
  const whatIfPlan = path.join(dir, 'what-if-plan.json');
  writeFileSync(whatIfPlan, JSON.stringify(makePlanInput()));
  const keylessWhatIf = await cli(['what-if', id, '--plan', whatIfPlan], { CUTOVER_CODEC_KEY: '' }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  );
  expect(keylessWhatIf.code).toBe(1);
  expect(keylessWhatIf.stderr.trim()).toBe(
    `cutover: ${id}: its evidence is encrypted and no key is at hand (set CUTOVER_CODEC_KEY, as for the workers)`,
  );
  const keyed = (await cli(['what-if', id, '--plan', whatIfPlan, '--json'])) as { stdout: string };
  expect((JSON.parse(keyed.stdout) as { workflowId: string }[])[0]?.workflowId).toBe(id);

  // The codec server decodes the start input for a token holder, and refuses anyone else.
  const port = await freePort();
  const token = randomBytes(24).toString('hex');
  const codecServer = spawnNode([CLI, 'codec-server', '--port', String(port)], { ...env, CUTOVER_CODEC_TOKEN: token });
  await waitForPort(port, 20_000, () => codecServer.exitCode === null);
  const input = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
  const body = JSON.stringify({
    payloads: [
      {
        metadata: Object.fromEntries(
          Object.entries(input.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
        ),
        data: Buffer.from(input.data!).toString('base64'),
      },
    ],
  });
  const post = (headers: Record<string, string>) =>
    fetch(`http://127.0.0.1:${port}/decode`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers },
    });
  const refused = await post({});
  expect(refused.status).toBe(401);
  const decoded = (await (await post({ authorization: `Bearer ${token}` })).json()) as { payloads: { data: string }[] };
  expect(Buffer.from(decoded.payloads[0]!.data, 'base64').toString()).toContain(marker);
  codecServer.kill('SIGTERM');
}, 180_000);

test('SIGTERM during a long activity: the worker exits 0 within its grace period; a new worker completes the cutover', async () => {
  const dir = tempDir('sigterm-');
  const ledger = path.join(dir, 'deploy.log');
  const env = baseEnv(dir, { CUTOVER_SHUTDOWN_GRACE: '2s', CUTOVER_LOG_LEVEL: 'info' });
  // The staging deploy takes 8 s and logs when it starts and when it finishes.
  const slowDeploy = {
    name: 'slow-deploy',
    run: nodeRun(
      `const fs = require('fs'); const log = ${JSON.stringify(ledger)}; fs.appendFileSync(log, 'start\\n'); setTimeout(() => fs.appendFileSync(log, 'done\\n'), 8000)`,
    ),
    timeout: '60s',
  };
  const base = makePlanInput();
  const plan = makePlan({ staging: { ...base.staging, deploy: [slowDeploy] }, production: quickProduction() });
  const worker = spawnNode([path.join(ROOT, 'dist', 'worker', 'main.js')], env);
  let logText = '';
  worker.stdout!.on('data', (chunk: Buffer) => (logText += chunk.toString()));
  const handle = await dev.client.workflow.start(cutoverWorkflow, {
    taskQueue: env.CUTOVER_TASK_QUEUE!,
    workflowId: uniqueId('sigterm'),
    args: [plan],
  });
  const lines = () => (existsSync(ledger) ? readFileSync(ledger, 'utf8').split('\n').filter(Boolean) : []);
  const deadline = Date.now() + 60_000;
  while (lines().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(lines()).toEqual(['start']);

  const exited = new Promise<{ code: number | null; ms: number }>((resolve) => {
    const sentAt = Date.now();
    worker.once('exit', (code) => resolve({ code, ms: Date.now() - sentAt }));
  });
  worker.kill('SIGTERM');
  const { code, ms } = await exited;
  expect(code).toBe(0);
  expect(ms).toBeLessThan(2_000 + 4_000);
  // Its log lines are JSON, and an activity's carry the workflow id, run id and activity type.
  const logs = logText
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(logs.find((l) => l.msg === 'step started')).toMatchObject({
    workflowId: handle.workflowId,
    workflowRunId: expect.any(String),
    activityType: 'runStep',
    step: 'deploy slow-deploy',
  });
  expect(logs.some((l) => /shutting down/.test(String(l.msg)))).toBe(true);
  // The deploy was stopped with the worker: it never finished on the old worker.
  await new Promise((r) => setTimeout(r, 500));
  expect(lines()).toEqual(['start']);

  spawnNode([path.join(ROOT, 'dist', 'worker', 'main.js')], env);
  const gateDeadline = Date.now() + 120_000;
  let status = await handle.query(statusQuery);
  while (status.state !== 'awaiting-signoff' && status.state !== 'failed' && Date.now() < gateDeadline) {
    await new Promise((r) => setTimeout(r, 500));
    status = await handle.query(statusQuery);
  }
  expect(status.state).toBe('awaiting-signoff');
  // The first attempt never finished; the retry on the new worker did (the rehearsal redeploys later).
  expect(lines().slice(0, 3)).toEqual(['start', 'start', 'done']);
  for (const [role, approver] of Object.entries(ROLES)) {
    await handle.executeUpdate(submitSignOffUpdate, { args: [{ role, approver, decision: 'approve' }] });
  }
  expect((await handle.result()).state).toBe('completed');
}, 240_000);
