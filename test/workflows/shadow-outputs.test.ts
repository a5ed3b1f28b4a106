/**
 * The keyed diff in the shadow phase, with the example pipeline's real V1 and V2 processes, DuckDB and the real
 * time-skipping server: a V2 that moves one small segment's loans across a bucket boundary passes every KPI
 * and fails on its output tables; the real V2 passes them; an output V2 never wrote fails once, by name.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { workdirFor } from '../../activities/datasets';
import type { ShadowResult } from '../../shapes/phases';
import { markdownReport, renderStatus } from '../../lib/format';
import { FailureType } from '../../plan/failures';
import { loadPlan } from '../../plan/load';
import { planSchema, type CutoverPlan } from '../../plan/schema';
import { cutoverWorkflow } from '../../workflows';
import { statusQuery } from '../../workflows/messages';
import { phaseResult, type CutoverStatus } from '../../shapes/status';
import { approveAll, tempDir, timeSkippingWorker, uniqueId, waitForStatus } from '../helpers/harness';
import { exampleWarehouse } from '../helpers/warehouse';

const EXAMPLE = path.resolve(__dirname, '..', '..', 'examples', 'portfolio-kpi', 'plan.yaml');

const dataDir = tempDir('shadow-outputs-');
// V1 writes its tables to the example's warehouse (PostgreSQL), V2 to Parquet: the diff runs across the two.
const warehouse = exampleWarehouse();
const t = timeSkippingWorker({ dataDir, databases: warehouse.databases });
let example: CutoverPlan;

beforeAll(async () => {
  example = await loadPlan(EXAMPLE);
});

/** The example plan on one 20,000-row tape and a short stress, with `candidate` changed as a test needs. */
function examplePlan(candidate: Partial<CutoverPlan['candidate']> = {}): CutoverPlan {
  return planSchema.parse({
    ...example,
    release: uniqueId('outputs'),
    initiator: 'rm',
    candidate: { ...example.candidate, ...candidate },
    shadow: { ...example.shadow, datasets: [{ generate: { rows: 20000, seed: 7 } }] },
    // A short stress: its comparison is another test's subject (test/integration/processes/stress-compare.test.ts).
    stress: { ...example.stress, sizes: [2000], iterations: 2, warmup: 0, sustained: undefined, compare: undefined },
  });
}

async function start(plan: CutoverPlan): Promise<WorkflowHandle<typeof cutoverWorkflow>> {
  return t.env.client.workflow.start(cutoverWorkflow, { taskQueue: t.taskQueue, workflowId: uniqueId(), args: [plan] });
}

