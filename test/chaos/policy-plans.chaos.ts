/**
 * Plans written to get past the workers' organisation policy, as an attacker with start permission would:
 * each is started through the real `cutover start` process and through the raw `temporal workflow start`,
 * against a real worker process holding the policy (CUTOVER_POLICY) on a real dev server. Every one must be
 * refused before any action runs (only the plan check is ever scheduled; no marker file, no ledger line),
 * while a signed plan within the policy reaches the gate (the policy is not simply refusing everything).
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ed25519 } from '@noble/curves/ed25519';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { stringify } from 'yaml';
import { FailureType } from '../../plan/failures';
import type { CutoverPlan, CutoverPlanInput } from '../../plan/schema';
import { signPlan } from '../../plan/signing';
import type { DevServer } from '../../toolchain/dev-server';
import { temporalCliPath } from '../../toolchain/tools';
import { statusQuery } from '../../workflows/messages';
import { REFERENCES_WORKFLOW_ID, referencesQuery } from '../../shapes/references';
import { checkedPlan, failureOf, scheduledActivities, tempDir, uniqueId, stopProcess } from '../helpers/harness';
import { makePlan, scriptPlanInput, scriptStep } from '../helpers/plans';
import { startTestDevServer } from '../helpers/temporal';
import { report } from './report';
import { startWorker } from '../helpers/worker-process';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'client', 'cli.js');

const DIR = tempDir('policy-plans-');
const APP = path.join(DIR, 'app');
const OUTSIDE = path.join(DIR, 'outside');
const LEDGER = path.join(DIR, 'ledger.txt');
/** The work folder of the control cutover (running beside the attempts): no other cutover may reach it. */
const VICTIM = path.join(DIR, 'data', 'work', 'cutover-test-control');
const rmKey = ed25519.utils.randomPrivateKey();
const otherKey = ed25519.utils.randomPrivateKey();

let server: DevServer;
let worker: ChildProcess;
let client: Client;
let connection: Connection;
const taskQueue = uniqueId('tq-policy');

/** A marker a hostile command would leave if it ever ran. */
const marker = (n: number) => path.join(OUTSIDE, `pwned-${n}`);
const touch = (n: number) => `require('fs').writeFileSync(${JSON.stringify(marker(n))}, 'x')`;

beforeAll(async () => {
  mkdirSync(APP);
  mkdirSync(OUTSIDE);
  writeFileSync(
    path.join(APP, 'step.js'),
    [
      "const fs = require('fs');",
      `fs.appendFileSync(${JSON.stringify(LEDGER)}, process.argv[2] + '\\n');`,
      "if (process.argv[3]) fs.writeFileSync(process.argv[3], 'x');",
      'process.stdout.write(JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, rows: 10, errorRate: 0 }));',
    ].join('\n'),
  );
  // The probe's own script: the policy's probe list holds only it (a probe that says deploy is refused).
  writeFileSync(path.join(APP, 'probe.js'), readFileSync(path.join(APP, 'step.js')));
  writeFileSync(path.join(OUTSIDE, 'evil.js'), touch(0));
  symlinkSync(path.join(OUTSIDE, 'evil.js'), path.join(APP, 'link.js'));
  const policy = path.join(DIR, 'policy.yaml');
  writeFileSync(
    policy,
    stringify({
      version: 1,
      releaseManagers: {
        'rm-2026': { signer: 'rm', publicKey: Buffer.from(ed25519.getPublicKey(rmKey)).toString('hex') },
      },
      default: {
        requireSignedPlans: true,
        roles: Object.fromEntries(Object.entries(APPROVERS).map(([role, name]) => [role, { approvers: [name] }])),
        commands: { default: [['node', 'app/step.js']], probe: [['node', 'app/probe.js']] },
        folders: ['app'],
        urls: ['http://127.0.0.1:9/ok/'],
        ceilings: { tolerances: { '*': { relative: 0.05 } }, triggers: { errorRate: 0.05 } },
      },
    }),
  );
  const sealKey = path.join(DIR, 'workers.key');
  writeFileSync(sealKey, Buffer.from(ed25519.utils.randomPrivateKey()).toString('hex'), { mode: 0o600 });
  server = await startTestDevServer();
  worker = await startWorker({
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    CUTOVER_TASK_QUEUE: taskQueue,
    CUTOVER_DATA_DIR: path.join(DIR, 'data'),
    CUTOVER_POLICY: policy,
    CUTOVER_WORKER_KEY_FILE: sealKey,
    CUTOVER_LOG_LEVEL: 'warn',
  });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection });
}, 120_000);

