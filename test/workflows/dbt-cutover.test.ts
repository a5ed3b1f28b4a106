/**
 * dbt Labs' jaffle shop cut over end to end on the real time-skipping server, its actions the built `cutover dbt`
 * commands on a real PostgreSQL: V1 and V2 built by dbt into schemas of their own, each model an output diffed
 * pushed down between them; production is V2's publish and the rollback publishes V1 again. A V2 whose
 * `customer_lifetime_value` changes fails shadow naming `customers` and the column; within a tolerance the plan
 * gives (the 10 % fee moves no customer's value by more than 10), it reaches production, consumers read V2's rows, and after a rollback they read V1's again.
 */
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import type { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../plan/failures';
import { planSchema, type CutoverPlan } from '../../plan/schema';
import type { ShadowResult } from '../../shapes/evidence';
import { phaseResult } from '../../shapes/status';
import { cutoverWorkflow } from '../../workflows';
import { requestRollbackSignal } from '../../workflows/messages';
import { CHANGED_CLV, dbtWarehouse, JAFFLE_SHOP, projectVariant } from '../helpers/dbt';
import { approveAll, tempDir, timeSkippingWorker, uniqueId, waitForStatus } from '../helpers/harness';
import { makePlanInput, nodeRun } from '../helpers/plans';

jest.setTimeout(600_000);

const CLI = path.resolve(__dirname, '..', '..', 'dist', 'client', 'cli.js');
/** The variable the plan's `cutover dbt` actions read the warehouse from (the worker passes it on to them). */
const WAREHOUSE = 'JAFFLE_WAREHOUSE';
const work = tempDir('dbt-cutover-');
const warehouse = dbtWarehouse(work);
const databases: Record<string, string> = {};
const t = timeSkippingWorker({ dataDir: path.join(work, 'data'), databases });
const v2 = projectVariant(JAFFLE_SHOP, path.join(work, 'v2'), CHANGED_CLV);

beforeAll(async () => {
  databases.warehouse = warehouse.server.url;
  process.env[WAREHOUSE] = warehouse.server.url;
}, 120_000);

afterAll(() => {
  delete process.env[WAREHOUSE];
});

/** `cutover dbt …` as a plan action. */
const dbt = (...args: string[]) => ({ run: [process.execPath, CLI, 'dbt', ...args, '--warehouse-env', WAREHOUSE] });

/** The plan a release manager writes for jaffle shop today: every step a `cutover dbt` command. */
function jafflePlan(schema: string, tolerances: Record<string, { absolute: number }> = {}): CutoverPlan {
  const base = makePlanInput();
  const build = (project: string, suffix: string) =>
    dbt('build', '--project', project, '--schema', `${schema}_${suffix}`);
  const model = (name: string, key: string, withTolerances = false) => ({
    key: [key],
    tolerances: withTolerances ? tolerances : {},
    v1: { database: 'warehouse', table: `${schema}_v1.${name}` },
    v2: { database: 'warehouse', table: `${schema}_v2.${name}` },
  });
  return planSchema.parse({
    ...base,
    release: uniqueId('jaffle'),
    baseline: build(JAFFLE_SHOP, 'v1'),
    candidate: build(v2, 'v2'),
    staging: {
      deploy: [build(v2, 'staging')],
      tests: dbt('publish', '--published', `${schema}_staging_live`, '--build', `${schema}_staging`),
    },
    shadow: {
      datasets: [{ generate: { rows: 1, seed: 1 } }],
      noiseRuns: 0,
      outputs: { customers: model('customers', 'customer_id', true), orders: model('orders', 'order_id') },
    },
    stress: { sizes: [1], iterations: 1, warmup: 0 },
    rollback: { ...dbt('publish', '--published', `${schema}_staging_live`, '--build', `${schema}_v1`), target: '300s' },
    production: {
      ...base.production,
      deploy: dbt('publish', '--published', schema, '--build', `${schema}_v2`),
      undo: dbt('publish', '--published', schema, '--build', `${schema}_v1`),
      monitor: {
        window: '10m',
        interval: '1m',
        // The monitor's probe is not this test's subject (dbt tests as probes are still to come).
        probe: { run: nodeRun(`process.stdout.write(JSON.stringify({ metrics: { models: 5 }, errorRate: 0 }))`) },
        triggers: { errorRate: 0.01, kpiDrift: 0.05, failedProbes: 3 },
      },
      decommission: { ...dbt('drop', '--published', schema, '--build', `${schema}_v1`), afterCleanDays: 2 },
    },
  });
}

const start = (plan: CutoverPlan) =>
  t.env.client.workflow.start(cutoverWorkflow, { taskQueue: t.taskQueue, workflowId: uniqueId(), args: [plan] });

test('a V2 that changes customer_lifetime_value fails shadow, naming customers and the column', async () => {
  const handle = await start(jafflePlan('jaffle_strict'));
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = ((err as WorkflowFailedError).cause as ActivityFailure).cause as ApplicationFailure;
  expect(cause.type).toBe(FailureType.ComparisonFailed);
  expect(cause.message).toMatch(
    /output customers: \d+ differing row\(s\), limit 0 \(by column: customer_lifetime_value \d+\)/,
  );
  const status = await waitForStatus(handle, (s) => s.state === 'failed');
  const shadow = phaseResult(status.phases, 'shadow') as ShadowResult;
  const outputs = shadow.datasets[0]?.outputs ?? [];
  expect(outputs.map((o) => [o.output, o.verdict])).toEqual([
    ['customers', 'fail'],
    ['orders', 'pass'],
  ]);
  // Nothing reached production: the published schema was never made.
  const { rows } = await warehouse.admin.query("SELECT 1 FROM pg_namespace WHERE nspname = 'jaffle_strict'");
  expect(rows).toEqual([]);
});

test('within its tolerance V2 goes to production by publish; after a rollback consumers read V1 again', async () => {
  const handle = await start(jafflePlan('jaffle', { customer_lifetime_value: { absolute: 10 } }));
  await waitForStatus(handle, (s) => s.state === 'awaiting-signoff', 300_000);
  const total = async () =>
    (await warehouse.admin.query<{ n: string }>('SELECT sum(customer_lifetime_value)::text AS n FROM jaffle.customers'))
      .rows[0]?.n;
  const v1 = (
    await warehouse.admin.query<{ n: string }>(
      'SELECT sum(customer_lifetime_value)::text AS n FROM jaffle_v1.customers',
    )
  ).rows[0]?.n;
  await approveAll(handle);
  await waitForStatus(handle, (s) => s.phase === 'monitoring', 300_000);
  const onV2 = await total();
  expect(onV2).not.toBe(v1);
  await handle.signal(requestRollbackSignal, { requestedBy: 'di', reason: 'the finance dashboard moved' });
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'rolled-back' });
  expect(await total()).toBe(v1);
});