async function failureOf(handle: WorkflowHandle<typeof cutoverWorkflow>): Promise<ApplicationFailure> {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const activity = (err as WorkflowFailedError).cause;
  expect(activity).toBeInstanceOf(ActivityFailure);
  const cause = (activity as ActivityFailure).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

test('a V2 that puts one segment in the wrong bucket passes every KPI and fails the keyed diff, which names the output, the column and the loans', async () => {
  const handle = await start(examplePlan({ env: { PORTFOLIO_KPI_FAULT: 'segment' } }));
  const failure = await failureOf(handle);
  expect(failure.type).toBe(FailureType.ComparisonFailed);
  expect(failure.message).toMatch(
    /output loans: \d+ differing row\(s\), limit 0 \(by column: bucket \d+, provision \d+\); e\.g\. loan_id L\d{8}/,
  );

  const status: CutoverStatus = await handle.query(statusQuery);
  expect(status.state).toBe('failed');
  const shadow = phaseResult(status.phases, 'shadow') as ShadowResult;
  const [dataset] = shadow.datasets;
  // The aggregates agree: every KPI within its tolerance.
  expect(dataset?.metrics.every((m) => m.verdict === 'pass')).toBe(true);
  const loans = dataset?.outputs?.find((o) => o.output === 'loans');
  const segments = dataset?.outputs?.find((o) => o.output === 'segments');
  expect(loans).toMatchObject({ verdict: 'fail', rows: { v1: 20000, v2: 20000, both: 20000, onlyV1: 0, onlyV2: 0 } });
  const bucket = loans?.columns.find((c) => c.column === 'bucket');
  expect(bucket?.differing).toBe(loans?.rows.differing);
  expect(bucket?.differing).toBeGreaterThan(0);
  // Every differing loan is of the faulty segment, 31–40 days late, moved from 31–60 to 1–30.
  for (const sample of loans?.samples ?? []) {
    expect(sample).toMatchObject({
      presence: 'both',
      v1: { segment: 'micro', bucket: '31-60' },
      v2: { segment: 'micro', bucket: '1-30' },
    });
    expect(sample.differs).toEqual(['bucket', 'provision']);
    expect(String(sample.v1?.origination_month)).toMatch(/^2020-/);
  }
  expect(segments?.verdict).toBe('fail');
  expect(segments?.columns.find((c) => c.column === 'loans')?.differing).toBeGreaterThan(0);

  // Seen by people: the status lines, the report's per-column table with the differing cells marked.
  const text = renderStatus(status);
  expect(text).toMatch(
    /loans · 20000 rows \(seed 7\): \d+ matched, 0 only V1, 0 only V2, \d+ differing \(worst: bucket \d+\), \d+ of 40000 rows transferred · fail/,
  );
  const report = markdownReport(status);
  expect(report).toMatch(/\| bucket \| VARCHAR \| \d+ \| 0 \| \d+ \| 0 \|/);
  expect(report).toMatch(/\| L\d{8} \| both \| .*\*\*31-60 → 1-30\*\*/);
  // And in the Temporal UI's current details.
  const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  expect(metadata.currentDetails).toMatch(
    /\*\*Output diffs\*\*[\s\S]*- loans · 20000 rows \(seed 7\): .* · fail · e\.g\. L\d{8}/,
  );
}, 180_000);

test('the real V2 passes both tables (provision within its half-cent tolerance), and stress leaves no scratch output behind', async () => {
  const handle = await start(examplePlan());
  const status = await waitForStatus(handle, (s) => s.state === 'awaiting-signoff', 170_000);
  const shadow = phaseResult(status.phases, 'shadow') as ShadowResult;
  const outputs = shadow.datasets[0]?.outputs ?? [];
  expect(outputs.map((o) => [o.output, o.verdict])).toEqual([
    ['loans', 'pass'],
    ['segments', 'pass'],
  ]);
  const loans = outputs[0];
  expect(loans?.rows).toEqual({ v1: 20000, v2: 20000, both: 20000, onlyV1: 0, onlyV2: 0, differing: 0 });
  // V1's table in the warehouse, V2's Parquet file: diffed across the two, by checksummed segments.
  expect(loans?.files).toEqual({
    v1: 'postgres:warehouse:legacy.loan_kpis',
    v2: expect.stringMatching(/dataset-0\/v2\/loans\.parquet$/),
  });
  // V1 multiplies floats, V2 rounds each loan's provision to the cent: at the plan's 2 decimals most rows checksum
  // alike; a row whose float rounds the other way puts its segment's rows on the wire, where the half-cent
  // tolerance lets it pass. Only those cross: far fewer than the table.
  expect(loans?.transfer?.of).toBe(40000);
  expect(loans?.transfer?.rows).toBeLessThan(40000);
  const provision = loans?.columns.find((c) => c.column === 'provision');
  expect(provision?.differing).toBe(0);
  expect(provision?.maxAbsolute ?? 0).toBeLessThanOrEqual(0.006);
  expect(loans?.columns.find((c) => c.column === 'outstanding')).toMatchObject({ equal: 20000, differing: 0 });
  expect(outputs[1]?.rows.both).toBeGreaterThan(100);
  // The evidence digest the approvers sign covers the diff.
  expect(status.evidenceDigest).toMatch(/^[0-9a-f]{64}$/);

  const work = workdirFor(dataDir, handle.workflowId);
  expect(existsSync(path.join(work, 'outputs', 'dataset-0', 'v2', 'loans.parquet'))).toBe(true);
  expect(existsSync(path.join(work, 'outputs', 'dataset-0', 'duckdb-spill'))).toBe(false);
  expect(readdirSync(work).filter((f) => f.startsWith('scratch-'))).toEqual([]);
  await handle.cancel();
}, 180_000);

test("through production: each reconciliation day diffs V1's warehouse tables against V2's files, kept by day", async () => {
  const example = examplePlan();
  const plan = planSchema.parse({
    ...example,
    production: {
      ...example.production,
      reconcile: { every: '1h', days: 2 },
      decommission: { ...example.production.decommission, afterCleanDays: 2 },
    },
  });
  const handle = await start(plan);
  await waitForStatus(handle, (s) => s.state === 'awaiting-signoff', 170_000);
  await approveAll(handle);
  await handle.result();
  const status: CutoverStatus = await handle.query(statusQuery);
  const days = phaseResult(status.phases, 'reconciliation')?.days ?? [];
  expect(days.map((d) => [d.day, d.clean, (d.outputs ?? []).map((o) => [o.output, o.verdict])])).toEqual([
    [
      1,
      true,
      [
        ['loans', 'pass'],
        ['segments', 'pass'],
      ],
    ],
    [
      2,
      true,
      [
        ['loans', 'pass'],
        ['segments', 'pass'],
      ],
    ],
  ]);
  const loans = days[1]?.outputs?.[0];
  expect(loans).toMatchObject({
    dataset: 'day 2',
    files: {
      v1: 'postgres:warehouse:legacy.loan_kpis',
      v2: expect.stringMatching(/reconcile\/day-2\/v2\/loans\.parquet$/),
    },
    rows: { v1: 20000, v2: 20000, both: 20000, differing: 0 },
  });
  expect(renderStatus(status)).toMatch(
    /reconciliation outputs \(keyed diff, V1 vs V2, by day\):\n {2}loans · day 1: 20000 matched, 0 only V1, 0 only V2, 0 differing, \d+ of 40000 rows transferred · pass/,
  );
}, 240_000);

test('an output V2 never wrote fails the shadow phase once, naming the output, dataset and file; compensations run', async () => {
  // V2 names {output:segments} (so the plan is valid) but only in an environment variable it never reads.
  const run = example.candidate.run.filter((a, i, all) => a !== '--segments-out' && all[i - 1] !== '--segments-out');
  const handle = await start(examplePlan({ run, env: { UNUSED: '{output:segments}' } }));
  const failure = await failureOf(handle);
  expect(failure.type).toBe(FailureType.InvalidOutput);
  expect(failure.nonRetryable).toBe(true);
  expect(failure.message).toMatch(
    /output "segments", dataset 20000 rows \(seed 7\), V2: no such file \(the pipeline did not write it\): .*dataset-0\/v2\/segments\.parquet/,
  );
  const status: CutoverStatus = await handle.query(statusQuery);
  const record = status.phases.find((p) => p.phase === 'shadow');
  expect(record).toMatchObject({ outcome: 'failed', attempts: 1 });
  // The staging deploy's undo ran, as for any failed phase.
  expect(status.audit.filter((a) => a.kind === 'compensation').map((a) => a.message)).toContain(
    'ran: rollback staging',
  );
}, 180_000);
