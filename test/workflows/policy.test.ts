/**
 * The workers' policy on the real time-skipping server: a plan past it fails at the plan check, naming every
 * violation, before any action runs; a plan within it runs as the policy tightens it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { FailureType } from '../../plan/failures';
import { loadPolicy } from '../../policy/load';
import type { Action, CutoverPlanInput } from '../../plan/schema';
import type { StepInput } from '../../shapes/evidence';
import { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { rogueStepWorkflow } from './rogue/rogue-workflows';
import { createActivities, ENVIRONMENT_ACTIVITIES } from '../../activities';
import { environmentQueues, type Environment } from '../../plan/environments';
import { cutoverWorkflow, monitorWorkflow } from '../../workflows';
import { statusQuery, submitSignOffUpdate } from '../../workflows/messages';
import {
  approveAll,
  endQuietly,
  APPROVERS,
  checkedPlan,
  failureOf,
  Ledger,
  makeWorker,
  timeSkippingServer,
  recordHistory,
  scheduledActivities,
  TEST_SEAL_KEYS,
  tempDir,
  uniqueId,
  waitForStatus,
} from '../helpers/harness';
import { makePlan, scriptPlanInput, scriptStep } from '../helpers/plans';

const server = timeSkippingServer();
const DIR = tempDir('policy-wf-');
const APP = path.join(DIR, 'app');
const ledger = new Ledger();

beforeAll(async () => {
  mkdirSync(APP);
  // Every action of the good plan: records itself in the ledger, prints what a pipeline or probe prints.
  writeFileSync(
    path.join(APP, 'step.js'),
    [
      "const fs = require('fs');",
      `fs.appendFileSync(${JSON.stringify(ledger.file)}, process.argv[2] + '\\n');`,
      "if (process.argv[3]) fs.writeFileSync(process.argv[3], 'x');",
      'process.stdout.write(JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, rows: 10, errorRate: 0 }));',
    ].join('\n'),
  );
}, 120_000);

/** The policy of these tests; another `ceiling` makes another policy (another digest). */
function writePolicy(ceiling = 0.05): ReturnType<typeof loadPolicy> {
  const file = path.join(DIR, `policy-${ceiling}.yaml`);
  writeFileSync(
    file,
    stringify({
      version: 1,
      default: {
        roles: { qa: { approvers: ['bo', 'bea'], minQuorum: 2 } },
        commands: { default: [['node', 'app/step.js']] },
        folders: ['app'],
        ceilings: { tolerances: { '*': { relative: ceiling } } },
      },
    }),
  );
  return loadPolicy(file);
}

const step = scriptStep;

/**
 * A plain client on the test server, for the rogue workflows run while a cutover waits at its gate: the
 * environment's own client lets the server skip time while it awaits an answer, past the gate's deadline and
 * escalation window, and the expired cutover's compensations would then run.
 */
const untimed = () => new Client({ connection: server.env.connection });

/** The test plan with every action a `node step.js` the policy allows, and a second qa approver. */
function goodPlan(): CutoverPlanInput {
  const base = scriptPlanInput(APP);
  return { ...base, signoff: { ...base.signoff, roles: { ...base.signoff.roles, qa: ['bo', 'bea'] } } };
}

