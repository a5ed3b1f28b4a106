/**
 * Environments on the real time-skipping server: production's work waits on production's queue while no
 * worker polls it, shown in the status; after the plan's noWorkerAlert the escalation runs once; a worker
 * of that environment then takes the work; when it stops during monitoring, the waiting probe is shown by
 * `cutover status` (through the monitoring child), and the next worker completes the cutover.
 *
 * The queue is described by a stand-in for the `describeQueue` activity here (it reports no live poller):
 * the real one, against the dev server's pollers, is in test/integration/environments.test.ts.
 */
import { Worker } from '@temporalio/worker';
import { createActivities, ENVIRONMENT_ACTIVITIES } from '../../activities';
import type { QueueView } from '../../activities/queues';
import { cutoverWorkflow } from '../../workflows';
import { statusQuery } from '../../workflows/messages';
import {
  Ledger,
  makeWorker,
  timeSkippingServer,
  approveAll,
  tempDir,
  uniqueId,
  waitForStatus,
  recordHistory,
} from '../helpers/harness';
import { pollUntil } from '../helpers/poll';
import { makePlan, makePlanInput } from '../helpers/plans';
import { status as cutoverStatus, type Cutovers } from '../../lib/api';
import { renderStatus } from '../../lib/format';

const server = timeSkippingServer();

test('no worker on production: the wait is shown, noWorkerAlert escalates once, a production worker then completes it; a probe waiting in monitoring is shown too', async () => {
  const escalations = new Ledger();
  const described: string[] = [];
  const describeQueue = async (taskQueue: string): Promise<QueueView> => {
    described.push(taskQueue);
    return { taskQueue, checkedAt: new Date().toISOString(), live: 0 };
  };
  const { worker, taskQueue } = await makeWorker(server.env, { activities: { describeQueue } });
  const production = `${taskQueue}-production`;
  const base = makePlanInput();
  const plan = makePlan({
    signoff: {
      ...base.signoff,
      escalate: escalations.action('escalated'),
    },
    // Probes every 2 s: the one after the production worker stops comes soon in real time.
    production: { ...base.production, monitor: { ...base.production.monitor, window: '10s', interval: '2s' } },
    environments: { production: { taskQueue: production, noWorkerAlert: '20s' } },
  });
  await worker.runUntil(async () => {
    const handle = await server.env.client.workflow.start(cutoverWorkflow, {
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
      what: 'production: deploy',
    });
    // alertedAt is shown as the escalation starts; its action then runs on the orchestrator's queue.
    expect(
      await pollUntil(
        async () => escalations.names(),
        (names) => names.length > 0,
        { what: 'the escalation' },
      ),
    ).toEqual(['escalated']);
    expect(alerted.audit.filter((a) => a.rule === 'no-worker')).toHaveLength(1);
    expect(new Set(described)).toEqual(new Set([production]));

    // A production worker (only production's activities, on production's queue) takes the work, and stops
    // once monitoring has begun.
    const productionWorker = async () => {
      const activities = createActivities({ dataDir: tempDir('prod-') });
      return Worker.create({
        connection: server.env.nativeConnection,
        namespace: server.env.namespace ?? 'default',
        taskQueue: production,
        activities: Object.fromEntries(ENVIRONMENT_ACTIVITIES.production.map((name) => [name, activities[name]])),
      });
    };
    await (await productionWorker()).runUntil(waitForStatus(handle, (s) => s.state === 'monitoring'));
    // The next probe waits for a production worker: the monitoring child knows, and the CLI's status says so.
    const cutovers = { client: server.env.client } as unknown as Cutovers;
    const monitoring = await pollUntil(
      () => cutoverStatus(cutovers, handle.workflowId),
      (s) => s.waitingForWorker !== undefined,
      { what: 'the monitoring probe waiting for a worker' },
    );
    expect(monitoring.state).toBe('monitoring');
    expect(monitoring.waitingForWorker).toMatchObject({
      environment: 'production',
      taskQueue: production,
      what: expect.stringMatching(/^monitoring probe #\d+$/),
    });
    expect(renderStatus(monitoring)).toContain(`waiting: no live worker on production queue ${production}`);
    const result = await (await productionWorker()).runUntil(handle.result());
    expect(result.state).toBe('completed');
    await recordHistory(handle, 'environments-no-worker');
    const status = await handle.query(statusQuery);
    expect(status.waitingForWorker).toBeUndefined();
    expect(status.audit.map((a) => a.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(new RegExp(`a worker polls ${production} again`))]),
    );
    // Escalated once for the whole wait, however often the queue was described.
    expect(escalations.names()).toEqual(['escalated']);
  });
}, 180_000);

test.each([
  ['with a production environment', true],
  ['on one queue', false],
])(
  '%s a failed reference reading fails the cutover before any deploy, and its undo is dropped',
  async (_, routed) => {
    const ledger = new Ledger();
    const { worker, taskQueue } = await makeWorker(server.env);
    const production = `${taskQueue}-production`;
    const activities = createActivities({ dataDir: tempDir('prod-') });
    const productionWorker = await Worker.create({
      connection: server.env.nativeConnection,
      namespace: server.env.namespace ?? 'default',
      taskQueue: production,
      activities: Object.fromEntries(ENVIRONMENT_ACTIVITIES.production.map((name) => [name, activities[name]])),
    });
    const base = makePlanInput();
    const plan = makePlan({
      production: {
        ...base.production,
        deploy: ledger.action('deploy'),
        undo: ledger.action('undo'),
        monitor: { ...base.production.monitor, probe: ledger.action('probe', { exitCode: 3 }) },
      },
      ...(routed ? { environments: { production: { taskQueue: production } } } : {}),
    });
    await worker.runUntil(
      productionWorker.runUntil(async () => {
        const handle = await server.env.client.workflow.start(cutoverWorkflow, {
          taskQueue,
          workflowId: uniqueId(),
          args: [plan],
        });
        await waitForStatus(handle, (s) => s.state === 'awaiting-signoff');
        await approveAll(handle);
        await expect(handle.result()).rejects.toThrow();
        const status = await handle.query(statusQuery);
        expect(status.state).toBe('failed');
        expect(status.error?.message).toMatch(/the reference probe before deploy failed/);
        expect(status.audit.map((a) => a.message)).toEqual(
          expect.arrayContaining(['dropped: undo production deploy (the deploy never started)']),
        );
      }),
    );
    // The probe read (and failed); nothing was deployed or undone in production.
    expect(ledger.names()).toEqual(['probe']);
  },
  120_000,
);
