/**
 * cutoverWorkflow on the real Java time-skipping test server, with the real activities running real (tiny)
 * processes, so compensations and their order show in a ledger of side effects.
 */
import {
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
  type WorkflowHandle,
} from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { ed25519 } from '@noble/curves/ed25519';
import type { Activities } from '../../activities';
import { createCheckPlan } from '../../activities/plan-check';
import { environmentQueues } from '../../plan/environments';
import { DEFAULT_TASK_QUEUE } from '../../shapes/queues';

/** The workers' plan check with no policy, on the default queues. */
const realCheckPlan = createCheckPlan({ queues: environmentQueues(DEFAULT_TASK_QUEUE) });
import { FailureType } from '../../plan/failures';
import type { CutoverPlan, CutoverPlanInput } from '../../plan/schema';
import { cutoverWorkflow } from '../../workflows';
import { signOffMessage } from '../../workflows/gate';
import {
  requestRollbackSignal,
  signOffSignal,
  statusQuery,
  submitSignOffUpdate,
  type SignOff,
} from '../../workflows/messages';
import type { CutoverStatus } from '../../shapes/status';
import {
  approveAll,
  endQuietly,
  APPROVERS,
  Ledger,
  makeWorker,
  recordHistory,
  timeSkippingWorker,
  uniqueId,
  waitForStatus,
} from '../helpers/harness';
import { makePlan, makePlanInput, nodeRun } from '../helpers/plans';

const ROLES = APPROVERS;

const t = timeSkippingWorker();

type Handle = WorkflowHandle<typeof cutoverWorkflow>;

async function start(overrides: Partial<CutoverPlanInput> = {}, queue = t.taskQueue): Promise<Handle> {
  return t.env.client.workflow.start(cutoverWorkflow, {
    taskQueue: queue,
    workflowId: uniqueId(),
    args: [makePlan(overrides)],
  });
}

function signOff(role: keyof typeof ROLES, extra: Partial<SignOff> = {}): SignOff {
  return { role, approver: ROLES[role], decision: 'approve', ...extra };
}

const atGate = (s: CutoverStatus) => s.state === 'awaiting-signoff';

/** The failure chain: WorkflowFailedError → ActivityFailure → ApplicationFailure with `type`. */
async function expectActivityFailure(promise: Promise<unknown>, type: string): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const activityFailure = (err as WorkflowFailedError).cause;
  expect(activityFailure).toBeInstanceOf(ActivityFailure);
  expect(activityFailure?.cause).toBeInstanceOf(ApplicationFailure);
  expect((activityFailure?.cause as ApplicationFailure).type).toBe(type);
}

/** The test plan's production section with deploy and undo recorded in `ledger`. */
function ledgerProduction(
  ledger: Ledger,
  extra: Partial<CutoverPlanInput['production']> = {},
): CutoverPlanInput['production'] {
  return { ...makePlanInput().production, deploy: ledger.action('deploy'), undo: ledger.action('undo'), ...extra };
}

