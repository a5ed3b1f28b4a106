/**
 * dbt Labs' jaffle shop cut over end to end on the real time-skipping server, with the plan `cutover plan init
 * --dbt` writes, its actions the built `cutover dbt` commands on a real PostgreSQL: V1 and V2 built by dbt into
 * schemas of their own, each model V2 changes diffed pushed down between them from the builds' manifests (the plan's
 * `dbt` section), what changed in it kept for the approvers; production is V2's publish and the rollback publishes
 * V1 again. A V2 whose `customer_lifetime_value` changes fails shadow naming `customers` and the column; within a
 * tolerance the plan gives (the 10 % fee moves no customer's value by more than 10), it reaches production,
 * consumers read V2's rows, and after a rollback they read V1's again.
 */
import path from 'node:path';
import { parse } from 'yaml';
import { WorkflowFailedError } from '@temporalio/client';
import type { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../plan/failures';
import { planSchema, type CutoverPlan, type CutoverPlanInput } from '../../plan/schema';
import { dbtPythonPath } from '../../common/cache';
import { cutoverOnPath } from '../../toolchain/tools';
import { dbtPlan } from '../../dbt/init-plan';
import type { Manifest } from '../../dbt/manifest';
import { postgresTarget, runDbt } from '../../dbt/run';
import type { ShadowResult } from '../../shapes/phases';
import { phaseResult } from '../../shapes/status';
import { renderStatus } from '../../lib/format';
import { cutoverWorkflow } from '../../workflows';
import { requestRollbackSignal, submitSignOffUpdate } from '../../workflows/messages';
import { CHANGED_CLV, dbtWarehouse, JAFFLE_SHOP, NOISY, projectVariant, REFACTOR } from '../helpers/dbt';
import { approveAll, tempDir, timeSkippingWorker, uniqueId, waitForStatus } from '../helpers/harness';
import { makePlanInput } from '../helpers/plans';

jest.setTimeout(600_000);

/** The variable the plan's `cutover dbt` actions read the warehouse from (the worker passes it on to them). */
const WAREHOUSE = 'CUTOVER_DBT_WAREHOUSE';
const work = tempDir('dbt-cutover-');
const warehouse = dbtWarehouse(work);
const databases: Record<string, string> = {};
const t = timeSkippingWorker({ dataDir: path.join(work, 'data'), databases });
const v2 = projectVariant(JAFFLE_SHOP, path.join(work, 'v2'), CHANGED_CLV);
/** jaffle shop that stamps `customers` with each build's moment (noise of its own), and a refactor of it. */
const noisy = projectVariant(JAFFLE_SHOP, path.join(work, 'noisy'), NOISY);
const noisyRefactor = projectVariant(noisy, path.join(work, 'noisy-refactor'), REFACTOR);

beforeAll(async () => {
  databases.warehouse = warehouse.server.url;
  process.env[WAREHOUSE] = warehouse.server.url;
}, 120_000);

afterAll(() => {
  delete process.env[WAREHOUSE];
});

/** Each version's manifest, parsed by dbt as `cutover plan init --dbt` parses them. */
const manifests = {} as Record<'v1' | 'v2' | 'noisy' | 'noisyRefactor', Manifest>;

beforeAll(async () => {
  for (const [side, project] of [
    ['v1', JAFFLE_SHOP],
    ['v2', v2],
    ['noisy', noisy],
    ['noisyRefactor', noisyRefactor],
  ] as const) {
    manifests[side] = (
      await runDbt(['parse'], {
        python: dbtPythonPath(),
        project,
        runDir: path.join(work, `parse-${side}`),
        target: postgresTarget('postgres://parse@127.0.0.1:1/parse', 'parse'),
      })
    ).manifest;
  }
  // The plan's actions run `cutover` from the PATH, as on a worker that has the package installed.
  process.env.PATH = `${cutoverOnPath(path.join(work, 'bin'))}:${process.env.PATH ?? ''}`;
});

/**
 * The plan `cutover plan init --dbt` writes for jaffle shop (dbt/init-plan.ts), with the harness's approvers and
 * a short monitoring window; `tolerances` for customers where a test gives them.
 */
function jafflePlan(
  schema: string,
  tolerances: Record<string, { absolute: number }> = {},
  versions: Record<'v1' | 'v2', keyof typeof manifests> = { v1: 'v1', v2: 'v2' },
): CutoverPlan {
  const folders = { v1: JAFFLE_SHOP, v2, noisy, noisyRefactor };
  const written = parse(
    dbtPlan({
      release: 'jaffle',
      project: folders[versions.v1],
      v1: { project: folders[versions.v1] },
      v2: { project: folders[versions.v2] },
      schema,
      v1Manifest: manifests[versions.v1],
      v2Manifest: manifests[versions.v2],
    }).text,
  ) as CutoverPlanInput & { dbt: { tolerances?: Record<string, unknown> } };
  written.dbt.tolerances = { customers: { tolerances } };
  const base = makePlanInput();
  return planSchema.parse({
    ...written,
    release: uniqueId('jaffle'),
    initiator: 'rm',
    signoff: base.signoff,
    production: { ...written.production, monitor: { ...written.production.monitor, window: '10m', interval: '1m' } },
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
    /model customers: \d+ differing row\(s\), limit 0 \(by column: customer_lifetime_value \d+\); e\.g\. customer_id 1, 2, 3 \(columns customer_lifetime_value\)/,
  );
  const status = await waitForStatus(handle, (s) => s.state === 'failed');
  const shadow = phaseResult(status.phases, 'shadow') as ShadowResult;
  const models = shadow.datasets[0]?.models ?? [];
  // Only the model V2 changes is diffed (nothing is downstream of customers in jaffle shop), on its key from the
  // manifest; the column V2 adds is shown (an added column alone fails nothing), and the rows that differ are named
  // by column.
  expect(models).toMatchObject([
    {
      model: 'customers',
      reason: 'modified',
      key: ['customer_id'],
      columns: { added: ['gross_lifetime_value'], removed: [], retyped: [] },
      downstream: { models: [], exposures: [] },
      verdict: 'fail',
    },
  ]);
  const differing = models[0]?.diff?.columns.find((c) => c.column === 'customer_lifetime_value')?.differing;
  expect(differing).toBeGreaterThan(0);
  // What the approvers read: the status names the model, why, its rows and the column.
  expect(renderStatus(status)).toMatch(
    new RegExp(`customers \\(modified, key customer_id\\): \\d+ differing \\(customer_lifetime_value ${differing}\\)`),
  );
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
  // Stress built V1 and V2 interleaved and judged each model's build time, V2 against V1, from the run results.
  const stress = phaseResult((await waitForStatus(handle, () => true)).phases, 'stress');
  expect(stress?.compare?.settings.measures).toEqual(['latency']);
  expect(stress?.sizes[0]?.models?.map((m) => m.model)).toEqual([
    'customers',
    'orders',
    'stg_customers',
    'stg_orders',
    'stg_payments',
  ]);
  expect(stress?.sizes[0]?.models?.every((m) => m.comparison.pairs >= 5 && m.v1Ms >= 0)).toBe(true);
  // Staging's build ran dbt's tests: each a check of its step, by its unique id.
  const staging = phaseResult((await waitForStatus(handle, () => true)).phases, 'staging');
  const checks = staging?.deployed[0]?.checks ?? [];
  expect(checks).toHaveLength(20);
  expect(checks.every((c) => c.ok)).toBe(true);
  await approveAll(handle);
  await waitForStatus(handle, (s) => s.phase === 'monitoring', 300_000);
  const onV2 = await total();
  expect(onV2).not.toBe(v1);
  await handle.signal(requestRollbackSignal, { requestedBy: 'di', reason: 'the finance dashboard moved' });
  const result = await handle.result();
  expect(result).toMatchObject({ state: 'rolled-back' });
  expect(await total()).toBe(v1);
  // The evidence the approvers signed held the model and its differences within the tolerance.
  const shadow = phaseResult((await waitForStatus(handle, () => true)).phases, 'shadow') as ShadowResult;
  expect(shadow.datasets[0]?.models?.map((m) => [m.model, m.verdict])).toEqual([['customers', 'pass']]);
  const value = shadow.datasets[0]?.models?.[0]?.diff?.columns.find((c) => c.column === 'customer_lifetime_value');
  expect(value?.differing).toBe(0);
  expect(value?.withinTolerance).toBeGreaterThan(0);
});

test('V1 built twice tells noise from change: a refactor of a noisy project passes shadow, the noisy model named, and the gate awaits the role the plan names for noise', async () => {
  const plan = jafflePlan('jaffle_noisy', {}, { v1: 'noisy', v2: 'noisyRefactor' });
  const handle = await start({
    ...plan,
    // A data owner signs only when a model is noisy; the builds' time is not what this test is about.
    signoff: {
      ...plan.signoff,
      roles: { ...plan.signoff.roles, 'data-owner': ['flo'] },
      requiredWhen: { 'data-owner': ['noisy'] },
    },
    stress: { ...plan.stress, iterations: 1, compare: undefined },
  });
  const status = await waitForStatus(handle, (s) => s.state === 'awaiting-signoff' || s.state === 'failed', 300_000);
  expect(status.state).toBe('awaiting-signoff');
  const shadow = phaseResult(status.phases, 'shadow') as ShadowResult;
  expect(shadow.verdict).toBe('pass');
  const [customers] = shadow.datasets[0]?.models ?? [];
  // V1's second build (the plan's noise run, into jaffle_noisy_v1_aa) differs from the first in loaded_at, every
  // row: that is the model's noise, and V2's same difference there fails nothing.
  expect(customers).toMatchObject({
    model: 'customers',
    verdict: 'pass',
    clock: ['itself'],
    noise: { columns: [{ column: 'loaded_at', aa: 100, v2: 100 }], rows: { aa: 0, v2: 0 }, mayHide: [] },
  });
  expect(renderStatus(status)).toContain('noisy: loaded_at V1↔V1 100, V1↔V2 100; reads the clock · pass');
  const { rows } = await warehouse.admin.query<{ n: string }>(
    'SELECT count(*)::text AS n FROM jaffle_noisy_v1_aa.customers',
  );
  expect(rows[0]?.n).toBe('100');
  // The five roles approve; the gate still awaits the data owner, because customers is noisy, and says so.
  await approveAll(handle);
  const waiting = await waitForStatus(handle, () => true);
  expect(waiting.state).toBe('awaiting-signoff');
  expect(waiting.gate.roles.find((r) => r.role === 'data-owner')).toMatchObject({
    missing: 1,
    onlyWhen: { conditions: ['noisy'], because: ['a noisy model: customers'] },
  });
  expect(renderStatus(waiting)).toContain('data-owner (needed: a noisy model: customers)');
  await handle.executeUpdate(submitSignOffUpdate, {
    args: [{ role: 'data-owner', approver: 'flo', decision: 'approve' }],
  });
  await waitForStatus(handle, (s) => s.gate.status === 'approved');
  await handle.cancel();
});