afterAll(async () => {
  await connection?.close();
  await stopProcess(worker);
  await server?.stop();
});

const APPROVERS = { engineering: 'ana', qa: 'bo', architecture: 'cy', operations: 'di', business: 'ed' };
const step = scriptStep;
const signedBy = (key: Uint8Array, plan: CutoverPlan, keyId = 'rm-2026', expiresInMs = 3_600_000) =>
  signPlan(plan, key, { keyId, signer: 'rm', expiresAt: new Date(Date.now() + expiresInMs).toISOString() });

/** A plan within the policy: every action `node step.js <release>-NAME` in the app folder. */
function goodInput(release: string, overrides: Partial<CutoverPlanInput> = {}): CutoverPlanInput {
  const base = scriptPlanInput(APP, `${release}-`);
  const probe = { name: 'probe', run: ['node', 'probe.js', `${release}-probe`] };
  return {
    ...base,
    production: { ...base.production, monitor: { ...base.production.monitor, probe } },
    release,
    initiator: 'rm',
    staging: { ...base.staging, healthChecks: [] },
    signoff: { ...base.signoff, roles: Object.fromEntries(Object.entries(APPROVERS).map(([r, n]) => [r, [n]])) },
    ...overrides,
  };
}

interface Hostile {
  name: string;
  /** The plan as started (signed, unless the attempt is about the signature). */
  plan: (release: string) => unknown;
  /** Where the refusal must point. */
  names: string;
}

/** The first staging step replaced by `deploy`, the plan otherwise good and signed by the release manager. */
function withDeploy(deploy: CutoverPlanInput['staging']['deploy'][number]) {
  return (release: string) =>
    signedBy(
      rmKey,
      makePlan(goodInput(release, { staging: { deploy: [deploy], tests: step('t'), healthChecks: [] } })),
    );
}

