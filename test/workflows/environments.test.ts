/**
 * Environments on the real time-skipping server: production's work waits on production's queue while no
 * worker polls it, shown in the status; after the plan's noWorkerAlert the escalation runs once; a worker
 * of that environment then takes the work and the cutover completes.
 *
 * The queue is described by a stand-in for the `describeQueue` activity here (it reports no live poller):
 * the real one, against the dev server's pollers, is in test/integration/environments.test.ts.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createActivities, ENVIRONMENT_ACTIVITIES } from '../../activities';
import type { QueueView } from '../../activities/queues';
import { cutoverWorkflow } from '../../workflows';
import { statusQuery } from '../../workflows/messages';
import { Ledger, makeWorker, quietRuntime, approveAll, tempDir, uniqueId, waitForStatus } from '../helpers/harness';
import { makePlan, makePlanInput } from '../helpers/plans';
import { createTimeSkippingEnv } from '../helpers/temporal';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  quietRuntime();
  env = await createTimeSkippingEnv();
}, 120_000);

afterAll(async () => {
  await env?.teardown();
});

test('no worker on production: the wait is shown, noWorkerAlert escalates once, a production worker then completes it', async () => {
  const escalations = new Ledger();
  const described: string[] = [];
  const describeQueue = async (taskQueue: string): Promise<QueueView> => {
    described.push(taskQueue);
    return { taskQueue, checkedAt: new Date().toISOString(), live: 0 };
  };
  const { worker, taskQueue } = await makeWorker(env, { activities: { describeQueue } });
  const production = `${taskQueue}-production`;
  const base = makePlanInput();
  const plan = makePlan({
    signoff: {
      ...base.signoff,
      escalate: escalations.action('escalated'),
    },
    environments: { production: { taskQueue: production, noWorkerAlert: '20s' } },
  });
  await worker.runUntil(async () => {
    const handle = await env.client.workflow.start(cutoverWorkflow, {
      taskQueue,
      workflowId: uniqueId(),
      args: [plan],
    });
    await waitForStatus(handle, (s) => s.state === 'awaiting-signoff');
    await approveAll(handle);
    // While an activity is outstanding the server does not skip time: these waits are real (10 s, then 20 s).
    const waiting = await waitForStatus(handle, (s) => s.waitingForWorker !== undefined);
    expect(waiting.waitingForWorker?.alertedAt).toBeUndefined();
    expect(escalations.names()).toEqual([]);
    const alerted = await waitForStatus(handle, (s) => s.waitingForWorker?.alertedAt !== undefined);
    expect(alerted.phase).toBe('production');
    expect(alerted.waitingForWorker).toMatchObject({
      environment: 'production',
      taskQueue: production,
      what: 'reference probe',
    });
    expect(escalations.names()).toEqual(['escalated']);
    expect(alerted.audit.filter((a) => a.rule === 'no-worker')).toHaveLength(1);
    expect(new Set(described)).toEqual(new Set([production]));

    // A production worker: only production's activities, on production's queue.
    const activities = createActivities({ dataDir: tempDir('prod-') });
    const productionWorker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue: production,
      activities: Object.fromEntries(ENVIRONMENT_ACTIVITIES.production.map((name) => [name, activities[name]])),
    });
    const result = await productionWorker.runUntil(handle.result());
    expect(result.state).toBe('completed');
    const status = await handle.query(statusQuery);
    expect(status.waitingForWorker).toBeUndefined();
    expect(status.audit.map((a) => a.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(new RegExp(`a worker polls ${production} again`))]),
    );
    // Escalated once for the whole wait, however often the queue was described.
    expect(escalations.names()).toEqual(['escalated']);
  });
}, 180_000);
