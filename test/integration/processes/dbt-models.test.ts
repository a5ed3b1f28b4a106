/**
 * A dbt project nobody here wrote, built by real dbt on DuckDB and diffed model by model where the models live:
 * dbt Labs' jaffle shop as V1, a refactor of it that must pass, and a real change to `customers` that must fail
 * naming the model and the column; keys read from the manifest, what changed said (columns, lineage), dbt's tests
 * as steps, and bad input (a project that does not parse, a model that does not build) named.
 */
import { writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { modelsOf } from '../../../dbt/manifest';
import { DbtProjectError, runDbt, type DbtRunResult } from '../../../dbt/run';
import { diffModelsInDuckdb, selectModels, type ModelDiffRequest } from '../../../activities/dbt-models';
import { tempDir } from '../../helpers/harness';
import {
  buildDuckdb,
  CHANGED_CLV,
  dbtPython,
  JAFFLE_SHOP,
  projectVariant,
  REFACTOR,
  UNKEYED_CHANGED,
} from '../../helpers/dbt';

jest.setTimeout(300_000);

const work = tempDir('cutover-dbt-');
/** `project` built into `<name>.duckdb` of the work folder. */
const build = (project: string, name: string, vars?: Record<string, unknown>) => buildDuckdb(work, project, name, vars);

let python: string;

let v1: DbtRunResult & { file: string };
let refactor: DbtRunResult & { file: string };
let changed: DbtRunResult & { file: string };

beforeAll(async () => {
  python = dbtPython();
  v1 = await build(JAFFLE_SHOP, 'v1');
  refactor = await build(projectVariant(JAFFLE_SHOP, path.join(work, 'refactor'), REFACTOR), 'v2_refactor');
  changed = await build(projectVariant(JAFFLE_SHOP, path.join(work, 'changed'), CHANGED_CLV), 'v2_changed');
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const engine = () => ({ tempDirectory: path.join(work, `spill-${Math.random().toString(36).slice(2)}`) });
const request = (v2: DbtRunResult & { file: string }, extra: Partial<ModelDiffRequest> = {}) => ({
  v1: v1.manifest,
  v2: v2.manifest,
  v1File: v1.file,
  v2File: v2.file,
  ...extra,
});

test("dbt's build is recorded step by step: every seed, model and test of jaffle shop passed, tests by unique id", () => {
  expect(v1.code).toBe(0);
  const kinds = v1.steps.reduce<Record<string, number>>((n, s) => ({ ...n, [s.kind]: (n[s.kind] ?? 0) + 1 }), {});
  expect(kinds).toEqual({ seed: 3, model: 5, test: 20 });
  expect(v1.steps.every((s) => s.ok)).toBe(true);
  expect(v1.steps.map((s) => s.id)).toContain('test.jaffle_shop.unique_customers_customer_id.c5af1ff4b1');
});

test("each model's key comes from the manifest: a unique + not_null pair of tests", () => {
  const models = [...modelsOf(v1.manifest).values()];
  const keys = Object.fromEntries(models.map((m) => [m.name, m.key?.join(',') ?? '(none)']));
  expect(keys).toEqual({
    customers: 'customer_id',
    orders: 'order_id',
    stg_customers: 'customer_id',
    stg_orders: 'order_id',
    stg_payments: 'payment_id',
  });
  expect(models.every((m) => m.keySource === 'unique+not_null')).toBe(true);
});

test('a refactor with the same results passes shadow: only the changed model is diffed, keyed, every row equal', async () => {
  const shadow = await diffModelsInDuckdb(request(refactor), engine());
  expect(shadow.models.map((m) => `${m.model}:${m.reason}`)).toEqual(['customers:modified']);
  const [customers] = shadow.models;
  expect(customers?.verdict).toBe('pass');
  expect(customers?.diff?.format).toBe('duckdb');
  expect(customers?.diff?.rows).toMatchObject({ v1: 100, v2: 100, both: 100, differing: 0 });
  expect(customers?.columns).toEqual({ added: [], removed: [], retyped: [] });
  expect(shadow.verdict).toBe('pass');
});

test('a real change fails shadow naming customers and customer_lifetime_value, and says what else changed', async () => {
  const shadow = await diffModelsInDuckdb(request(changed), engine());
  expect(shadow.verdict).toBe('fail');
  const customers = shadow.models.find((m) => m.model === 'customers');
  expect(customers?.verdict).toBe('fail');
  expect(customers?.failures.join('\n')).toMatch(/customer_lifetime_value/);
  const clv = customers?.diff?.columns.find((c) => c.column === 'customer_lifetime_value');
  expect(clv?.differing).toBeGreaterThan(0);
  // Every other column of every row is as V1 had it.
  for (const column of customers?.diff?.columns ?? [])
    if (column.column !== 'customer_lifetime_value')
      expect([column.column, column.differing]).toEqual([column.column, 0]);
  expect(customers?.columns.added).toEqual(['gross_lifetime_value']);
  expect(customers?.diff?.samples[0]?.differs).toEqual(['customer_lifetime_value']);
});

test('--all diffs every model, the staging views too, and all but customers are equal', async () => {
  const shadow = await diffModelsInDuckdb(request(changed, { select: 'all' }), engine());
  expect(shadow.models.map((m) => m.model)).toEqual([
    'customers',
    'orders',
    'stg_customers',
    'stg_orders',
    'stg_payments',
  ]);
  expect(shadow.models.filter((m) => m.verdict === 'fail').map((m) => m.model)).toEqual(['customers']);
  const orders = shadow.models.find((m) => m.model === 'orders');
  expect(orders?.diff?.rows).toMatchObject({ v1: 99, v2: 99, differing: 0 });
});

test("a tolerance for the model's column lets the change through, as the plan may say per model", async () => {
  const shadow = await diffModelsInDuckdb(
    request(changed, { tolerances: { customers: { tolerances: { customer_lifetime_value: { relative: 0.11 } } } } }),
    engine(),
  );
  expect(shadow.models.find((m) => m.model === 'customers')?.failures).toEqual([]);
});

test('a model without a key in V2 is compared unkeyed on DuckDB too, naming the sums that differ', async () => {
  const unkeyedBuild = await build(
    projectVariant(JAFFLE_SHOP, path.join(work, 'unkeyed'), UNKEYED_CHANGED),
    'v2_unkeyed',
  );
  const shadow = await diffModelsInDuckdb(request(unkeyedBuild), engine());
  const customers = shadow.models.find((m) => m.model === 'customers');
  expect(customers?.unkeyed).toBe(true);
  expect(customers?.unkeyedRows).toMatchObject({ v1: 100, v2: 100, sumsDiffer: ['customer_lifetime_value'] });
  expect(customers?.failures[0]).toMatch(
    /^unkeyed: \d+ row\(s\) only in V1, \d+ only in V2 \(sums differ: customer_lifetime_value\)$/,
  );
});

test('the lineage of a staging model names the models downstream of it', async () => {
  const staged = projectVariant(JAFFLE_SHOP, path.join(work, 'staged'), [
    { file: 'models/staging/stg_payments.sql', from: 'amount / 100 as amount', to: 'amount / 100.0 as amount' },
  ]);
  // Parsing builds nothing: the selection and lineage come from the manifests alone.
  const { manifest } = await runDbt(['parse'], {
    python,
    project: staged,
    runDir: path.join(work, 'run-staged'),
    target: { type: 'duckdb', path: path.join(work, 'staged.duckdb') },
  });
  const picked = selectModels({ v1: v1.manifest, v2: manifest });
  expect(picked.map((p) => `${p.model.name}:${p.reason}`)).toEqual([
    'stg_payments:modified',
    'customers:downstream',
    'orders:downstream',
  ]);
  expect(picked[0]?.lineage.models).toEqual(['customers', 'orders']);
});

test('a V2 whose model does not build is a failed step naming the model and what the database said', async () => {
  const broken = projectVariant(JAFFLE_SHOP, path.join(work, 'broken'), [
    { file: 'models/orders.sql', from: 'orders.status,', to: 'orders.no_such_column,' },
  ]);
  const result = await build(broken, 'broken');
  expect(result.code).toBe(1);
  const failed = result.steps.find((s) => !s.ok && s.kind === 'model');
  expect(failed?.id).toBe('model.jaffle_shop.orders');
  expect(failed?.message).toMatch(/no_such_column/);
});

test('a project that does not parse is refused with the file dbt names', async () => {
  const bad = projectVariant(JAFFLE_SHOP, path.join(work, 'bad-yaml'), [
    { file: 'models/schema.yml', from: 'version: 2', to: 'version: 2\nmodels: [unclosed' },
  ]);
  const err = await runDbt(['parse'], {
    python,
    project: bad,
    runDir: path.join(work, 'run-bad'),
    target: { type: 'duckdb', path: path.join(work, 'bad.duckdb') },
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DbtProjectError);
  expect((err as Error).message).toMatch(/schema\.yml/);
});

test('a project whose packages are not vendored is refused by name before dbt runs', async () => {
  const withPackages = projectVariant(JAFFLE_SHOP, path.join(work, 'packages'), []);
  writeFileSync(
    path.join(withPackages, 'packages.yml'),
    'packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.1.1\n',
  );
  const err = await runDbt(['build'], {
    python,
    project: withPackages,
    runDir: path.join(work, 'run-packages'),
    target: { type: 'duckdb', path: path.join(work, 'packages.duckdb') },
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(DbtProjectError);
  expect((err as Error).message).toMatch(/dbt-labs\/dbt_utils.*never fetches from the dbt hub/);
});
