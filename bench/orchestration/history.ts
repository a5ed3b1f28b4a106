/**
 * `npm run bench history`: 24 h monitoring at a 1-minute interval on the time-skipping server.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { createTimeSkippingEnv } from '../../toolchain/time-skipping';
import { loadBundle } from '../../common/workflow-bundle';
import { defaultBundlePath } from '../../worker/worker';
import { createMetrics } from '../../worker/prometheus';
import { cutoverWorkflow } from '../../workflows';
import { save } from '../common';
import { WORK, quickPlan, say, signOffAll, table, waitForState } from './stack';

export async function benchHistory(): Promise<void> {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // already installed by an earlier bench in this process
  }
  const env = await createTimeSkippingEnv();
  try {
    say('history: a 24 h monitoring window at 1-minute probes, time-skipping…');
    mkdirSync(WORK, { recursive: true });
    const taskQueue = `bench-history-${Date.now().toString(36)}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      workflowBundle: { code: await loadBundle(defaultBundlePath()) },
      activities: createActivities({ dataDir: path.join(WORK, 'data') }),
      sinks: createMetrics().sinks,
    });
    const plan = quickPlan({
      release: 'history',
      deployMark: path.join(WORK, 'history.deploy'),
      undoMark: path.join(WORK, 'history.undo'),
      monitor: { window: '24h', interval: '1m' },
    });
    const t0 = performance.now();
    const counts: number[] = [];
    let parentEvents = 0;
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(cutoverWorkflow, {
        taskQueue,
        workflowId: `bench-history-${Date.now()}`,
        args: [plan],
      });
      await waitForState(handle, ['awaiting-signoff']);
      await signOffAll(handle);
      const result = await handle.result();
      if (result.state !== 'completed') throw new Error(`the 24 h cutover ended ${result.state}`);
      const parent = (await handle.fetchHistory()).events ?? [];
      parentEvents = parent.length;
      const child = parent.find((e) => e.childWorkflowExecutionStartedEventAttributes)
        ?.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      let runId: string | undefined = child?.runId ?? undefined;
      while (runId) {
        const events = (await env.client.workflow.getHandle(child!.workflowId!, runId).fetchHistory()).events ?? [];
        counts.push(events.length);
        runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
      }
    });
    const wallS = (performance.now() - t0) / 1000;
    table(
      ['history bound (24 h at 1-minute probes)', 'value', 'goal'],
      [
        ['most events in one monitor run', Math.max(...counts), '< 10,000'],
        ['monitor runs (continue-as-new)', counts.length, ''],
        ['events in the parent workflow', parentEvents, ''],
        ['wall time on the time-skipping server', `${wallS.toFixed(1)} s`, ''],
      ],
    );
    await save('history', { maxEventsPerRun: Math.max(...counts), eventsPerRun: counts, parentEvents, wallS });
  } finally {
    await env.teardown();
  }
}
