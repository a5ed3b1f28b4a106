/**
 * cutoverWorkflow on the real Java time-skipping test server, with the real activities running real (tiny)
 * processes, so compensations and their order show in a ledger of side effects.
 */
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { ed25519 } from '@noble/curves/ed25519';
import { FailureType } from '../../plan/failures';
import type { CutoverPlanInput } from '../../plan/schema';
import { cutoverWorkflow } from '../../workflows';
import { signOffMessage } from '../../workflows/gate';
import {
  requestRollbackSignal,
  signOffSignal,
  statusQuery,
  submitSignOffUpdate,
  type SignOff,
} from '../../workflows/messages';
import type { CutoverStatus } from '../../workflows/status';
import { Ledger, makeWorker, quietRuntime, recordHistory, uniqueId, waitForStatus } from '../helpers/harness';
import { makePlan, makePlanInput, nodeRun } from '../helpers/plans';
import { createTimeSkippingEnv } from '../helpers/temporal';

const ROLES = { engineering: 'ana', qa: 'bo', architecture: 'cy', operations: 'di', business: 'ed' } as const;

let env: TestWorkflowEnvironment;
let worker: Worker;
let taskQueue: string;

beforeAll(async () => {
  quietRuntime();
  env = await createTimeSkippingEnv();
  ({ worker, taskQueue } = await makeWorker(env));
  void worker.run();
}, 120_000);

afterAll(async () => {
  if (worker) {
    worker.shutdown();
    await new Promise<void>((resolve) => {
      const check = () => (worker.getState() === 'STOPPED' ? resolve() : setTimeout(check, 50));
      check();
    });
  }
  await env?.teardown();
});

type Handle = WorkflowHandle<typeof cutoverWorkflow>;

async function start(overrides: Partial<CutoverPlanInput> = {}, queue = taskQueue): Promise<Handle> {
  return env.client.workflow.start(cutoverWorkflow, {
    taskQueue: queue,
    workflowId: uniqueId(),
    args: [makePlan(overrides)],
  });
}

function signOff(role: keyof typeof ROLES, extra: Partial<SignOff> = {}): SignOff {
  return { role, approver: ROLES[role], decision: 'approve', ...extra };
}

async function approveAll(handle: Handle): Promise<void> {
  for (const role of Object.keys(ROLES) as (keyof typeof ROLES)[]) {
    const answer = await handle.executeUpdate(submitSignOffUpdate, { args: [signOff(role)] });
    expect(answer).toMatchObject({ accepted: true });
  }
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

describe('happy path', () => {
  test('five roles approve: every phase passes, V1 is decommissioned, the cutover completes', async () => {
    const ledger = new Ledger();
    const handle = await start({
      production: {
        ...makePlanInput().production,
        deploy: ledger.action('deploy'),
        undo: ledger.action('undo'),
        decommission: { ...ledger.action('decommission'), afterCleanDays: 2 },
      },
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
