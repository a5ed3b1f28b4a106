/**
 * A cutover with dry-run checks on the real time-skipping server: a shadow tolerance V2 misses (so does every
 * day's reconciliation) and a monitoring trigger every probe breaches, all dry runs. The cutover completes (no phase fails, nothing rolls back), and
 * status, the monitoring verdict, the audit trail and the Temporal UI's current details say what would have
 * failed, apart from the verdicts.
 */
import { cutoverWorkflow } from '../../workflows';
import { statusQuery } from '../../workflows/messages';
import { dryRunLines } from '../../workflows/output-lines';
import { approveAll, timeSkippingWorker, uniqueId, waitForStatus } from '../helpers/harness';
import { makePlan, makePlanInput, nodeRun } from '../helpers/plans';

const t = timeSkippingWorker();

test('dry-run checks that fail are shown and kept, and neither fail a phase nor roll back', async () => {
  const input = makePlanInput();
  const out = (par30: number) => JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: par30 }, rows: 10 });
  const probe = JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, errorRate: 0.5 });
  const plan = makePlan({
    baseline: { run: nodeRun(`process.stdout.write(${JSON.stringify(out(0.1))})`) },
    candidate: { run: nodeRun(`process.stdout.write(${JSON.stringify(out(0.2))})`) },
    shadow: { ...input.shadow, noiseRuns: 0, tolerances: { PAR30: { relative: 0.05, dryRun: true } } },
    production: {
      ...input.production,
      monitor: {
        ...input.production.monitor,
        probe: { run: nodeRun(`process.stdout.write(${JSON.stringify(probe)})`) },
        triggers: { errorRate: 0.01, failedProbes: 3, dryRun: ['errorRate'] },
      },
    },
  });
  const handle = await t.env.client.workflow.start(cutoverWorkflow, {
    taskQueue: t.taskQueue,
    workflowId: uniqueId(),
    args: [plan],
  });
  await waitForStatus(handle, (s) => s.state === 'awaiting-signoff');
  await approveAll(handle);
  const result = await handle.result();
  expect(result.state).toBe('completed');

  const status = await handle.query(statusQuery);
  const lines = dryRunLines(status);
  expect(lines).toEqual([
    expect.stringMatching(/^shadow: would have failed: 10 rows \(seed 1\): PAR30: \|difference\| 0\.1/),
    expect.stringMatching(/^monitoring: errorRate would have rolled back at probe #1: error rate 0\.5 > 0\.01$/),
    // Reconciliation judges with the shadow tolerances: each day the same dry run would have failed.
    expect.stringMatching(/^reconciliation day 1: would have failed: PAR30: /),
    expect.stringMatching(/^reconciliation day 2: would have failed: PAR30: /),
  ]);
  expect(status.phases.find((p) => p.phase === 'monitoring')?.verdict).toMatch(
    /no trigger fired; dry run: errorRate would have rolled back at probe #1$/,
  );
  expect(status.audit.map((a) => a.message)).toContain(
    'dry run: trigger errorRate would have rolled back at probe #1: error rate 0.5 > 0.01',
  );
  const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  expect(metadata.currentDetails).toMatch(
    /\*\*Dry-run checks\*\* \(measured, never counted\)\n\n- shadow: would have failed/,
  );
});