const HOSTILE: Hostile[] = [
  {
    name: 'sh -c',
    plan: withDeploy({ name: 'x', run: ['sh', '-c', `touch ${marker(1)}`] }),
    names: 'staging.deploy[0].run',
  },
  { name: 'node -e', plan: withDeploy({ name: 'x', run: ['node', '-e', touch(2)] }), names: 'staging.deploy[0].run' },
  {
    name: 'a ../ escape',
    plan: withDeploy({ name: 'x', run: ['node', '../outside/evil.js'] }),
    names: 'staging.deploy[0].run',
  },
  {
    name: 'a symlink out of the folder',
    plan: withDeploy({ name: 'x', run: ['node', 'link.js'] }),
    names: 'staging.deploy[0].run',
  },
  {
    name: 'an absolute path outside the list',
    plan: withDeploy({ name: 'x', run: ['node', path.join(OUTSIDE, 'evil.js')] }),
    names: 'staging.deploy[0].run',
  },
  {
    name: 'NODE_OPTIONS --require',
    plan: withDeploy({ ...step('x'), env: { NODE_OPTIONS: `--require ${path.join(OUTSIDE, 'evil.js')}` } }),
    names: 'staging.deploy[0].env.NODE_OPTIONS',
  },
  {
    name: 'a cwd outside the folders',
    plan: withDeploy({ ...step('x'), cwd: OUTSIDE }),
    names: 'staging.deploy[0].cwd',
  },
  {
    name: 'a baseDir outside the folders',
    plan: (release) => signedBy(rmKey, makePlan(goodInput(release, { baseDir: OUTSIDE }))),
    names: 'baseDir',
  },
  {
    name: 'an http action outside the URL prefixes',
    plan: withDeploy({ name: 'x', http: 'http://169.254.169.254/latest/meta-data/' }),
    names: 'staging.deploy[0].http',
  },
  {
    name: 'a probe outside the URL prefixes',
    plan: (release) => {
      const input = goodInput(release);
      const production = {
        ...input.production,
        monitor: { ...input.production.monitor, probe: { http: 'http://127.0.0.1:9/evil' } },
      };
      return signedBy(rmKey, makePlan({ ...input, production }));
    },
    names: 'production.monitor.probe.http',
  },
  {
    name: 'a placeholder as the program',
    plan: withDeploy({ name: 'x', run: ['{dataset}', 'step.js'] }),
    names: 'staging.deploy[0].run',
  },
  {
    name: 'allowInitiator where the policy forbids it',
    plan: (release) => {
      const input = goodInput(release);
      return signedBy(rmKey, makePlan({ ...input, signoff: { ...input.signoff, allowInitiator: true } }));
    },
    names: 'signoff.allowInitiator',
  },
  {
    name: 'the author as every approver',
    plan: (release) => {
      const input = goodInput(release);
      const roles = Object.fromEntries(Object.keys(APPROVERS).map((role) => [role, ['rm']]));
      return signedBy(
        rmKey,
        makePlan({ ...input, signoff: { ...input.signoff, roles, separationOfDuties: false, allowInitiator: true } }),
      );
    },
    names: 'signoff.roles.engineering[0]',
  },
  {
    name: 'a tolerance looser than the ceiling',
    plan: (release) => {
      const input = goodInput(release);
      return signedBy(
        rmKey,
        makePlan({ ...input, shadow: { ...input.shadow, tolerances: { PAR30: { relative: 0.9 } } } }),
      );
    },
    names: 'shadow.tolerances.PAR30.relative',
  },
  { name: 'an unsigned plan', plan: (release) => makePlan(goodInput(release)), names: 'signature' },
  {
    name: 'a forged signature',
    plan: (release) => signedBy(otherKey, makePlan(goodInput(release))),
    names: 'signature',
  },
  {
    name: 'the signature of another plan',
    plan: (release) => {
      const other = signedBy(rmKey, makePlan(goodInput(release, { description: 'the plan that was approved' })));
      return { ...makePlan(goodInput(release)), signature: other.signature };
    },
    names: 'signature',
  },
  {
    name: 'a signature made for another release',
    plan: (release) => ({ ...signedBy(rmKey, makePlan(goodInput(`${release}-approved`))), release }),
    names: 'signature',
  },
  {
    name: 'an expired signature',
    plan: (release) => signedBy(rmKey, makePlan(goodInput(release)), 'rm-2026', -1000),
    names: 'signature',
  },
  {
    name: 'an unknown signing key',
    plan: (release) => signedBy(otherKey, makePlan(goodInput(release)), 'mallory-1'),
    names: 'signature.keyId',
  },
  {
    name: "another cutover's work folder by absolute path",
    plan: withDeploy({ ...step('x'), run: [...step('x').run, path.join(VICTIM, 'production')] }),
    names: 'staging.deploy[0].run[3]',
  },
  {
    name: "another cutover's work folder through {workdir}/..",
    plan: withDeploy({ ...step('x'), run: [...step('x').run, `{workdir}/../${path.basename(VICTIM)}/production`] }),
    names: 'staging.deploy[0].run[3]',
  },
  {
    name: "another cutover's work folder through a symlink planted in its own work folder",
    plan: (release) => {
      // As if an earlier step had left it there: the own work folder holds a link to the victim's.
      const own = path.join(DIR, 'data', 'work', `cutover-${release}`);
      mkdirSync(own, { recursive: true });
      symlinkSync(VICTIM, path.join(own, 'link'));
      return withDeploy({ ...step('x'), run: [...step('x').run, '{workdir}/link/production'] })(release);
    },
    names: 'staging.deploy[0].run[3]',
  },
  {
    name: "a probe that says deploy (the plan's own deploy script, with a production target)",
    plan: (release) => {
      const input = goodInput(release);
      const probe = { ...step(`${release}-deploy`), run: [...step(`${release}-deploy`).run, '{workdir}/production'] };
      const production = { ...input.production, monitor: { ...input.production.monitor, probe } };
      return signedBy(rmKey, makePlan({ ...input, production } as CutoverPlanInput));
    },
    names: 'production.monitor.probe.run',
  },
  {
    name: "the plan's own approver keys where it requires attested sign-offs",
    plan: (release) => {
      const input = goodInput(release);
      const own = Buffer.from(ed25519.getPublicKey(otherKey)).toString('hex');
      const keys = Object.fromEntries(Object.values(APPROVERS).map((name) => [name, own]));
      return signedBy(rmKey, makePlan({ ...input, signoff: { ...input.signoff, requireAttested: true, keys } }));
    },
    names: 'signoff.keys',
  },
];

/** The cutover's end: refused by the policy (its message naming `names`) with only the plan check scheduled. */
async function refusedBeforeAnyAction(workflowId: string, names: string): Promise<string | undefined> {
  const handle = client.workflow.getHandle(workflowId);
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof WorkflowFailedError)) return `not failed: ${String(err)}`;
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure) || cause.type !== FailureType.PolicyViolation) {
    return `failed otherwise: ${cause?.message}`;
  }
  if (!cause.message.includes(`${names}:`)) return `refused without naming ${names}: ${cause.message}`;
  const scheduled = ((await handle.fetchHistory()).events ?? []).flatMap((e) =>
    e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : [],
  );
  if (scheduled.join() !== 'checkPlan') return `scheduled ${scheduled.join(', ')}`;
  // The refusal is in status too, in one line.
  const status = await handle.query(statusQuery);
  if (status.state !== 'failed' || status.error?.type !== FailureType.PolicyViolation) {
    return `status says ${status.state} ${status.error?.type}`;
  }
  return undefined;
}

