/**
 * dbt Labs' jaffle shop on a real PostgreSQL (a server of this file's own), built by real dbt-postgres into a schema
 * per version: every model diffed pushed down between the two schemas, and write-audit-publish: consumers read a
 * published schema of views, V2 goes live and rolls back in one transaction each, a consumer's own view and its
 * grants follow, a publish that fails changes nothing, and V1's schema cannot be dropped while it is live.
 */
import path from 'node:path';
import { Client } from 'pg';
import { diffModelsInPostgres } from '../../../activities/dbt-models';
import { modelsOf } from '../../../dbt/manifest';
import { dropBuild, liveBuilds, publish, PublishError } from '../../../dbt/publish';
import { runDbt, type DbtRunResult } from '../../../dbt/run';
import {
  CHANGED_CLV,
  dbtPython,
  dbtWarehouse,
  JAFFLE_SHOP,
  projectVariant,
  REFACTOR,
  RETYPED_CLV,
  UNKEYED_CHANGED,
} from '../../helpers/dbt';
import { tempDir } from '../../helpers/harness';

jest.setTimeout(300_000);

const work = tempDir('cutover-dbt-pg-');
const warehouse = dbtWarehouse(work);
let python: string;
let v1: DbtRunResult;
let refactor: DbtRunResult;
let changed: DbtRunResult;
let retyped: DbtRunResult;
let unkeyedBuild: DbtRunResult;

/** A connection of the diff's own, as the workers open one per model at a time. */
async function connect(): Promise<Client> {
  const client = new Client({ connectionString: warehouse.server.url });
  await client.connect();
  return client;
}

/** Builds `project` into `schema` of the server's database with dbt build. */
async function build(project: string, schema: string): Promise<DbtRunResult> {
  const url = new URL(warehouse.server.url);
  return runDbt(['build'], {
    python,
    project,
    runDir: path.join(work, `run-${schema}`),
    target: {
      type: 'postgres',
      host: url.hostname,
      port: Number(url.port),
      user: warehouse.server.user,
      password: warehouse.server.password,
      dbname: 'postgres',
      schema,
    },
  });
}

/** A client logged in as `user`. */
async function as(user: string, password: string): Promise<Client> {
  const url = new URL(warehouse.server.url);
  const client = new Client({ host: url.hostname, port: Number(url.port), user, password, database: 'postgres' });
  await client.connect();
  return client;
}

beforeAll(async () => {
  python = dbtPython();
  v1 = await build(JAFFLE_SHOP, 'jaffle_v1');
  refactor = await build(projectVariant(JAFFLE_SHOP, path.join(work, 'refactor'), REFACTOR), 'jaffle_refactor');
  changed = await build(projectVariant(JAFFLE_SHOP, path.join(work, 'changed'), CHANGED_CLV), 'jaffle_v2');
  retyped = await build(projectVariant(JAFFLE_SHOP, path.join(work, 'retyped'), RETYPED_CLV), 'jaffle_retyped');
  unkeyedBuild = await build(
    projectVariant(JAFFLE_SHOP, path.join(work, 'unkeyed'), UNKEYED_CHANGED),
    'jaffle_unkeyed',
  );
  // A consumer: reads the published schema only, and keeps a view of its own over it.
  await warehouse.admin.query(`CREATE ROLE analyst LOGIN PASSWORD 'analyst-pass'`);
  await warehouse.admin.query(`CREATE SCHEMA reporting AUTHORIZATION analyst`);
});

test('dbt-postgres builds each version into its own schema, every node passing', () => {
  for (const build of [v1, refactor, changed, retyped, unkeyedBuild]) {
    expect(build.code).toBe(0);
    expect(build.steps.filter((s) => !s.ok)).toEqual([]);
  }
  expect([...modelsOf(changed.manifest).values()].map((m) => m.schema)).toEqual(Array(5).fill('jaffle_v2'));
});