describe('the plan', () => {
  test('a plan started from outside the CLI with problems fails as InvalidPlan, naming them, before any step', async () => {
    const handle = await t.env.client.workflow.start(cutoverWorkflow, {
      taskQueue: t.taskQueue,
      workflowId: uniqueId(),
      args: [{ release: 'bad plan' } as unknown as CutoverPlan],
    });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe(FailureType.InvalidPlan);
    expect(cause.message).toMatch(/release: .*; .*staging/);
    const types = ((await handle.fetchHistory()).events ?? []).flatMap((e) =>
      e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : [],
    );
    expect(types).toEqual(['checkPlan']);
  });

  test('status answers from the first moment, while the plan is being checked', async () => {
    await withLatchedPlanCheck(async (latch, queue) => {
      const handle = await start({}, queue);
      await latch.entered;
      // The plan check is still running: status answers from the starting record, before any gate exists.
      const first = await handle.query(statusQuery);
      expect(first).toMatchObject({ workflowId: handle.workflowId, release: 'test-release', state: 'running' });
      expect(first.gate.roles).toEqual([]);
      expect(first.reconciliation.days).toBe(0);
      latch.release();
      // Once the plan is checked, the cutover's own record: the plan's five roles and its reconciliation days.
      const gate = await waitForStatus(handle, atGate);
      expect(gate.gate.roles.map((r) => r.role)).toEqual(Object.keys(ROLES));
      expect(gate.reconciliation.days).toBe(makePlan().production.reconcile.days);
      // End it at the gate, with no task in flight (the time-skipping server would keep its lock).
      await endQuietly(handle);
    });
  });

  test('a sign-off sent as an update while the plan is checked is answered and audited, not dropped', async () => {
    await withLatchedPlanCheck(async (latch, queue) => {
      const handle = await start({}, queue);
      await latch.entered;
      // Accepted while the plan check is held: the cutover and its gate do not exist yet.
      const update = await handle.startUpdate(submitSignOffUpdate, {
        args: [signOff('engineering')],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      expect(latch.released).toBe(false);
      latch.release();
      expect(await update.result()).toMatchObject({ accepted: false, rule: 'gate-not-open' });
      const gate = await waitForStatus(handle, atGate);
      expect(gate.audit.filter((a) => a.kind === 'signoff')).toEqual([
        expect.objectContaining({ accepted: false, rule: 'gate-not-open', actor: 'ana' }),
      ]);
      expect(gate.gate.roles.map((r) => r.missing)).toEqual([1, 1, 1, 1, 1]);
      await endQuietly(handle);
    });
  });
});

interface Latch {
  /** Resolves when the plan check has started and is held. */
  entered: Promise<void>;
  released: boolean;
  release(): void;
}

/**
 * Runs `body` with a worker of its own whose `checkPlan` activity is held until `latch.release()`, then
 * checks the plan for real: the first moments of a cutover happen while the test looks, not by luck.
 */
async function withLatchedPlanCheck(body: (latch: Latch, queue: string) => Promise<void>): Promise<void> {
  let entered!: () => void;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const latch: Latch = {
    entered: new Promise<void>((resolve) => (entered = resolve)),
    released: false,
    release: () => {
      latch.released = true;
      release();
    },
  };
  const checkPlan: Activities['checkPlan'] = async (input) => {
    entered();
    await held;
    return realCheckPlan(input);
  };
  const latched = await makeWorker(t.env, { activities: { checkPlan } });
  // Released however the body ends: the worker's shutdown waits for the held activity.
  await latched.worker.runUntil(body(latch, latched.taskQueue).finally(() => latch.release()));
}

describe('happy path', () => {
  test('five roles approve: every phase passes, V1 is decommissioned, the cutover completes', async () => {
    const ledger = new Ledger();
    const handle = await start({
      production: ledgerProduction(ledger, { decommission: { ...ledger.action('decommission'), afterCleanDays: 2 } }),
    });
    const gate = await waitForStatus(handle, atGate);
    expect(gate.evidenceDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(gate.gate.roles.map((r) => r.missing)).toEqual([1, 1, 1, 1, 1]);
    expect(gate.phases.slice(0, 4).map((p) => p.outcome)).toEqual(['passed', 'passed', 'passed', 'passed']);

    await approveAll(handle);
    const result = await handle.result();

    expect(result.state).toBe('completed');
    expect(result.phases.map((p) => [p.phase, p.outcome])).toEqual([
      ['staging', 'passed'],
      ['shadow', 'passed'],
      ['stress', 'passed'],
      ['rollback-rehearsal', 'passed'],
      ['signoff', 'passed'],
      ['production', 'passed'],
      ['monitoring', 'passed'],
      ['reconciliation', 'passed'],
      ['decommission', 'passed'],
    ]);
    expect(ledger.names()).toEqual(['deploy', 'decommission']);
    const status = await handle.query(statusQuery);
    expect(status.reconciliation).toEqual({ day: 2, days: 2, cleanDays: 2 });
    expect(status.gate.status).toBe('approved');
    expect(status.audit.filter((a) => a.kind === 'signoff' && a.accepted)).toHaveLength(5);
    const described = await handle.describe();
    expect(described.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value])).toEqual(
      expect.arrayContaining([
        ['CutoverState', 'completed'],
        ['CutoverPhase', 'decommission'],
        ['CutoverRelease', 'test-release'],
      ]),
    );
    // The reference reading is taken inside the deploy's activity: the last approval's workflow task schedules
    // deployProduction itself, with no local activity and no other workflow task before it.
    const events = (await handle.fetchHistory()).events ?? [];
    const lastApproval = events.findLastIndex((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
    const deployScheduled = events.findIndex(
      (e, i) => i > lastApproval && e.activityTaskScheduledEventAttributes?.activityType?.name === 'deployProduction',
    );
    expect(deployScheduled).toBeGreaterThan(lastApproval);
    const between = events.slice(lastApproval, deployScheduled);
    expect(
      between.filter(
        (e) =>
          e.markerRecordedEventAttributes?.markerName === 'core_local_activity' ||
          e.activityTaskScheduledEventAttributes ||
          e.workflowTaskScheduledEventAttributes ||
          e.workflowTaskCompletedEventAttributes,
      ),
    ).toEqual([]);
    expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toEqual([]);
    await recordHistory(handle, 'happy-path');
  });
});

describe('the gate', () => {
  test('one role rejects: the cutover ends rejected and staging is rolled back', async () => {
    const ledger = new Ledger();
    const handle = await start({ rollback: { ...ledger.action('rollback-staging'), target: '300s' } });
    await waitForStatus(handle, atGate);
    await handle.executeUpdate(submitSignOffUpdate, { args: [signOff('engineering')] });
    const answer = await handle.executeUpdate(submitSignOffUpdate, {
      args: [signOff('qa', { decision: 'reject', comment: 'PAR90 drift unexplained' })],
    });
    expect(answer.accepted).toBe(true);
    expect(answer.gate.status).toBe('rejected');
    const result = await handle.result();
    expect(result.state).toBe('rejected');
    // The rehearsal ran the rollback once; the compensation ran it again at the end.
    expect(ledger.names()).toEqual(['rollback-staging', 'rollback-staging']);
    const status = await handle.query(statusQuery);
    expect(status.gate.rejectedBy).toEqual({ role: 'qa', approver: 'bo', comment: 'PAR90 drift unexplained' });
    expect(status.phases.find((p) => p.phase === 'production')?.outcome).toBe('pending');
    await recordHistory(handle, 'rejected');
  });
});

describe('refused sign-offs', () => {
  test('each refusal names its own rule, none counts, and all are in the audit trail', async () => {
    const handle = await start({
      signoff: {
        roles: {
          engineering: ['ana', 'rm', 'zed'],
          qa: ['bo', 'zed'],
          architecture: ['cy'],
          operations: ['di'],
          business: ['ed'],
        },
        deadline: '72h',
      },
    });
    const status = await waitForStatus(handle, atGate);
    const submit = (payload: SignOff) => handle.executeUpdate(submitSignOffUpdate, { args: [payload] });

    const cases: [SignOff, string][] = [
      [{ role: 'engineering', approver: 'mallory', decision: 'approve' }, 'unknown-approver'],
      [{ role: 'qa', approver: 'ana', decision: 'approve' }, 'wrong-role'],
      [{ role: 'security', approver: 'ana', decision: 'approve' }, 'unknown-role'],
      [{ role: 'engineering', approver: 'rm', decision: 'approve' }, 'initiator'],
      [{ role: 'engineering', approver: 'ana', decision: 'approve', evidenceDigest: 'f'.repeat(64) }, 'stale-evidence'],
    ];
    for (const [payload, rule] of cases) {
      const answer = await submit(payload);
      expect(answer).toMatchObject({ accepted: false, rule });
    }
    // One person for two roles: zed counts for engineering, then is refused for qa.
    expect(
      await submit({
        role: 'engineering',
        approver: 'zed',
        decision: 'approve',
        evidenceDigest: status.evidenceDigest as string,
      }),
    ).toMatchObject({ accepted: true });
    expect(await submit({ role: 'qa', approver: 'zed', decision: 'approve' })).toMatchObject({
      accepted: false,
      rule: 'separation-of-duties',
    });
    // A duplicate.
    expect(await submit({ role: 'engineering', approver: 'zed', decision: 'approve' })).toMatchObject({
      accepted: false,
      rule: 'duplicate',
    });

    const gate = await handle.query(statusQuery);
    expect(gate.gate.roles.find((r) => r.role === 'engineering')?.approvedBy).toEqual(['zed']);
    expect(gate.gate.roles.filter((r) => r.role !== 'engineering').every((r) => r.approvedBy.length === 0)).toBe(true);
    const refused = gate.audit.filter((a) => a.kind === 'signoff' && a.accepted === false).map((a) => a.rule);
    expect(refused).toEqual([
      'unknown-approver',
      'wrong-role',
      'unknown-role',
      'initiator',
      'stale-evidence',
      'separation-of-duties',
      'duplicate',
    ]);
    expect(gate.state).toBe('awaiting-signoff');

    // After a rejection nothing counts any more.
    await submit({ role: 'qa', approver: 'bo', decision: 'reject', comment: 'no' });
    expect(await submit({ role: 'architecture', approver: 'cy', decision: 'approve' })).toMatchObject({
      accepted: false,
      rule: 'gate-decided',
    });
    expect((await handle.result()).state).toBe('rejected');
  });

  test('a malformed sign-off is answered, audited and never counted; only an oversized one is stopped at the door', async () => {
    const handle = await start();
    await waitForStatus(handle, atGate);
    const bad = { role: 'qa', approver: 'bo', decision: 'maybe' } as unknown as SignOff;
    const answer = await handle.executeUpdate(submitSignOffUpdate, { args: [bad] });
    expect(answer).toMatchObject({ accepted: false, rule: 'malformed' });
    expect(answer.reason).toMatch(/decision/);
    const long = await handle.executeUpdate(submitSignOffUpdate, {
      args: [{ ...signOff('qa'), comment: 'x'.repeat(5000) }],
    });
    expect(long).toMatchObject({ accepted: false, rule: 'malformed' });
    expect(long.reason).toMatch(/comment/);
    // The same malformed payload as a signal is refused and kept in the audit trail too.
    await handle.signal(signOffSignal, bad);
    const after = await waitForStatus(handle, (s) => s.audit.filter((a) => a.kind === 'signoff').length === 3);
    expect(after.audit.filter((a) => a.kind === 'signoff')).toEqual([
      expect.objectContaining({ accepted: false, rule: 'malformed', actor: 'bo' }),
      expect.objectContaining({ accepted: false, rule: 'malformed', actor: 'bo' }),
      expect.objectContaining({ accepted: false, rule: 'malformed', actor: 'bo' }),
    ]);
    // A payload too large for history is refused by the update's validator, before anything is written.
    const err = await handle
      .executeUpdate(submitSignOffUpdate, { args: [{ ...signOff('qa'), comment: 'x'.repeat(20_000) }] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause as ApplicationFailure;
    expect(cause.type).toBe(FailureType.MalformedSignOff);
    expect(cause.message).toMatch(/at most 16384/);
    const final = await handle.query(statusQuery);
    expect(final.audit.filter((a) => a.kind === 'signoff')).toHaveLength(3);
    expect(final.gate.roles.every((r) => r.approvedBy.length === 0)).toBe(true);
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    expect((await handle.query(statusQuery)).state).toBe('cancelled');
  });

  test('with approver keys, only a valid signature over this cutover, role, decision and evidence counts', async () => {
    const secrets = Object.fromEntries(Object.values(ROLES).map((name) => [name, ed25519.utils.randomPrivateKey()]));
    const keys = Object.fromEntries(
      Object.entries(secrets).map(([name, secret]) => [
        name,
        Buffer.from(ed25519.getPublicKey(secret)).toString('hex'),
      ]),
    );
    const handle = await start({
      signoff: {
        roles: { engineering: ['ana'], qa: ['bo'], architecture: ['cy'], operations: ['di'], business: ['ed'] },
        keys,
      },
    });
    const { evidenceDigest, audit } = await waitForStatus(handle, atGate);
    // No policy pins approvers' keys here: they are the plan author's word, and the audit (so the report) says so.
    expect(audit.map((a) => a.message)).toContain(
      "approvers' keys are the plan author's (signoff.keys; the workers' policy pins none): a signed sign-off proves the key, not who holds it",
    );
    const digest = evidenceDigest as string;
    const sign = (name: string, role: string, decision: string, d = digest, workflowId = handle.workflowId) =>
      Buffer.from(
        ed25519.sign(
          new TextEncoder().encode(signOffMessage(workflowId, { role, approver: name, decision }, d)),
          secrets[name] as Uint8Array,
        ),
      ).toString('hex');
    const submit = (payload: SignOff) => handle.executeUpdate(submitSignOffUpdate, { args: [payload] });

    expect(await submit(signOff('qa'))).toMatchObject({ accepted: false, rule: 'missing-signature' });
    // Signed by another approver's key, for another cutover, or for the other decision: all refused.
    expect(await submit(signOff('qa', { signature: sign('ana', 'qa', 'approve') }))).toMatchObject({
      accepted: false,
      rule: 'bad-signature',
    });
    expect(
      await submit(signOff('qa', { signature: sign('bo', 'qa', 'approve', digest, 'cutover-other') })),
    ).toMatchObject({ accepted: false, rule: 'bad-signature' });
    expect(await submit(signOff('qa', { signature: sign('bo', 'qa', 'reject') }))).toMatchObject({
      accepted: false,
      rule: 'bad-signature',
    });
    expect(await submit(signOff('qa', { signature: 'zz' }))).toMatchObject({ accepted: false, rule: 'bad-signature' });
    for (const [role, name] of Object.entries(ROLES)) {
      expect(
        await submit({ role, approver: name, decision: 'approve', signature: sign(name, role, 'approve') }),
      ).toMatchObject({ accepted: true });
    }
    const result = await handle.result();
    expect(result.state).toBe('completed');
  });
});

describe('deadlines', () => {
  test('the deadline passes: escalation runs, then the gate expires and the cutover fails, compensated', async () => {
    const ledger = new Ledger();
    const handle = await start({
      rollback: { ...ledger.action('rollback-staging'), target: '300s' },
      signoff: {
        roles: { engineering: ['ana'], qa: ['bo'] },
        deadline: '72h',
        escalationWindow: '24h',
        escalate: ledger.action('escalate'),
      },
    });
    await waitForStatus(handle, atGate);
    await handle.executeUpdate(submitSignOffUpdate, { args: [signOff('engineering')] });
    await t.env.sleep('72h');
    const escalated = await waitForStatus(
      handle,
      (s) => s.gate.escalatedAt !== undefined && ledger.names().includes('escalate'),
    );
    expect(escalated.state).toBe('awaiting-signoff');
    await t.env.sleep('24h');
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe(FailureType.SignoffExpired);
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).message).toMatch(/missing qa/);
    const status = await handle.query(statusQuery);
    expect(status.state).toBe('failed');
    expect(status.gate.status).toBe('expired');
    expect(ledger.names()).toEqual(['rollback-staging', 'escalate', 'rollback-staging']);
    await recordHistory(handle, 'deadline-expired');
  });
});

describe('failures and compensations', () => {
  /** Each phase's failure, and the compensations that must run, newest first. */
  const cases: { phase: string; type: string; plan: (l: Ledger) => Partial<CutoverPlanInput>; expected: string[] }[] = [
    {
      phase: 'staging',
      type: FailureType.ActionFailed,
      plan: (l) => ({ staging: { deploy: [l.action('deploy-staging', { exitCode: 3 })] } }),
      expected: ['deploy-staging', 'rollback-staging'],
    },
    {
      phase: 'shadow',
      type: FailureType.ComparisonFailed,
      plan: () => ({
        candidate: {
          run: nodeRun(`process.stdout.write(JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.2 } }))`),
        },
      }),
      expected: ['rollback-staging'],
    },
    {
      phase: 'stress',
      type: FailureType.ThresholdFailed,
      plan: () => ({ stress: { sizes: [10], iterations: 2, warmup: 0, thresholds: { latencyP99: '1ms' } } }),
      expected: ['rollback-staging'],
    },
    {
      phase: 'rollback-rehearsal',
      type: FailureType.ThresholdFailed,
      plan: (l) => ({
        rollback: {
          ...l.action('rollback-staging', { out: '' }),
          run: nodeRun(
            "require('fs').appendFileSync(process.env.LEDGER, 'rollback-staging x\\n'); setTimeout(() => {}, 300)",
          ),
          target: '10ms',
        },
      }),
      expected: ['rollback-staging', 'rollback-staging'],
    },
    {
      phase: 'production',
      type: FailureType.ActionFailed,
      plan: (l) => ({
        production: {
          ...makePlanInput().production,
          deploy: l.action('deploy-prod', { exitCode: 2 }),
          undo: l.action('undo-prod'),
        },
      }),
      // The rehearsal's own rollback run, then the deploy, then its undo and staging's, newest first.
      expected: ['rollback-staging', 'deploy-prod', 'undo-prod', 'rollback-staging'],
    },
    {
      phase: 'reconciliation',
      type: FailureType.InvalidOutput,
      plan: (l) => ({
        // V2 prints nonsense on the first reconciliation day's data (seed 1 + day 1) only.
        candidate: {
          run: [
            ...nodeRun(
              `process.stdout.write(process.argv[1].endsWith('seed-2.csv') ? 'oops' : JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, rows: 10 }))`,
            ),
            '{dataset}',
          ],
        },
        production: ledgerProduction(l, { deploy: l.action('deploy-prod'), undo: l.action('undo-prod') }),
      }),
      expected: ['rollback-staging', 'deploy-prod', 'undo-prod', 'rollback-staging'],
    },
    {
      phase: 'decommission',
      type: FailureType.ActionFailed,
      plan: (l) => ({
        production: ledgerProduction(l, {
          deploy: l.action('deploy-prod'),
          undo: l.action('undo-prod'),
          decommission: { ...l.action('decommission', { exitCode: 4 }), afterCleanDays: 2 },
        }),
      }),
      // No undo: V1 was being removed, so production stays on V2 and the failure is for people to see.
      expected: ['rollback-staging', 'deploy-prod', 'decommission'],
    },
  ];

  test.each(cases)(
    '$phase fails ($type): the compensations run newest first',
    async ({ phase, type, plan, expected }) => {
      const ledger = new Ledger();
      const overrides = { rollback: { ...ledger.action('rollback-staging'), target: '300s' }, ...plan(ledger) };
      const handle = await start(overrides);
      if (['production', 'reconciliation', 'decommission'].includes(phase)) {
        await waitForStatus(handle, atGate);
        await approveAll(handle);
      }
      await expectActivityFailure(handle.result(), type);
      expect(ledger.names()).toEqual(expected);
      const status = await handle.query(statusQuery);
      expect(status.state).toBe('failed');
      expect(status.error?.type).toBe(type);
      expect(status.phases.find((p) => p.phase === phase)?.outcome).toBe('failed');
      // A failing phase keeps its evidence.
      if (phase === 'shadow')
        expect(status.phases.find((p) => p.phase === 'shadow')?.result).toMatchObject({ verdict: 'fail' });
      await recordHistory(handle, `failure-${phase}`);
    },
  );
});

describe('rollback', () => {
  test('a manual rollback during monitoring runs the undo and ends rolled-back', async () => {
    const ledger = new Ledger();
    const handle = await start({
      production: ledgerProduction(ledger, { monitor: { ...makePlanInput().production.monitor, window: '24h' } }),
    });
    await waitForStatus(handle, atGate);
    await approveAll(handle);
    await waitForStatus(handle, (s) => s.state === 'monitoring');
    await handle.signal(requestRollbackSignal, { requestedBy: 'di', reason: 'customer complaints' });
    const result = await handle.result();
    expect(result.state).toBe('rolled-back');
    expect(ledger.names()).toEqual(['deploy', 'undo']);
    const status = await handle.query(statusQuery);
    expect(status.rollback).toMatchObject({ requestedBy: 'di', reason: 'customer complaints', automatic: false });
    expect(status.phases.find((p) => p.phase === 'monitoring')?.outcome).toBe('cancelled');
    await recordHistory(handle, 'manual-rollback');
  });

  test('a rollback requested before production stops the cutover cleanly: staging rolled back, nothing deployed', async () => {
    const ledger = new Ledger();
    const handle = await start({
      rollback: { ...ledger.action('rollback-staging'), target: '300s' },
      production: ledgerProduction(ledger),
    });
    await waitForStatus(handle, atGate);
    await handle.signal(requestRollbackSignal, { requestedBy: 'di', reason: 'business freeze' });
    const result = await handle.result();
    expect(result.state).toBe('rolled-back');
    // The rehearsal's run, then the compensation: no production step ever ran.
    expect(ledger.names()).toEqual(['rollback-staging', 'rollback-staging']);
    const status = await handle.query(statusQuery);
    expect(status.phases.find((p) => p.phase === 'signoff')?.outcome).toBe('cancelled');
    expect(status.phases.find((p) => p.phase === 'production')?.outcome).toBe('pending');
  });

  test('a trigger breach rolls back automatically within one interval', async () => {
    const ledger = new Ledger();
    const breaching = JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, errorRate: 0.2 });
    // The probe is healthy for the reference reading, then reports a 20 % error rate.
    const probe = {
      name: 'probe',
      run: nodeRun(
        `const fs = require('fs'); const n = fs.existsSync(process.env.LEDGER) ? fs.readFileSync(process.env.LEDGER, 'utf8').split('\\n').filter(l => l.startsWith('deploy')).length : 0; process.stdout.write(n ? ${JSON.stringify(breaching)} : JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, errorRate: 0 }))`,
      ),
      env: { LEDGER: ledger.file },
    };
    const handle = await start({
      production: {
        ...makePlanInput().production,
        deploy: ledger.action('deploy'),
        undo: ledger.action('undo'),
        monitor: { window: '24h', interval: '1m', probe, triggers: { errorRate: 0.01 } },
      },
    });
    await waitForStatus(handle, atGate);
    await approveAll(handle);
    const result = await handle.result();
    expect(result.state).toBe('rolled-back');
    expect(ledger.names()).toEqual(['deploy', 'undo']);
    const status = await handle.query(statusQuery);
    expect(status.rollback).toMatchObject({ requestedBy: 'cutover', automatic: true });
    expect(status.rollback?.reason).toMatch(/errorRate/);
    // The breach came from the first probe after deploy: one interval.
    const monitoring = status.phases.find((p) => p.phase === 'monitoring');
    expect(monitoring?.durationMs).toBeLessThanOrEqual(60_000 + 5_000);
    await recordHistory(handle, 'automatic-rollback');
  });
});