test("hostile plans against the workers' policy: all refused before any action, by `cutover start` and by the raw temporal CLI", async () => {
  const failures: string[] = [];
  let refused = 0;
  const attempts: Promise<void>[] = [];
  for (const [i, hostile] of HOSTILE.entries()) {
    for (const via of ['cutover start', 'temporal workflow start'] as const) {
      attempts.push(
        (async () => {
          const release = `test-${i}-${via === 'cutover start' ? 'cli' : 'raw'}`;
          const file = path.join(DIR, `${release}.json`);
          writeFileSync(file, JSON.stringify(hostile.plan(release)));
          const workflowId = `cutover-${release}`;
          const env = { ...process.env, TEMPORAL_ADDRESS: server.address, CUTOVER_TASK_QUEUE: taskQueue };
          if (via === 'cutover start') {
            // The CLI waits for the workers' plan check: a refusal is one line and exit 1.
            const answer = await run(process.execPath, [CLI, 'start', file, '--as', 'rm'], {
              env,
              timeout: 60_000,
            }).then(
              () => ({ code: 0, stderr: '' }),
              (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
            );
            const line = `cutover: ${workflowId} was refused at the workers' plan check: refused by the workers' policy`;
            if (answer.code !== 1 || !answer.stderr.startsWith(line) || !answer.stderr.includes(`${hostile.names}:`)) {
              failures.push(`${hostile.name} via ${via}: exit ${answer.code}: ${answer.stderr.slice(0, 300)}`);
              return;
            }
          } else {
            await run(
              temporalCliPath(),
              [
                'workflow',
                'start',
                '--type',
                'cutoverWorkflow',
                '--task-queue',
                taskQueue,
                '--workflow-id',
                workflowId,
              ].concat(['--input-file', file, '--address', server.address]),
              { timeout: 60_000 },
            );
          }
          const problem = await refusedBeforeAnyAction(workflowId, hostile.names);
          if (problem) failures.push(`${hostile.name} via ${via}: ${problem}`);
          else refused++;
        })(),
      );
    }
  }
  // The control: a signed plan within the policy reaches the gate.
  const control = path.join(DIR, 'control.json');
  writeFileSync(control, JSON.stringify(signedBy(rmKey, makePlan(goodInput('test-control')))));
  const env = { ...process.env, TEMPORAL_ADDRESS: server.address, CUTOVER_TASK_QUEUE: taskQueue };
  await run(process.execPath, [CLI, 'start', control, '--as', 'someone'], { env, timeout: 60_000 });
  const controlHandle = client.workflow.getHandle('cutover-test-control');
  await Promise.all(attempts);
  let gate = await controlHandle.query(statusQuery);
  for (let i = 0; i < 240 && gate.state !== 'awaiting-signoff'; i++) {
    await new Promise((r) => setTimeout(r, 250));
    gate = await controlHandle.query(statusQuery);
  }
  await controlHandle.terminate('control seen at the gate');

  const ledger = existsSync(LEDGER) ? readFileSync(LEDGER, 'utf8').split('\n').filter(Boolean) : [];
  const hostileEffects = ledger.filter((line) => !line.startsWith('test-control'));
  const markers = readdirSync(OUTSIDE).filter((f) => f.startsWith('pwned'));
  const attemptsMade = HOSTILE.length * 2;
  report({
    area: "hostile plans vs the workers' policy",
    faults: `${attemptsMade} attempts (${HOSTILE.length} plans × cutover start and temporal CLI)`,
    refused: `${refused} of ${attemptsMade}, before any action`,
    wronglyAccepted: attemptsMade - refused,
  });
  console.log(
    `hostile plans vs policy: ${attemptsMade} attempts, refused ${refused}; problems:\n${failures.join('\n')}`,
  );
  expect(failures).toEqual([]);
  expect(hostileEffects).toEqual([]);
  expect(markers).toEqual([]);
  expect(refused).toBe(attemptsMade);
  // The control ran under the policy, as its signer, and reached the gate.
  expect(gate).toMatchObject({ state: 'awaiting-signoff', initiator: 'rm' });
  expect(gate.policyDigest).toMatch(/^[0-9a-f]{64}$/);
  expect(ledger).toEqual(expect.arrayContaining(['test-control-switch', 'test-control-v1', 'test-control-v2']));
}, 600_000);

/** A monitor's input as a cutover would give it, naming the control cutover; `overrides` are the attack. */
function monitorInput(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    parentWorkflowId: 'cutover-test-control',
    release: 'test-control',
    keyPrefix: 'cutover-test-control/x',
    triggers: {},
    reference: {},
    intervalMs: 1000,
    windowEndsAt: Date.now() + 3_600_000,
    baseDir: APP,
    state: { samples: 0, consecutiveFailures: 0, runs: 1, startedAt: new Date().toISOString() },
    ...overrides,
  };
}

