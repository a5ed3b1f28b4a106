/**
 * Long monitoring with bounded history, on the real time-skipping server.
 */
import type { Client } from '@temporalio/client';
import type { History } from '@temporalio/common/lib/proto-utils';
import type { ProbeInput, ProbeResult } from '../../shapes/evidence';
import { cutoverWorkflow } from '../../workflows';
import { SAMPLES_PER_RUN } from '../../workflows/monitor';
import { approveAll, makeWorker, timeSkippingServer, uniqueId, waitForStatus } from '../helpers/harness';
import { makePlan, makePlanInput } from '../helpers/plans';

const server = timeSkippingServer();

/** Events in each run of a workflow id, following continue-as-new from `firstRunId`. */
async function eventsPerRun(client: Client, workflowId: string, firstRunId: string): Promise<number[]> {
  const counts: number[] = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    const history: History = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    counts.push(events.length);
    const last = events[events.length - 1];
    runId = last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return counts;
}

test('a 24 h monitoring window at a 1-minute interval keeps every run of history bounded', async () => {
  let probes = 0;
  const probe = async (input: ProbeInput): Promise<ProbeResult> => {
    probes++;
    return {
      ok: true,
      at: new Date().toISOString(),
      consecutiveFailures: 0,
      metrics: input.reference ?? {},
      errorRate: 0,
    };
  };
  const { worker, taskQueue } = await makeWorker(server.env, { activities: { probe } });
  const plan = makePlan({
    production: {
      ...makePlanInput().production,
      monitor: { ...makePlanInput().production.monitor, window: '24h', interval: '1m' },
      reconcile: { every: '24h', days: 0 },
      decommission: { ...makePlanInput().production.decommission, afterCleanDays: 0 },
    },
  });
  const workflowId = uniqueId();
  await worker.runUntil(async () => {
    const handle = await server.env.client.workflow.start(cutoverWorkflow, { taskQueue, workflowId, args: [plan] });
    await waitForStatus(handle, (s) => s.state === 'awaiting-signoff');
    await approveAll(handle);
    const result = await handle.result();
    expect(result.state).toBe('completed');

    const parent = await handle.fetchHistory();
    const started = parent.events?.find((e) => e.childWorkflowExecutionStartedEventAttributes);
    const child = started?.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    const counts = await eventsPerRun(server.env.client, child?.workflowId as string, child?.runId as string);
    // 1440 one-minute samples; the reference reading before the deploy is taken inside deployProduction.
    expect(probes).toBe(1440);
    expect(counts.length).toBe(Math.ceil(1440 / SAMPLES_PER_RUN));
    expect(Math.max(...counts)).toBeLessThan(10_000);
    expect((parent.events ?? []).length).toBeLessThan(500);
    console.log(
      `monitor runs: ${counts.length}, events per run: ${counts.join(', ')}; parent events: ${parent.events?.length}`,
    );
  });
}, 300_000);
