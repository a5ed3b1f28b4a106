/**
 * The built `cutover dbt` commands, the actions a dbt cutover's plan runs, as real processes: jaffle shop in a git
 * repository with a tag per version, each tag built by real dbt-postgres into a schema of its own (its metrics
 * printed as a pipeline's), V2 published over V1 and V1 again as the undo, the build that fails named, and V1's
 * schema dropped only once nothing published reads it.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { CHANGED_CLV, dbtWarehouse, JAFFLE_SHOP, projectVariant, type Edit } from '../helpers/dbt';
import { runCli, type CliResult } from '../helpers/cli';
import { tempDir } from '../helpers/harness';

jest.setTimeout(300_000);

const run = promisify(execFile);
const work = tempDir('cutover-dbt-cli-');
const warehouse = dbtWarehouse(work);
let env: NodeJS.ProcessEnv;
const repo = path.join(work, 'repo');

function cutover(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(args, { ...env, ...extra }, 240_000);
}

const git = (...args: string[]) => run('git', ['-C', repo, ...args]);

/** A source over the build's own seed of raw orders, stale after a day; raw payments declared with no freshness. */
const SOURCES = `version: 2
sources:
  - name: shop
    schema: "{{ target.schema }}"
    loaded_at_field: "order_date::timestamp"
    freshness:
      error_after: { count: 1, period: day }
    tables:
      - name: raw_orders
      - name: raw_payments
        freshness: null
`;

/** Applies `edits` to the repository's working tree and commits them as tag `tag`. */
async function commitVersion(tag: string, edits: Edit[]): Promise<void> {
  const variant = projectVariant(JAFFLE_SHOP, path.join(work, `variant-${tag}`), edits);
  await run('cp', ['-r', `${variant}/.`, repo]);
  await git('add', '-A');
  await git('commit', '-q', '-m', tag, '--allow-empty');
  await git('tag', tag);
}

beforeAll(async () => {
  env = { ...process.env, CUTOVER_DBT_WAREHOUSE: warehouse.server.url };
  await run('mkdir', ['-p', repo]);
  await git('init', '-q');
  await git('config', 'user.email', 'release@example.org');
  await git('config', 'user.name', 'release manager');
  await commitVersion('v1', []);
  await commitVersion('v2', CHANGED_CLV);
  await commitVersion('broken', [{ file: 'models/orders.sql', from: 'orders.status,', to: 'orders.no_such_column,' }]);
  // V2 with its raw orders declared a source that must have loaded within a day (jaffle shop's are from 2018).
  await commitVersion('sourced', CHANGED_CLV);
  writeFileSync(path.join(repo, 'models', 'sources.yml'), SOURCES);
  await git('add', '-A');
  await git('commit', '-q', '-m', 'sourced');
  await git('tag', '-f', 'sourced');
  // The working tree moves on after the tags: a ref's build must not see it.
  writeFileSync(path.join(repo, 'models', 'customers.sql'), 'select 1 as customer_id -- uncommitted\n');
});