/** Starts a workflow of `type` with `input` through the raw `temporal workflow start`, as anyone may. */
async function startThroughCli(type: string, workflowId: string, input: unknown): Promise<void> {
  const file = path.join(DIR, `${workflowId}.json`);
  writeFileSync(file, JSON.stringify(input));
  await run(temporalCliPath(), [
    'workflow',
    'start',
    '--type',
    type,
    '--task-queue',
    taskQueue,
    '--workflow-id',
    workflowId,
    '--input-file',
    file,
    '--address',
    server.address,
  ]);
}

test('a monitorWorkflow started on its own through the raw temporal CLI, with a deploy as its probe and a rogue queue, ends at once with PolicyViolation; nothing runs', async () => {
  const workflowId = uniqueId('rogue-monitor');
  await startThroughCli(
    'monitorWorkflow',
    workflowId,
    monitorInput({ probe: step('rogue-deploy'), taskQueue: 'rogue-production' }),
  );
  const handle = client.workflow.getHandle(workflowId);
  const cause = await failureOf(handle, FailureType.PolicyViolation);
  expect(cause.message).toContain('started on its own, not by a cutover; nothing was run');
  expect(await scheduledActivities(handle)).toEqual([]);
  const ledger = existsSync(LEDGER) ? readFileSync(LEDGER, 'utf8') : '';
  expect(ledger).not.toContain('rogue-deploy');
  report({
    area: 'a child workflow started on its own',
    faults: 'monitorWorkflow through the temporal CLI: a deploy as probe, a rogue queue',
    refused: 'ended with PolicyViolation, no activity scheduled',
    wronglyAccepted: 0,
  });
}, 120_000);

test("a monitorWorkflow started on its own with the control cutover's id and the seal copied from its history, and the references registry started with forged pins: refused or emptied, nothing runs", async () => {
  // The control cutover's history is readable by whoever may start workflows: its plan check's result holds the seal.
  const control = client.workflow.getHandle('cutover-test-control');
  const plan = await checkedPlan(control);
  expect(plan.seal?.actions['production.monitor.probe']).toMatch(/^[0-9a-f]{128}$/);
  const workflowId = uniqueId('replayed-seal-monitor');
  const before = existsSync(LEDGER) ? readFileSync(LEDGER, 'utf8') : '';
  await startThroughCli(
    'monitorWorkflow',
    workflowId,
    monitorInput({ probe: plan.production.monitor.probe, seal: plan.seal, policyDigest: plan.policyDigest }),
  );
  const handle = client.workflow.getHandle(workflowId);
  const cause = await failureOf(handle, FailureType.PolicyViolation);
  expect(cause.message).toContain('started on its own, not by a cutover; nothing was run');
  expect(await scheduledActivities(handle)).toEqual([]);
  expect(existsSync(LEDGER) ? readFileSync(LEDGER, 'utf8') : '').toBe(before);

  // The registry, started directly under its own id with pins of the attacker's: it begins empty.
  await startThroughCli('referencesWorkflow', REFERENCES_WORKFLOW_ID, {
    pinned: { 'test-*': { workflowId: 'cutover-evil', by: 'mallory', at: '2026-01-01' } },
    bad: {},
  });
  const registry = client.workflow.getHandle(REFERENCES_WORKFLOW_ID);
  expect(await registry.query(referencesQuery)).toEqual({ pinned: {}, bad: {} });
  await registry.terminate('seen');
  report({
    area: 'a child workflow started on its own; the registry started directly',
    faults: "monitorWorkflow with the control cutover's id and its copied seal; referencesWorkflow with forged pins",
    refused: 'the monitor ended with PolicyViolation, no activity scheduled; the registry began empty',
    wronglyAccepted: 0,
  });
}, 120_000);
