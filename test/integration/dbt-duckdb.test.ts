/**
 * A dbt cutover on DuckDB, with the built `cutover dbt` commands as real processes: the warehouse is one `.duckdb`
 * file (CUTOVER_DBT_WAREHOUSE=duckdb:/path), each version built by real dbt-duckdb into a schema of it. V1's and V2's
 * builds started side by side take the file's lock in turn; the shadow's model diff (the plan's `dbt.target:
 * duckdb`) reads both builds where they live and names the change; V2 is published as views in one transaction and
 * V1 published back is the rollback; the live build is never dropped; the probe counts what consumers read and runs
 * the tests on the live build.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type * as DuckDB from '@duckdb/node-api';
import { dbtModels } from '../../activities/dbt-models';
import { loadPlan } from '../../plan/load';
import { planSchema } from '../../plan/schema';
import { runCli, type CliResult } from '../helpers/cli';
import { CHANGED_CLV, dbtPython, JAFFLE_SHOP, projectVariant } from '../helpers/dbt';
import { tempDir } from '../helpers/harness';
import { makePlanInput } from '../helpers/plans';

jest.setTimeout(300_000);

const work = tempDir('cutover-dbt-duckdb-');
const file = path.join(work, 'warehouse.duckdb');
const workdir = path.join(work, 'cutover');
const v2 = projectVariant(JAFFLE_SHOP, path.join(work, 'v2'), CHANGED_CLV);
const env = () => ({ ...process.env, CUTOVER_DBT_WAREHOUSE: `duckdb:${file}` });
const cutover = (args: string[]): Promise<CliResult> => runCli(args, env(), 240_000);

/** A query on the warehouse file as a consumer runs it (read only, while no command holds it). */
async function read(sql: string): Promise<Record<string, unknown>[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DuckDBInstance } = require('@duckdb/node-api') as typeof DuckDB;
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

const total = async (schema: string) =>
  Number((await read(`SELECT sum(customer_lifetime_value) AS n FROM ${schema}.customers`))[0]?.n);

let built: Record<'v1' | 'v2', CliResult>;

beforeAll(async () => {
  dbtPython();
  mkdirSync(workdir, { recursive: true });
  // Side by side, as the shadow starts them: one file, one writer at a time.
  const [a, b] = await Promise.all([
    cutover(['dbt', 'build', '--project', JAFFLE_SHOP, '--schema', 'jaffle_v1', '--artifacts', `${workdir}/v1`]),
    cutover(['dbt', 'build', '--project', v2, '--schema', 'jaffle_v2', '--artifacts', `${workdir}/v2`]),
  ]);
  built = { v1: a, v2: b };
});

test("V1's and V2's builds started together both build, one after the other, into schemas of one file", async () => {
  for (const side of ['v1', 'v2'] as const) {
    expect([side, built[side].code, built[side].stderr]).toEqual([side, 0, '']);
    expect(JSON.parse(built[side].stdout)).toMatchObject({ metrics: { models: 5, tests: 20, rows_customers: 100 } });
  }
  expect(await total('jaffle_v2')).not.toBe(await total('jaffle_v1'));
});

test("the plan's model diff reads both builds in the file and names the model and the column V2 changes", async () => {
  const plan = planSchema.parse({
    ...makePlanInput(),
    dbt: {
      project: JAFFLE_SHOP,
      v1: { project: '.' },
      v2: { project: '.' },
      target: 'duckdb',
      database: 'jaffle',
      schema: 'jaffle',
    },
  });
  const manifest = (side: 'v1' | 'v2') => (JSON.parse(built[side].stdout) as { manifest: string }).manifest;
  const shadow = await dbtModels(
    plan,
    { v1: { manifest: manifest('v1') }, v2: { manifest: manifest('v2') } },
    { workdir, databases: { jaffle: `duckdb:${file}` } },
  );
  expect(shadow.models.map((m) => [m.model, m.verdict])).toEqual([['customers', 'fail']]);
  expect(shadow.failures[0]).toMatch(/^model customers: \d+ differing row\(s\).*\(columns customer_lifetime_value\)$/);
  expect(shadow.models[0]?.diff?.format).toBe('duckdb');
});

test('V2 is published as views in one transaction; publishing V1 again is the rollback; the live build stays', async () => {
  const publish = async (build: string) => {
    const done = await cutover(['dbt', 'publish', '--published', 'jaffle', '--build', build]);
    expect([done.code, done.stderr]).toEqual([0, '']);
    return JSON.parse(done.stdout) as { live: string; relations: number; ms: number };
  };
  expect(await publish('jaffle_v2')).toMatchObject({ live: 'jaffle_v2', relations: 8 });
  expect(await total('jaffle')).toBe(await total('jaffle_v2'));
  const back = await publish('jaffle_v1');
  expect(back.ms).toBeLessThan(60_000);
  expect(await total('jaffle')).toBe(await total('jaffle_v1'));
  // The view kept V2's added column; V1 has none, so consumers read NULL there.
  expect(await read('SELECT count(gross_lifetime_value) AS n FROM jaffle.customers')).toEqual([{ n: '0' }]);
  const refused = await cutover(['dbt', 'drop', '--published', 'jaffle', '--build', 'jaffle_v1']);
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/jaffle_v1 is live: jaffle\.customers, .* read it/);
  const dropped = await cutover(['dbt', 'drop', '--published', 'jaffle', '--build', 'jaffle_v2']);
  expect(dropped.code).toBe(0);
  expect(await read("SELECT count(*) AS n FROM duckdb_schemas() WHERE schema_name = 'jaffle_v2'")).toEqual([
    { n: '0' },
  ]);
});

test('the probe counts what consumers read and runs the tests on the live build', async () => {
  const probe = await cutover(['dbt', 'probe', '--published', 'jaffle', '--project', JAFFLE_SHOP]);
  expect([probe.code, probe.stderr]).toEqual([0, '']);
  expect(JSON.parse(probe.stdout)).toMatchObject({
    metrics: { rows_customers: 100, rows_orders: 99, tests: 20, tests_failed: 0 },
    errorRate: 0,
  });
});

test('a warehouse variable that is neither PostgreSQL nor an absolute DuckDB file is refused by name', async () => {
  const bad = await runCli(
    ['dbt', 'publish', '--published', 'jaffle', '--build', 'jaffle_v1'],
    { ...process.env, CUTOVER_DBT_WAREHOUSE: 'duckdb:warehouse.duckdb' },
    60_000,
  );
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toMatch(/CUTOVER_DBT_WAREHOUSE: a DuckDB warehouse is duckdb:\/absolute\/path\/to\/file\.duckdb/);
});

test('plan init --target duckdb writes a plan whose dbt section says so, every step the same cutover dbt command', async () => {
  const out = path.join(work, 'plan.yaml');
  const init = await cutover([
    'plan',
    'init',
    '--dbt',
    JAFFLE_SHOP,
    '--v1',
    JAFFLE_SHOP,
    '--v2',
    v2,
    '--target',
    'duckdb',
    '--out',
    out,
  ]);
  expect([init.code, init.stderr]).toEqual([0, '']);
  const plan = await loadPlan(out);
  expect(plan.dbt).toMatchObject({ target: 'duckdb', database: 'warehouse', schema: 'jaffle_shop' });
  expect(plan.production.deploy).toMatchObject({
    run: ['cutover', 'dbt', 'publish', '--published', 'jaffle_shop', '--build', 'jaffle_shop_v2'],
  });
});