test('pushed down between the two schemas: the refactor passes, the change fails naming customers and its column', async () => {
  const same = await diffModelsInPostgres(connect, { v1: v1.manifest, v2: refactor.manifest });
  expect(same.models.map((m) => [m.model, m.verdict])).toEqual([['customers', 'pass']]);
  expect(same.models[0]?.diff?.format).toBe('postgres');
  expect(same.models[0]?.diff?.rows).toMatchObject({ v1: 100, v2: 100, both: 100, differing: 0 });

  const differs = await diffModelsInPostgres(connect, { v1: v1.manifest, v2: changed.manifest });
  const customers = differs.models.find((m) => m.model === 'customers');
  expect(differs.verdict).toBe('fail');
  expect(customers?.failures.join('\n')).toMatch(/customer_lifetime_value/);
  expect(customers?.diff?.columns.find((c) => c.column === 'customer_lifetime_value')?.differing).toBeGreaterThan(0);
  expect(customers?.columns.added).toEqual(['gross_lifetime_value']);
});

test('every model diffed over three connections at once reports as over one, in the same order', async () => {
  const one = await diffModelsInPostgres(connect, {
    v1: v1.manifest,
    v2: changed.manifest,
    select: 'all',
    connections: 1,
  });
  const three = await diffModelsInPostgres(connect, {
    v1: v1.manifest,
    v2: changed.manifest,
    select: 'all',
    connections: 3,
  });
  const summary = (shadow: typeof one) => shadow.models.map((m) => [m.model, m.verdict, m.diff?.rows.differing]);
  expect(summary(three)).toEqual(summary(one));
  expect(summary(one).map(([model]) => model)).toEqual([
    'customers',
    'orders',
    'stg_customers',
    'stg_orders',
    'stg_payments',
  ]);
});

test('a model without a key is compared unkeyed, as a multiset of rows and by its sums, and says so', async () => {
  const shadow = await diffModelsInPostgres(connect, { v1: v1.manifest, v2: unkeyedBuild.manifest });
  const customers = shadow.models.find((m) => m.model === 'customers');
  expect(customers?.unkeyed).toBe(true);
  expect(customers?.diff).toBeUndefined();
  expect(customers?.unkeyedRows).toMatchObject({ v1: 100, v2: 100, sumsDiffer: ['customer_lifetime_value'] });
  expect(customers?.failures).toEqual([
    `unkeyed: ${customers?.unkeyedRows?.onlyV1} row(s) only in V1, ${customers?.unkeyedRows?.onlyV2} only in V2 (sums differ: customer_lifetime_value)`,
  ]);
  expect(customers?.unkeyedRows?.onlyV1).toBeGreaterThan(0);
});

test("a V2 that retypes a column fails shadow saying so, and PostgreSQL refuses to publish it over V1's view", async () => {
  const shadow = await diffModelsInPostgres(connect, { v1: v1.manifest, v2: retyped.manifest });
  const customers = shadow.models.find((m) => m.model === 'customers');
  expect(customers?.columns.retyped).toEqual([{ column: 'customer_lifetime_value', v1: 'BIGINT', v2: 'DECIMAL' }]);
  expect(customers?.failures).toContain('column customer_lifetime_value retyped BIGINT → DECIMAL');
  await publish(warehouse.admin, { published: 'jaffle_typed', build: 'jaffle_v1', relations: ['customers'] });
  const refused = await publish(warehouse.admin, {
    published: 'jaffle_typed',
    build: 'jaffle_retyped',
    relations: ['customers'],
  }).catch((e: unknown) => e);
  expect((refused as Error).message).toMatch(/cannot change data type of view column "customer_lifetime_value"/);
  expect(await liveBuilds(warehouse.admin, 'jaffle_typed')).toEqual({ customers: 'jaffle_v1' });
});