test("each tag is built into its own schema, and prints a pipeline's metrics: models, tests, each model's rows", async () => {
  const v1 = await cutover(['dbt', 'build', '--project', repo, '--ref', 'v1', '--schema', 'jaffle_v1']);
  expect(v1.stderr).toBe('');
  expect(v1.code).toBe(0);
  const printed = JSON.parse(v1.stdout) as {
    metrics: Record<string, number>;
    rows: number;
    checks: { id: string; ok: boolean; status: string }[];
    timings: Record<string, number>;
  };
  // Each model's build time from dbt's run results: what stress judges model by model.
  expect(Object.keys(printed.timings).sort()).toEqual([
    'customers',
    'orders',
    'stg_customers',
    'stg_orders',
    'stg_payments',
  ]);
  expect(Object.values(printed.timings).every((s) => s >= 0 && s < 60)).toBe(true);
  expect(printed.metrics).toMatchObject({ models: 5, tests: 20, rows_customers: 100, rows_orders: 99 });
  // Each of dbt's 20 tests a check of the step, by its unique id (a staging deploy's evidence).
  expect(printed.checks).toHaveLength(20);
  expect(printed.checks.every((c) => c.ok && c.status === 'pass' && c.id.startsWith('test.jaffle_shop.'))).toBe(true);
  expect(printed.checks.map((c) => c.id)).toContain('test.jaffle_shop.unique_customers_customer_id.c5af1ff4b1');
  const v2 = await cutover(['dbt', 'build', '--project', repo, '--ref', 'v2', '--schema', 'jaffle_v2']);
  expect(v2.code).toBe(0);
  const { rows } = await warehouse.admin.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM information_schema.columns WHERE table_schema = 'jaffle_v2' AND column_name = 'gross_lifetime_value'`,
  );
  expect(rows[0]?.n).toBe('1');
});

test('a build that fails exits 1 naming the model and what the database said; a missing warehouse is named', async () => {
  const broken = await cutover(['dbt', 'build', '--project', repo, '--ref', 'broken', '--schema', 'jaffle_broken']);
  expect(broken.code).toBe(1);
  expect(broken.stderr).toMatch(
    /^cutover: dbt build of broken into jaffle_broken: model\.jaffle_shop\.orders error: .*no_such_column/,
  );
  const unknown = await cutover(['dbt', 'build', '--project', repo, '--ref', 'v9', '--schema', 'x']);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toMatch(/no git ref "v9"/);
  const nowhere = await cutover(['dbt', 'build', '--project', repo, '--schema', 'x'], { CUTOVER_DBT_WAREHOUSE: '' });
  expect(nowhere.code).toBe(1);
  expect(nowhere.stderr).toMatch(/CUTOVER_DBT_WAREHOUSE is not set/);
});

test('publish is the deploy and the undo; drop refuses the live build, then drops V1 at decommission', async () => {
  const read = async () =>
    (await warehouse.admin.query<{ n: string }>('SELECT sum(customer_lifetime_value)::text AS n FROM jaffle.customers'))
      .rows[0]?.n;
  const publish = (build: string) => cutover(['dbt', 'publish', '--published', 'jaffle', '--build', build]);
  const first = await publish('jaffle_v1');
  expect(first.code).toBe(0);
  // jaffle shop's 3 seeds and 5 models.
  expect(JSON.parse(first.stdout)).toMatchObject({ published: 'jaffle', live: 'jaffle_v1', relations: 8 });
  const onV1 = await read();
  expect((await publish('jaffle_v2')).code).toBe(0);
  const onV2 = await read();
  expect(onV2).not.toBe(onV1);
  // The undo: consumers read V1's rows again.
  expect((await publish('jaffle_v1')).code).toBe(0);
  expect(await read()).toBe(onV1);
  expect((await publish('jaffle_v2')).code).toBe(0);
  const refused = await cutover(['dbt', 'drop', '--published', 'jaffle', '--build', 'jaffle_v2']);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/jaffle_v2 is live: jaffle\.customers/);
  const dropped = await cutover(['dbt', 'drop', '--published', 'jaffle', '--build', 'jaffle_v1']);
  expect(JSON.parse(dropped.stdout)).toEqual({ dropped: ['jaffle_v1'] });
  expect(await read()).toBe(onV2);
  const gone = await publish('jaffle_v1');
  expect(gone.code).toBe(1);
  expect(gone.stderr).toMatch(/jaffle_v1: no such schema, or nothing built in it/);
});

test('a live build is never rebuilt in place: it goes beside, the published views survive, the manifest says where', async () => {
  const read = async () =>
    (await warehouse.admin.query<{ n: string }>('SELECT count(*)::text AS n FROM jaffle.customers')).rows[0]?.n;
  const before = await read();
  const artifacts = path.join(work, 'artifacts-v2');
  const rebuilt = await cutover([
    'dbt',
    'build',
    '--project',
    repo,
    '--ref',
    'v2',
    '--schema',
    'jaffle_v2',
    '--artifacts',
    artifacts,
  ]);
  expect(rebuilt.code).toBe(0);
  // jaffle_v2 is live (the last test left it published): dbt's CASCADE would have dropped the published views.
  expect(rebuilt.stderr).toMatch(/^jaffle_v2 is live \(jaffle\.customers, .*\): building into jaffle_v2_rebuild$/m);
  expect(await read()).toBe(before);
  const printed = JSON.parse(rebuilt.stdout) as { manifest: string };
  expect(printed.manifest).toBe(path.join(artifacts, 'manifest.json'));
  const manifest = JSON.parse(readFileSync(printed.manifest, 'utf8')) as { nodes: Record<string, { schema: string }> };
  expect(manifest.nodes['model.jaffle_shop.customers']?.schema).toBe('jaffle_v2_rebuild');
  expect(readFileSync(path.join(artifacts, 'run_results.json'), 'utf8')).toMatch(/"unique_id"/);
});

test('plan init --dbt writes a plan that validates: its dbt section the project and its versions, every step a cutover dbt command', async () => {
  const out = path.join(work, 'jaffle.yaml');
  const init = await cutover(['plan', 'init', '--dbt', repo, '--v1', 'v1', '--v2', 'v2', '--out', out]);
  expect(init.stderr).toBe('');
  expect(init.stdout).toMatch(/a dbt cutover plan for jaffle_shop-v2; models diffed: customers\n$/);
  const validated = await cutover(['plan', 'validate', out]);
  expect(validated.code).toBe(0);
  const plan = parse(readFileSync(out, 'utf8')) as {
    baseline: { run: string[] };
    dbt: unknown;
    shadow: { outputs?: Record<string, unknown> };
    production: { deploy: { run: string[] }; undo: { run: string[] } };
  };
  // The shadow diffs the models from the builds' manifests: no output is declared by hand.
  expect(plan.dbt).toEqual({
    project: 'repo',
    v1: { ref: 'v1' },
    v2: { ref: 'v2' },
    database: 'warehouse',
    schema: 'jaffle_shop',
    select: 'modified',
  });
  expect(plan.shadow.outputs).toBeUndefined();
  expect(plan.baseline.run).toEqual([
    'cutover',
    'dbt',
    'build',
    '--project',
    'repo',
    '--ref',
    'v1',
    '--schema',
    'jaffle_shop_v1',
    '--dataset',
    '{dataset}',
    '--artifacts',
    '{workdir}/dbt/v1',
  ]);
  expect(plan.production.deploy.run.slice(2)).toEqual([
    'publish',
    '--published',
    'jaffle_shop',
    '--build',
    'jaffle_shop_v2',
  ]);
  expect(plan.production.undo.run.slice(2)).toEqual([
    'publish',
    '--published',
    'jaffle_shop',
    '--build',
    'jaffle_shop_v1',
  ]);
  const missing = await cutover(['plan', 'init', '--dbt', repo, '--v1', 'v1', '--out', path.join(work, 'x.yaml')]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/--dbt needs --v2/);
});

test('the generator writes the scale a build passes to dbt, and the probe counts what consumers read', async () => {
  const dataset = path.join(work, 'dataset.json');
  expect((await cutover(['dbt', 'dataset', '--rows', '1000', '--seed', '7', '--out', dataset])).code).toBe(0);
  // And the moment every build on it takes for now (cutover_now, CUTOVER_NOW): one for V1, V2 and V1 again.
  expect(JSON.parse(readFileSync(dataset, 'utf8'))).toEqual({
    rows: 1000,
    seed: 7,
    now: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
  });
  const probe = await cutover(['dbt', 'probe', '--published', 'jaffle']);
  expect(probe.code).toBe(0);
  expect(JSON.parse(probe.stdout)).toMatchObject({ metrics: { rows_customers: 100, rows_orders: 99 }, errorRate: 0 });
});

test("the probe runs V2's dbt tests on the live build: a key made a duplicate fails its test, named, in the error rate", async () => {
  const probe = () => cutover(['dbt', 'probe', '--published', 'jaffle', '--project', repo, '--ref', 'v2']);
  const clean = await probe();
  expect(clean.code).toBe(0);
  expect(JSON.parse(clean.stdout)).toMatchObject({ metrics: { tests: 20, tests_failed: 0 }, errorRate: 0 });
  // The live build is jaffle_v2 (the published views read it): a customer twice breaks unique_customers_customer_id.
  await warehouse.admin.query(
    'INSERT INTO jaffle_v2.customers SELECT * FROM jaffle_v2.customers WHERE customer_id = 1',
  );
  try {
    const broken = await probe();
    expect(broken.code).toBe(0);
    const printed = JSON.parse(broken.stdout) as {
      metrics: Record<string, number>;
      errorRate: number;
      failed: string[];
    };
    expect(printed.metrics).toMatchObject({ tests: 20, tests_failed: 1, rows_customers: 101 });
    expect(printed.errorRate).toBeCloseTo(1 / 20);
    expect(printed.failed).toEqual([expect.stringMatching(/^test\.jaffle_shop\.unique_customers_customer_id\./)]);
    expect(broken.stderr).toMatch(/^dbt tests failed on jaffle_v2: test\.jaffle_shop\.unique_customers_customer_id\./);
  } finally {
    await warehouse.admin.query(
      'DELETE FROM jaffle_v2.customers a USING jaffle_v2.customers b WHERE a.ctid > b.ctid AND a.customer_id = b.customer_id',
    );
  }
});

test("the probe checks the sources' freshness where the project gives one: a stale source is named, in the error rate", async () => {
  const probe = await cutover(['dbt', 'probe', '--published', 'jaffle', '--project', repo, '--ref', 'sourced']);
  expect(probe.code).toBe(0);
  const printed = JSON.parse(probe.stdout) as { metrics: Record<string, number>; errorRate: number; stale: string[] };
  expect(printed.metrics).toMatchObject({ tests: 20, tests_failed: 0, sources: 1, sources_stale: 1 });
  expect(printed.errorRate).toBeCloseTo(1 / 21);
  expect(printed.stale).toEqual(['source.jaffle_shop.shop.raw_orders']);
  expect(probe.stderr).toMatch(/sources past their freshness: source\.jaffle_shop\.shop\.raw_orders \(error\)/);
});