test('a plan past the policy fails at the plan check with every violation by path; no action runs', async () => {
  const { worker, taskQueue } = await makeWorker(server.env, { policy: writePolicy() });
  const before = ledger.entries().length;
  const hostile = makePlan({
    ...goodPlan(),
    staging: { deploy: [{ name: 'switch', run: ['sh', '-c', 'id'] }], tests: step('tests'), healthChecks: [] },
    shadow: { ...goodPlan().shadow, tolerances: { PAR30: { relative: 0.5 } } },
    signoff: { ...goodPlan().signoff, allowInitiator: true },
  });
  await worker.runUntil(async () => {
    const handle = await server.env.client.workflow.start(cutoverWorkflow, {
      taskQueue,
      workflowId: uniqueId(),
      args: [hostile],
    });
    const cause = await failureOf(handle, FailureType.PolicyViolation);
    expect(cause.message).toMatch(/^refused by the workers' policy \([0-9a-f]{12}\): /);
    for (const where of ['staging.deploy[0].run', 'shadow.tolerances.PAR30.relative', 'signoff.allowInitiator']) {
      expect(cause.message).toContain(where);
    }
    expect(await scheduledActivities(handle)).toEqual(['checkPlan']);
    await recordHistory(handle, 'policy-refused');
  });
  expect(ledger.entries().length).toBe(before);
});

test.each([
  ['with a deploy as its probe, naming a running cutover', { probe: step('deploy-from-monitor') }],
  ['with a rogue production queue', { probe: step('probe'), taskQueue: 'rogue-production' }],
])(
  'a monitorWorkflow started on its own (%s) ends at once with PolicyViolation; no probe runs',
  async (_what, extra) => {
    // Whoever may start workflows starts the child directly, claiming a cutover's id and the workers' digest.
    const policy = writePolicy();
    const { worker, taskQueue } = await makeWorker(server.env, { policy });
    const before = ledger.entries().length;
    await worker.runUntil(async () => {
      const handle = await server.env.client.workflow.start(monitorWorkflow, {
        taskQueue,
        workflowId: uniqueId('rogue-monitor'),
        args: [
          {
            parentWorkflowId: 'cutover-portfolio-kpi-v2',
            release: 'test-release',
            keyPrefix: 'cutover-portfolio-kpi-v2/x',
            triggers: {},
            reference: {},
            intervalMs: 1000,
            windowEndsAt: Date.now() + 3_600_000,
            baseDir: APP,
            policyDigest: policy.digest,
            state: { samples: 0, consecutiveFailures: 0, runs: 1, startedAt: new Date().toISOString() },
            ...extra,
          },
        ],
      });
      const cause = await failureOf(handle, FailureType.PolicyViolation);
      expect(cause.message).toBe(
        'monitorWorkflow runs only as the monitoring child of a checked cutover: it was started on its own, not by a cutover; nothing was run',
      );
      expect(await scheduledActivities(handle)).toEqual([]);
    });
    expect(ledger.entries().length).toBe(before);
  },
);

test('a plan within the policy runs as the policy tightens it: the quorum it raised shows at the gate', async () => {
  const { worker, taskQueue } = await makeWorker(server.env, { policy: writePolicy() });
  await worker.runUntil(async () => {
    const handle = await server.env.client.workflow.start(cutoverWorkflow, {
      taskQueue,
      workflowId: uniqueId(),
      args: [makePlan(goodPlan())],
    });
    const gate = await waitForStatus(handle, (s) => s.state === 'awaiting-signoff');
    expect(gate.gate.roles.find((r) => r.role === 'qa')).toMatchObject({ required: 2, missing: 2 });
    expect(gate.phases.slice(0, 4).map((p) => p.outcome)).toEqual(['passed', 'passed', 'passed', 'passed']);
    await endQuietly(handle);
  });
  expect(ledger.entries()).toEqual(expect.arrayContaining(['switch', 'tests', 'health', 'v1', 'v2', 'rollback']));
});

test("a policy swapped mid-cutover: the new policy's worker refuses the actions, audited and in status, until one with the cutover's policy takes them", async () => {
  const original = writePolicy(0.05);
  const swapped = writePolicy(0.01);
  const taskQueue = uniqueId('tq-swap');
  const workflowId = uniqueId();
  const deploys = () => ledger.entries().filter((line) => line === 'deploy').length;
  const before = deploys();
  const handle = server.env.client.workflow.getHandle<typeof cutoverWorkflow>(workflowId);

  // Checked against the original policy, the cutover reaches the gate.
  // No workflow cache: each worker takes the cutover's next task from the queue (no sticky queue to wait out).
  const first = await makeWorker(server.env, { policy: original, taskQueue, maxCachedWorkflows: 0 });
  await first.worker.runUntil(async () => {
    await server.env.client.workflow.start(cutoverWorkflow, { taskQueue, workflowId, args: [makePlan(goodPlan())] });
    const gate = await waitForStatus(handle, (s) => s.state === 'awaiting-signoff');
    expect(gate.policyDigest).toBe(original.digest);
  });

  // The workers now hold another policy: the gate still decides (workflow code), production's actions wait.
  const second = await makeWorker(server.env, { policy: swapped, taskQueue, maxCachedWorkflows: 0 });
  await second.worker.runUntil(async () => {
    for (const [role, approver] of [...Object.entries(APPROVERS), ['qa', 'bea']] as [string, string][]) {
      await handle.executeUpdate(submitSignOffUpdate, { args: [{ role, approver, decision: 'approve' }] });
    }
    const waiting = await waitForStatus(handle, (s) => s.waitingForPolicy !== undefined);
    expect(waiting.waitingForPolicy).toMatchObject({
      what: 'production: deploy',
      message: `this worker holds policy ${swapped.digest.slice(0, 12)}…, the cutover was checked against ${original.digest.slice(0, 12)}…`,
    });
    expect(waiting.audit.filter((a) => a.rule === 'policy-mismatch')).toEqual([
      expect.objectContaining({ accepted: false, message: expect.stringContaining('production: deploy refused') }),
    ]);
    expect(waiting.state).toBe('running');
    expect(waiting.phase).toBe('production');
  });
  expect(deploys()).toBe(before);

  // A worker with the cutover's policy takes the actions again, and the cutover completes.
  const third = await makeWorker(server.env, { policy: original, taskQueue, maxCachedWorkflows: 0 });
  await third.worker.runUntil(async () => {
    const result = await handle.result();
    expect(result.state).toBe('completed');
    // Read while a worker runs: a query on a closed cutover is answered by replaying it.
    const done = await handle.query(statusQuery);
    expect(done.waitingForPolicy).toBeUndefined();
    expect(done.audit.map((a) => a.message)).toContainEqual(
      expect.stringMatching(/^production: deploy: taken by a worker with the cutover's policy after \d+ refusal/),
    );
    await recordHistory(handle, 'policy-swapped');
  });
  expect(deploys()).toBe(before + 1);
});

test("a rogue workflow hands the workers a step with no seal, or with the seal copied from a running cutover's history: refused, nothing runs", async () => {
  const { worker, taskQueue } = await makeWorker(server.env, { policy: writePolicy() });
  const rogueQueue = uniqueId('tq-rogue');
  const rogue = await Worker.create({
    connection: server.env.nativeConnection,
    taskQueue: rogueQueue,
    workflowsPath: require.resolve('./rogue/rogue-workflows'),
  });
  await worker.runUntil(
    rogue.runUntil(async () => {
      const handle = await server.env.client.workflow.start(cutoverWorkflow, {
        taskQueue,
        workflowId: uniqueId(),
        args: [makePlan(goodPlan())],
      });
      await waitForStatus(handle, (s) => s.state === 'awaiting-signoff');
      const checked = await checkedPlan(handle);
      expect(checked.seal?.keyId).toBe('test-workers');
      const before = ledger.entries().length;
      const deploy = {
        workflowId: handle.workflowId,
        release: checked.release,
        key: `${handle.workflowId}/rogue/deploy`,
        label: 'deploy',
        environment: 'staging' as const,
        policyDigest: checked.policyDigest,
        action: step('rogue-deploy'),
        baseDir: checked.baseDir,
      };
      const asked = (input: StepInput) =>
        untimed().workflow.execute(rogueStepWorkflow, {
          taskQueue: rogueQueue,
          workflowId: uniqueId('rogue'),
          args: [taskQueue, input],
        });
      // A step the plan does not have, unsealed; then the plan's own deploy under the cutover's copied seal.
      expect(await asked(deploy)).toMatch(/^PolicyViolation: .*carries no seal of the workers' plan check/);
      const copied = { ...deploy, action: checked.staging.deploy[0] as Action, seal: checked.seal };
      expect(await asked(copied)).toMatch(
        /^PolicyViolation: .*is neither that run nor its child: a seal copied from another workflow; nothing was run/,
      );
      // The copied seal does not cover an action the plan does not have either, wherever it runs.
      expect(await asked({ ...copied, action: step('rogue-deploy') })).toMatch(/no seal covers it/);
      expect(ledger.entries().length).toBe(before);
      await endQuietly(handle);
    }),
  );
});

test("each environment's worker runs only its environment's sealed actions: a routed cutover completes; a staging step handed to production's worker under a copied seal is refused", async () => {
  const { worker, taskQueue } = await makeWorker(server.env, { seals: TEST_SEAL_KEYS });
  const queues = environmentQueues(taskQueue);
  const environmentWorker = async (environment: Environment) => {
    const activities = createActivities({ dataDir: tempDir(`${environment}-`), queues, seals: TEST_SEAL_KEYS });
    return Worker.create({
      connection: server.env.nativeConnection,
      namespace: server.env.namespace ?? 'default',
      taskQueue: queues[environment],
      activities: Object.fromEntries(ENVIRONMENT_ACTIVITIES[environment].map((name) => [name, activities[name]])),
    });
  };
  const [staging, production, compute] = await Promise.all(
    (['staging', 'production', 'compute'] as const).map((e) => environmentWorker(e)),
  );
  const rogueQueue = uniqueId('tq-rogue');
  const rogue = await Worker.create({
    connection: server.env.nativeConnection,
    taskQueue: rogueQueue,
    workflowsPath: require.resolve('./rogue/rogue-workflows'),
  });
  const routes = Object.fromEntries(Object.entries(queues).map(([name, queue]) => [name, { taskQueue: queue }]));
  const base = scriptPlanInput(APP);
  const plan = makePlan({
    ...base,
    production: { ...base.production, monitor: { ...base.production.monitor, window: '2m', interval: '1m' } },
    environments: routes,
  });
  const all = [worker, staging, production, compute, rogue] as Worker[];
  const runAll = (fn: () => Promise<void>): Promise<void> =>
    all.reduce<() => Promise<void>>((inner, w) => () => w.runUntil(inner()), fn)();
  await runAll(async () => {
    const handle = await server.env.client.workflow.start(cutoverWorkflow, {
      taskQueue,
      workflowId: uniqueId(),
      args: [plan],
    });
    await waitForStatus(handle, (s) => s.state === 'awaiting-signoff');
    const checked = await checkedPlan(handle);
    expect(checked.seal?.keyId).toBe('test-workers');
    const before = ledger.entries().length;
    const answer = await untimed().workflow.execute(rogueStepWorkflow, {
      taskQueue: rogueQueue,
      workflowId: uniqueId('rogue'),
      args: [
        queues.production,
        {
          workflowId: handle.workflowId,
          release: checked.release,
          key: `${handle.workflowId}/rogue/switch`,
          label: 'switch',
          environment: 'production',
          action: checked.staging.deploy[0] as Action,
          seal: checked.seal,
          ...(checked.baseDir ? { baseDir: checked.baseDir } : {}),
        },
      ],
    });
    expect(answer).toMatch(
      /^PolicyViolation: .*it is the plan's staging\.deploy\[0\], which runs on staging's queue, not on production's/,
    );
    expect(ledger.entries().length).toBe(before);
    await approveAll(handle);
    expect((await handle.result()).state).toBe('completed');
  });
}, 180_000);