test('V2 goes live in one transaction and rolls back in one: consumers, their views and grants follow', async () => {
  const relations = [...modelsOf(v1.manifest).values()].map((m) => m.relation).sort();
  await publish(warehouse.admin, { published: 'jaffle', build: 'jaffle_v1', relations });
  await warehouse.admin.query('GRANT USAGE ON SCHEMA jaffle TO analyst');
  await warehouse.admin.query('GRANT SELECT ON ALL TABLES IN SCHEMA jaffle TO analyst');
  const analyst = await as('analyst', 'analyst-pass');
  try {
    await analyst.query(
      'CREATE VIEW reporting.top_customers AS SELECT customer_id, customer_lifetime_value FROM jaffle.customers',
    );
    const read = async () => {
      const direct = await analyst.query<{ total: string }>(
        'SELECT sum(customer_lifetime_value)::text AS total FROM jaffle.customers',
      );
      const own = await analyst.query<{ total: string }>(
        'SELECT sum(customer_lifetime_value)::text AS total FROM reporting.top_customers',
      );
      return [direct.rows[0]?.total, own.rows[0]?.total];
    };
    const onV1 = await read();
    // The consumer may not read the builds themselves: only the published views.
    await expect(analyst.query('SELECT 1 FROM jaffle_v2.customers LIMIT 1')).rejects.toThrow(/permission denied/);

    const live = await publish(warehouse.admin, { published: 'jaffle', build: 'jaffle_v2', relations });
    expect(live.live).toBe('jaffle_v2');
    expect(Object.values(await liveBuilds(warehouse.admin, 'jaffle'))).toEqual(
      Array(relations.length).fill('jaffle_v2'),
    );
    const onV2 = await read();
    expect(onV2[0]).not.toBe(onV1[0]);
    expect(onV2).toEqual([onV2[0], onV2[0]]);

    // Back to V1, which lacks the column V2 added: the view keeps it, as NULL, and nothing the consumer built breaks.
    await publish(warehouse.admin, { published: 'jaffle', build: 'jaffle_v1', relations });
    expect(await read()).toEqual(onV1);
    const added = await analyst.query('SELECT count(gross_lifetime_value)::int AS n FROM jaffle.customers');
    expect(added.rows).toEqual([{ n: 0 }]);
  } finally {
    await analyst.end();
  }
});

test('a publish that fails part-way publishes nothing, and says which relation and why', async () => {
  const relations = ['customers', 'orders', 'no_such_model'];
  await publish(warehouse.admin, { published: 'jaffle', build: 'jaffle_v1', relations: ['customers', 'orders'] });
  const err = await publish(warehouse.admin, { published: 'jaffle', build: 'jaffle_v2', relations }).catch(
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PublishError);
  expect((err as Error).message).toMatch(/jaffle_v2\.no_such_model.*does not exist.*nothing was published/);
  const live = await liveBuilds(warehouse.admin, 'jaffle');
  expect([live.customers, live.orders]).toEqual(['jaffle_v1', 'jaffle_v1']);
});

test("V1's schema is dropped only once nothing published reads it", async () => {
  const relations = [...modelsOf(v1.manifest).values()].map((m) => m.relation);
  await publish(warehouse.admin, { published: 'jaffle', build: 'jaffle_v1', relations });
  const refused = await dropBuild(warehouse.admin, { published: 'jaffle', build: 'jaffle_v1' }).catch(
    (e: unknown) => e,
  );
  expect(refused).toBeInstanceOf(PublishError);
  expect((refused as Error).message).toMatch(/jaffle_v1 is live: jaffle\.customers/);
  await publish(warehouse.admin, { published: 'jaffle', build: 'jaffle_refactor', relations });
  await dropBuild(warehouse.admin, { published: 'jaffle', build: 'jaffle_v1' });
  const { rows } = await warehouse.admin.query("SELECT 1 FROM pg_namespace WHERE nspname = 'jaffle_v1'");
  expect(rows).toEqual([]);
  const count = await warehouse.admin.query<{ n: string }>('SELECT count(*)::text AS n FROM jaffle.customers');
  expect(count.rows[0]?.n).toBe('100');
});
