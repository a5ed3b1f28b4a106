/**
 * The keyed diff pushed down into a real PostgreSQL server (toolchain/postgres.ts starts a private one on loopback;
 * activities/db-diff.ts): V1's and V2's tables in one database, compared there with the file diff's rules. The
 * counts, the tolerances and the samples match the file diff's on the same rows exported to CSV; duplicate and
 * NULL keys are counted, sampled and fail; a type mismatch is named; a missing table or key column is bad input
 * named by side and table; and the diff writes nothing (the tables' insert/update/delete counters stay as they
 * were) and runs in a read-only transaction.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { crossDiff } from '../../../activities/cross-diff';
import type { CrossDiffRequest } from '../../../activities/cross-sides';
import { diffInPostgres, type DbDiffRequest } from '../../../activities/db-diff';
import { DiffInputError, withDiffEngine } from '../../../activities/diff-engine';
import { diffOutput } from '../../../activities/diff';
import type { OutputSpec } from '../../../plan/schema';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../../activities';
import { freePort } from '../../../common/net';
import type { ReconcileResult, ShadowResult } from '../../../shapes/phases';
import { startPostgres, type PostgresServer } from '../../../toolchain/postgres';
import { tempDir } from '../../helpers/harness';
import { makePlan, nodeRun } from '../../helpers/plans';

const DIR = tempDir('db-diff-');
// The server runs as nobody when the tests run as root: its folder must be one nobody can enter.
chmodSync(DIR, 0o755);
let server: PostgresServer;
let client: Client;

const SPEC: OutputSpec = {
  format: 'csv',
  key: ['loan_id'],
  tolerances: { par30: { relative: 1e-4 }, balance: { absolute: 0.01 } },
  ignore: [],
  maxDifferingRows: 0,
  maxMissingRows: 0,
  minRows: 1,
  sample: 20,
};

const request = (v1: string, v2: string, spec: OutputSpec = SPEC): DbDiffRequest => ({
  output: 'loan_kpis',
  dataset: 'd1',
  spec,
  v1: { schema: 'legacy', table: v1 },
  v2: { schema: 'v2', table: v2 },
});

beforeAll(async () => {
  server = await startPostgres({ dir: path.join(DIR, 'pg') });
  client = new Client({ connectionString: server.url });
  await client.connect();
  await client.query(`
    CREATE SCHEMA legacy; CREATE SCHEMA v2;
    CREATE TABLE legacy.loan_kpis (loan_id integer, par30 numeric(12, 6), balance double precision, status text);
    INSERT INTO legacy.loan_kpis
      SELECT i, round((i % 97) / 1000.0, 6), i * 10.5, CASE WHEN i % 3 = 0 THEN 'current' ELSE 'late' END
      FROM generate_series(1, 1000) i;
    CREATE TABLE v2.loan_kpis AS SELECT * FROM legacy.loan_kpis WHERE loan_id <> 1000;
    INSERT INTO v2.loan_kpis VALUES (1001, 0.001, 10510.5, 'late');
    -- within tolerance, differing beyond it, and a text that differs
    UPDATE v2.loan_kpis SET par30 = par30 + 0.000001 WHERE loan_id = 96;
    UPDATE v2.loan_kpis SET balance = balance + 10 WHERE loan_id = 7;
    UPDATE v2.loan_kpis SET status = 'Current' WHERE loan_id = 9;
  `);
}, 120_000);

afterAll(async () => {
  await client?.end();
  await server?.stop();
});

test('in one PostgreSQL: the counts, tolerances and samples the file diff gives on the same rows', async () => {
  const result = await diffInPostgres(client, request('loan_kpis', 'loan_kpis'));
  expect(result.format).toBe('postgres');
  expect(result.files).toEqual({ v1: 'postgres:legacy.loan_kpis', v2: 'postgres:v2.loan_kpis' });
  expect(result.rows).toEqual({ v1: 1000, v2: 1000, both: 999, onlyV1: 1, onlyV2: 1, differing: 2 });
  const column = (name: string) => result.columns.find((c) => c.column === name);
  expect(column('par30')).toMatchObject({ type: 'DECIMAL', equal: 998, withinTolerance: 1, differing: 0 });
  expect(column('balance')).toMatchObject({ type: 'DOUBLE', equal: 998, differing: 1, maxAbsolute: 10 });
  expect(column('status')).toMatchObject({ type: 'VARCHAR', equal: 998, differing: 1 });
  expect(result.samples.map((s) => [s.key.loan_id, s.presence, s.differs])).toEqual([
    [7, 'both', ['balance']],
    [9, 'both', ['status']],
    [1000, 'v1', []],
    [1001, 'v2', []],
  ]);
  expect(result.verdict).toBe('fail');
  expect(result.failures).toEqual([
    '2 differing row(s), limit 0 (by column: balance 1, status 1); e.g. loan_id 7, 9',
    'rows missing: 1 only in V1, 1 only in V2, limit 0 per side; e.g. loan_id 1000, 1001',
  ]);

  // The same rows as CSV through the file diff on DuckDB: the same verdicts, row for row.
  const csv = async (table: string) => {
    const { rows } = await client.query(`SELECT * FROM ${table} ORDER BY loan_id`);
    const file = path.join(DIR, `${table}.csv`);
    writeFileSync(
      file,
      ['loan_id,par30,balance,status', ...rows.map((r) => [r.loan_id, r.par30, r.balance, r.status].join(','))].join(
        '\n',
      ),
    );
    return file;
  };
  const [v1File, v2File] = [await csv('legacy.loan_kpis'), await csv('v2.loan_kpis')];
  const onFiles = await withDiffEngine({ tempDirectory: path.join(DIR, 'spill'), threads: 1 }, (session) =>
    diffOutput(session, { output: 'loan_kpis', dataset: 'd1', spec: SPEC, v1File, v2File }),
  );
  expect(onFiles.rows).toEqual(result.rows);
  const classes = (r: typeof result) =>
    r.columns.map((c) => [c.column, c.equal, c.withinTolerance, c.differing, c.maxAbsolute, c.maxRelative]);
  expect(classes(onFiles)).toEqual(classes(result));
  expect(onFiles.failures).toEqual(result.failures);
});

test('the diff writes nothing: a read-only snapshot, the tables’ write counters unchanged', async () => {
  const counters = async () => {
    await client.query('SELECT pg_stat_force_next_flush()');
    const { rows } = await client.query(
      `SELECT schemaname || '.' || relname AS t, n_tup_ins, n_tup_upd, n_tup_del, seq_scan
         FROM pg_stat_user_tables WHERE relname = 'loan_kpis' ORDER BY 1`,
    );
    return rows as { t: string; n_tup_ins: string; n_tup_upd: string; n_tup_del: string; seq_scan: string }[];
  };
  const before = await counters();
  await diffInPostgres(client, request('loan_kpis', 'loan_kpis'));
  const after = await counters();
  const writes = (rows: typeof before) => rows.map((r) => [r.t, r.n_tup_ins, r.n_tup_upd, r.n_tup_del]);
  expect(writes(after)).toEqual(writes(before));
  // It did read them.
  expect(after.every((r, i) => Number(r.seq_scan) > Number(before[i]?.seq_scan))).toBe(true);
  // And the connection is left as it was found: no transaction open.
  expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
});

test('where a primary key holds the key on both sides, no scan is spent on fan-out, and the counts are the same', async () => {
  await client.query(`
    CREATE TABLE legacy.keyed (LIKE legacy.loan_kpis); INSERT INTO legacy.keyed SELECT * FROM legacy.loan_kpis;
    ALTER TABLE legacy.keyed ADD PRIMARY KEY (loan_id);
    CREATE TABLE v2.keyed (LIKE v2.loan_kpis); INSERT INTO v2.keyed SELECT * FROM v2.loan_kpis;
    ALTER TABLE v2.keyed ADD PRIMARY KEY (loan_id);
  `);
  const keyed = await diffInPostgres(client, request('keyed', 'keyed'));
  const plain = await diffInPostgres(client, request('loan_kpis', 'loan_kpis'));
  expect(keyed.rows).toEqual(plain.rows);
  expect(keyed.columns).toEqual(plain.columns);
  expect(keyed.samples).toEqual(plain.samples);
  expect(keyed.failures).toEqual(plain.failures);
});

test('duplicate and NULL keys are counted, sampled and fail; the join’s counts are not trusted then', async () => {
  await client.query(`
    CREATE TABLE legacy.dups AS SELECT * FROM legacy.loan_kpis WHERE loan_id <= 10;
    INSERT INTO legacy.dups VALUES (NULL, 0.1, 1, 'late');
    CREATE TABLE v2.dups AS SELECT * FROM legacy.loan_kpis WHERE loan_id <= 10;
    INSERT INTO v2.dups SELECT * FROM legacy.loan_kpis WHERE loan_id IN (3, 4);
    INSERT INTO v2.dups SELECT * FROM legacy.loan_kpis WHERE loan_id = 4;
  `);
  const result = await diffInPostgres(client, request('dups', 'dups'));
  expect(result.verdict).toBe('fail');
  expect(result.rows).toMatchObject({ v1: 11, v2: 13 });
  expect(result.duplicates).toEqual({
    v1: 0,
    v2: 2,
    examples: [
      { side: 'v2', loan_id: 3, copies: 2 },
      { side: 'v2', loan_id: 4, copies: 3 },
    ],
  });
  expect(result.failures).toEqual([
    "1 row(s) with a NULL key in V1's table legacy.dups",
    "2 duplicate key(s) in V2's table v2.dups (the join would fan out)",
  ]);
});

test('a column of another type on each side is named and compared as text', async () => {
  await client.query(`
    CREATE TABLE legacy.typed AS SELECT loan_id, balance FROM legacy.loan_kpis WHERE loan_id <= 5;
    CREATE TABLE v2.typed AS SELECT loan_id, balance::text AS balance FROM legacy.loan_kpis WHERE loan_id <= 5;
  `);
  const result = await diffInPostgres(client, request('typed', 'typed', { ...SPEC, tolerances: {} }));
  expect(result.columns).toEqual([
    expect.objectContaining({ column: 'balance', type: 'DOUBLE / VARCHAR', equal: 5, differing: 0 }),
  ]);
});

test('a missing table, a missing key column: bad input named by output, dataset, side and table', async () => {
  await expect(diffInPostgres(client, request('loan_kpis', 'nope'))).rejects.toThrow(
    new DiffInputError('output "loan_kpis", dataset d1, V2\'s table v2.nope: no such table or view'),
  );
  await expect(diffInPostgres(client, request('loan_kpis', 'loan_kpis', { ...SPEC, key: ['loan'] }))).rejects.toThrow(
    'output "loan_kpis", dataset d1, V1\'s table legacy.loan_kpis: no key column "loan" (columns: loan_id, par30, balance, status)',
  );
  // The connection is usable after a refusal: its transaction was rolled back.
  expect((await client.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
});

describe('the shadow activity with outputs in the database', () => {
  const dataDir = path.join(DIR, 'data');
  /** A pipeline that writes its output table into the database with `pg`, and prints its KPIs. */
  const pipeline = (table: string, amount: string) => ({
    run: [
      ...nodeRun(
        `const { Client } = require(${JSON.stringify(require.resolve('pg'))});
         (async () => {
           const c = new Client({ connectionString: process.env.PIPELINE_DB }); await c.connect();
           await c.query('DROP TABLE IF EXISTS ${table}');
           await c.query('CREATE TABLE ${table} AS SELECT i AS loan_id, ${amount} AS amount FROM generate_series(1, 500) i');
           await c.end();
           process.stdout.write(JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, rows: 500 }));
         })().catch((e) => { console.error(e.message); process.exit(1); });`,
      ),
    ],
    env: { PIPELINE_DB: server.url },
  });
  const plan = () =>
    makePlan({
      baseline: pipeline('legacy.shadow_kpis', 'i * 1.5'),
      candidate: pipeline('v2.shadow_kpis', 'CASE WHEN i = 250 THEN i * 1.5 + 1 ELSE i * 1.5 END'),
      shadow: {
        datasets: [{ generate: { rows: 10, seed: 1 } }],
        noiseRuns: 0,
        tolerances: { PAR30: { relative: 0.05 } },
        outputs: {
          kpis: {
            key: ['loan_id'],
            maxDifferingRows: 1,
            v1: { database: 'warehouse', table: 'legacy.shadow_kpis' },
            v2: { database: 'warehouse', table: 'v2.shadow_kpis' },
          },
        },
      },
    });
  const run = (databases: Record<string, string>, workflowId: string) =>
    new MockActivityEnvironment().run(createActivities({ dataDir, databases }).runShadow, {
      workflowId,
      release: 'test-db',
      key: `${workflowId}/shadow`,
      plan: plan(),
    });

  test('V1 and V2 write their tables; the diff runs in the database and is the evidence', async () => {
    const result = (await run({ warehouse: server.url }, 'db-shadow-ok')) as ShadowResult;
    expect(result.verdict).toBe('pass');
    expect(result.datasets[0]?.outputs?.[0]).toMatchObject({
      format: 'postgres',
      files: { v1: 'postgres:legacy.shadow_kpis', v2: 'postgres:v2.shadow_kpis' },
      rows: { v1: 500, v2: 500, both: 500, differing: 1 },
      samples: [expect.objectContaining({ key: { loan_id: 250 }, differs: ['amount'] })],
      verdict: 'pass',
    });
  }, 60_000);

  test('V1 in the database and V2 in a file: the shadow diffs them across, by segments', async () => {
    const base = plan();
    const writesCsv = nodeRun(
      `const rows = ['loan_id,amount'];
       for (let i = 1; i <= 500; i++) rows.push(i + ',' + (i === 250 ? i * 1.5 + 1 : i * 1.5));
       require('fs').writeFileSync(process.argv[1], rows.join('\\n'));
       process.stdout.write(JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, rows: 500 }));`,
    );
    const mixed = makePlan({
      ...base,
      candidate: { run: [...writesCsv, '{output:kpis}'] },
      shadow: {
        ...base.shadow,
        outputs: {
          kpis: { key: ['loan_id'], maxDifferingRows: 1, v1: { database: 'warehouse', table: 'legacy.shadow_kpis' } },
        },
      },
    } as never);
    const result = (await new MockActivityEnvironment().run(
      createActivities({ dataDir, databases: { warehouse: server.url } }).runShadow,
      { workflowId: 'db-shadow-across', release: 'test-db', key: 'db-shadow-across/shadow', plan: mixed },
    )) as ShadowResult;
    expect(result.datasets[0]?.outputs?.[0]).toMatchObject({
      format: 'csv',
      files: { v1: 'postgres:warehouse:legacy.shadow_kpis' },
      rows: { v1: 500, v2: 500, both: 500, differing: 1 },
      samples: [expect.objectContaining({ key: { loan_id: 250 }, differs: ['amount'] })],
      transfer: expect.objectContaining({ of: 1000 }),
      verdict: 'pass',
    });
  }, 60_000);

  test('daily reconciliation diffs the tables where they are: a row beyond the limit makes the day unclean', async () => {
    const reconcile = (maxDifferingRows: number, day: number) => {
      const base = plan();
      const strict = makePlan({
        ...base,
        shadow: {
          ...base.shadow,
          outputs: { kpis: { ...base.shadow.outputs.kpis, maxDifferingRows } },
        },
      } as never);
      return new MockActivityEnvironment().run(
        createActivities({ dataDir, databases: { warehouse: server.url } }).reconcile,
        {
          workflowId: 'db-reconcile',
          release: 'test-db',
          key: `db-reconcile/day-${day}`,
          plan: strict,
          day,
        },
      );
    };
    const tolerated = await reconcile(1, 1);
    expect(tolerated).toMatchObject({
      day: 1,
      clean: true,
      outputs: [expect.objectContaining({ format: 'postgres', rows: expect.objectContaining({ differing: 1 }) })],
    });
    const strict = (await reconcile(0, 2)) as ReconcileResult;
    expect(strict).toMatchObject({ day: 2, clean: false });
    expect(strict.failures).toEqual([
      'output kpis: 1 differing row(s), limit 0 (by column: amount 1); e.g. loan_id 250',
    ]);
  }, 60_000);

  test('a database the workers do not know, bad credentials: final and named; a refused connection: retried', async () => {
    const failure = (databases: Record<string, string>, id: string) =>
      run(databases, id).then(
        () => undefined,
        (err: Error & { type?: string; nonRetryable?: boolean }) => ({
          type: err.type,
          nonRetryable: err.nonRetryable,
          message: err.message,
        }),
      );
    expect(await failure({}, 'db-shadow-unknown')).toEqual({
      type: 'InvalidOutput',
      nonRetryable: true,
      message:
        'output "kpis": the workers have no database "warehouse" (CUTOVER_DATABASE_WAREHOUSE on the compute workers; they have none)',
    });
    const wrong = new URL(server.url);
    wrong.password = 'not-the-password';
    expect(await failure({ warehouse: wrong.toString() }, 'db-shadow-credentials')).toMatchObject({
      type: 'InvalidOutput',
      nonRetryable: true,
      message: expect.stringMatching(
        /^output "kpis": database warehouse at 127\.0\.0\.1:\d+ refused the workers: password authentication failed/,
      ),
    });
    const closed = new URL(server.url);
    closed.port = String(await freePort());
    expect(await failure({ warehouse: closed.toString() }, 'db-shadow-refused')).toMatchObject({
      type: 'ActionTransient',
      nonRetryable: false,
      message: expect.stringMatching(
        /^output "kpis": cannot reach database warehouse at 127\.0\.0\.1:\d+: connect ECONNREFUSED/,
      ),
    });
  }, 60_000);
});

describe('across two places: V1 in PostgreSQL, V2 in a Parquet file', () => {
  /** V2's rows written by DuckDB, with `edits` applied: the same generator as V1's table. */
  async function parquet(name: string, rows: number, edits: string, extra = ''): Promise<string> {
    const file = path.join(DIR, `${name}.parquet`);
    await withDiffEngine({ tempDirectory: path.join(DIR, 'spill'), threads: 1 }, async (session) => {
      await session.rows(
        `COPY (SELECT loan_id, par30, balance, status FROM (
            SELECT i AS loan_id, round((i % 97) / 1000.0, 6)::DECIMAL(12, 6) AS par30, i * 10.5 AS balance,
                   CASE WHEN i % 3 = 0 THEN 'current' ELSE 'late' END AS status
              FROM range(1, ${rows + 1}) t(i)) ${edits} ${extra}) TO '${file}' (FORMAT parquet)`,
      );
    });
    return file;
  }
  const across = (
    v1: string,
    file: string,
    spec: OutputSpec = SPEC,
    options: Pick<CrossDiffRequest, 'deepStartRows' | 'leafRows' | 'maxPending' | 'maxChecksums' | 'segmentBy'> = {},
  ) =>
    withDiffEngine({ tempDirectory: path.join(DIR, 'spill-cross'), threads: 1 }, async (session) => {
      await client.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        return await crossDiff(session, {
          output: 'loan_kpis',
          dataset: 'd1',
          spec,
          v1: { kind: 'postgres', database: 'warehouse', client, table: { schema: 'legacy', table: v1 } },
          v2: { kind: 'file', file, format: 'parquet' },
          workDir: DIR,
          ...options,
        });
      } finally {
        await client.query('ROLLBACK');
      }
    });

  test('the same verdicts as the diff in one database; only the differing segments’ rows cross', async () => {
    const file = await parquet(
      'v2-small',
      1000,
      `WHERE loan_id <> 1000`,
      `UNION ALL SELECT 1001, 0.001, 10510.5, 'late'`,
    );
    // The same edits as V2's table in the database: within tolerance, beyond it, a text.
    const edited = path.join(DIR, 'v2-small-edited.parquet');
    await withDiffEngine({ tempDirectory: path.join(DIR, 'spill'), threads: 1 }, (session) =>
      session.rows(
        `COPY (SELECT loan_id,
                      CASE WHEN loan_id = 96 THEN par30 + 0.000001 ELSE par30 END AS par30,
                      CASE WHEN loan_id = 7 THEN balance + 10 ELSE balance END AS balance,
                      CASE WHEN loan_id = 9 THEN 'Current' ELSE status END AS status
                 FROM read_parquet('${file}')) TO '${edited}' (FORMAT parquet)`,
      ),
    );
    const result = await across('loan_kpis', edited);
    const inOne = await diffInPostgres(client, request('loan_kpis', 'loan_kpis'));
    expect(result.rows).toEqual(inOne.rows);
    const classes = (r: typeof result) =>
      r.columns.map((c) => [c.column, c.equal, c.withinTolerance, c.differing, c.nullOneSide]);
    expect(classes(result)).toEqual(classes(inOne));
    expect(result.samples.map((s) => [s.key.loan_id, s.presence, s.differs])).toEqual(
      inOne.samples.map((s) => [s.key.loan_id, s.presence, s.differs]),
    );
    expect(result.failures).toEqual(inOne.failures);
    expect(result.files).toEqual({ v1: 'postgres:warehouse:legacy.loan_kpis', v2: edited });
    // Five rows differ or are missing: their segments' rows crossed, a few of the 2,000.
    expect(result.transfer?.rows).toBeGreaterThanOrEqual(4);
    expect(result.transfer?.rows).toBeLessThan(100);
  });

  test('timestamps, NULLs and whole-number keys past 2^53 cross exactly', async () => {
    await client.query(`
      CREATE TABLE legacy.events (id bigint, seen_at timestamp, note text);
      INSERT INTO legacy.events VALUES
        (9007199254740993, '2026-12-01 09:00:00.123456', NULL),
        (9007199254740995, '2026-12-01 09:00:01', 'a'),
        (9007199254740997, NULL, 'b')`);
    const file = path.join(DIR, 'events.parquet');
    await withDiffEngine({ tempDirectory: path.join(DIR, 'spill'), threads: 1 }, (session) =>
      session.rows(
        `COPY (SELECT * FROM (VALUES
            (9007199254740993::BIGINT, TIMESTAMP '2026-12-01 09:00:00.123456', NULL::VARCHAR),
            (9007199254740995::BIGINT, TIMESTAMP '2026-12-01 09:00:02', 'a'),
            (9007199254740997::BIGINT, NULL, 'b')) t(id, seen_at, note)) TO '${file}' (FORMAT parquet)`,
      ),
    );
    const result = await across('events', file, { ...SPEC, key: ['id'], tolerances: {} });
    // Keys 2^53 + 1 and 2^53 + 3 stay apart; one timestamp differs by a second; NULL equals NULL.
    expect(result.rows).toEqual({ v1: 3, v2: 3, both: 3, onlyV1: 0, onlyV2: 0, differing: 1 });
    expect(result.samples.map((x) => [String(x.key.id), x.differs])).toEqual([['9007199254740995', ['seen_at']]]);
    expect(result.columns.map((c) => [c.column, c.equal, c.differing])).toEqual([
      ['seen_at', 2, 1],
      ['note', 3, 0],
    ]);
  });

  test('100,000 rows, 0.1 % differing: every difference found, under 5 % of the rows transferred', async () => {
    await client.query(`
      CREATE TABLE legacy.big AS
        SELECT i AS loan_id, round((i % 97) / 1000.0, 6)::numeric(12, 6) AS par30, i * 10.5 AS balance,
               CASE WHEN i % 3 = 0 THEN 'current' ELSE 'late' END AS status
          FROM generate_series(1, 100000) i`);
    const file = await parquet('v2-big', 100_000, '', '');
    const edited = path.join(DIR, 'v2-big-edited.parquet');
    await withDiffEngine({ tempDirectory: path.join(DIR, 'spill'), threads: 1 }, (session) =>
      session.rows(
        `COPY (SELECT loan_id, par30,
                      CASE WHEN loan_id % 1000 = 0 THEN balance + 1 ELSE balance END AS balance, status
                 FROM read_parquet('${file}')) TO '${edited}' (FORMAT parquet)`,
      ),
    );
    const result = await across('big', edited, { ...SPEC, maxDifferingRows: 1000 });
    expect(result.rows).toEqual({ v1: 100_000, v2: 100_000, both: 100_000, onlyV1: 0, onlyV2: 0, differing: 100 });
    expect(result.columns.find((c) => c.column === 'balance')).toMatchObject({ differing: 100, equal: 99_900 });
    expect(result.verdict).toBe('pass');
    const transferred = result.transfer as NonNullable<typeof result.transfer>;
    expect(transferred.of).toBe(200_000);
    expect(transferred.rows / 100_000).toBeLessThan(0.05);
  }, 60_000);
  test('texts cross as they are: an empty text is not NULL, commas, quotes and line breaks stay inside a value', async () => {
    await client.query(`
      CREATE TABLE legacy.notes (id integer, note text, flag boolean);
      INSERT INTO legacy.notes VALUES
        (1, '', true), (2, NULL, false), (3, 'a, "b"' || chr(10) || 'c', NULL), (4, 'same', true), (5, 'x', true)`);
    const file = path.join(DIR, 'notes.parquet');
    await withDiffEngine({ tempDirectory: path.join(DIR, 'spill'), threads: 1 }, (session) =>
      session.rows(
        `COPY (SELECT * FROM (VALUES (1, NULL::VARCHAR, true), (2, '', false), (3, 'a, "b"' || chr(10) || 'c', NULL::BOOLEAN),
                                    (4, 'same', true), (5, 'x', false)) t(id, note, flag)) TO '${file}' (FORMAT parquet)`,
      ),
    );
    const result = await across('notes', file, { ...SPEC, key: ['id'], tolerances: {}, maxDifferingRows: 10 });
    // '' and NULL swap sides on rows 1 and 2; row 3's text survives the CSV in between; row 5's flag differs.
    expect(result.rows).toEqual({ v1: 5, v2: 5, both: 5, onlyV1: 0, onlyV2: 0, differing: 3 });
    expect(result.samples.map((x) => [x.key.id, x.differs, x.v1?.note ?? null, x.v2?.note ?? null])).toEqual([
      [1, ['note'], '', null],
      [2, ['note'], null, ''],
      [5, ['flag'], 'x', 'x'],
    ]);
    expect(result.columns.map((c) => [c.column, c.equal, c.differing, c.nullOneSide])).toEqual([
      ['note', 3, 0, 2],
      ['flag', 4, 1, 0],
    ]);
  });

  test('10 % differing, segments by md5: every row compared, through tables of the leaves on both sides; the same counts from level 2', async () => {
    await client.query(`
      CREATE TABLE legacy.wide AS
        SELECT i AS loan_id, round((i % 97) / 1000.0, 6)::numeric(12, 6) AS par30, i * 10.5 AS balance,
               CASE WHEN i % 3 = 0 THEN 'current' ELSE 'late' END AS status
          FROM generate_series(1, 20000) i;
      ANALYZE legacy.wide`);
    const file = path.join(DIR, 'v2-wide.parquet');
    await withDiffEngine({ tempDirectory: path.join(DIR, 'spill'), threads: 1 }, (session) =>
      session.rows(
        `COPY (SELECT i AS loan_id, round((i % 97) / 1000.0, 6)::DECIMAL(12, 6) AS par30,
                      i * 10.5 + CASE WHEN i % 10 = 0 THEN 1 ELSE 0 END AS balance,
                      CASE WHEN i % 3 = 0 THEN 'current' ELSE 'late' END AS status
                 FROM range(1, 20001) t(i)) TO '${file}' (FORMAT parquet)`,
      ),
    );
    const spec = { ...SPEC, maxDifferingRows: 100_000 };
    const md5 = { segmentBy: 'md5' } as const;
    const expected = { v1: 20_000, v2: 20_000, both: 20_000, onlyV1: 0, onlyV2: 0, differing: 2000 };
    const fromOne = await across('wide', file, spec, md5);
    expect(fromOne.rows).toEqual(expected);
    expect(fromOne.transfer?.leaves).toBeGreaterThan(64);
    // Started at level 2 (as a table past deepStartRows is): the same answer, in one level fewer.
    const fromTwo = await across('wide', file, spec, { ...md5, deepStartRows: 10_000 });
    expect(fromTwo.rows).toEqual(expected);
    expect(fromTwo.columns).toEqual(fromOne.columns);
    // The whole table, its 256 segments and then their 65,536; or the whole table and the 65,536: one level fewer,
    // the same rows crossing.
    expect(fromOne.transfer).toMatchObject({ levels: 3, segmentedBy: 'md5' });
    expect(fromTwo.transfer?.levels).toBe(2);
    expect(fromTwo.transfer?.segments).toBeLessThan(fromOne.transfer?.segments ?? 0);
    expect(fromTwo.transfer?.rows).toBe(fromOne.transfer?.rows);
    // Small segments split 16 ways where 256 would make too many checksums: the same answer, by 3 digits at level 2.
    const sixteen = await across('wide', file, spec, { ...md5, leafRows: 4, maxChecksums: 1000 });
    const twoFiftySix = await across('wide', file, spec, { ...md5, leafRows: 4 });
    expect(sixteen.rows).toEqual(expected);
    // 256 segments split 16 ways (4,096 checksums), then again: more levels, far fewer checksums.
    expect(sixteen.transfer?.levels).toBeGreaterThan(twoFiftySix.transfer?.levels ?? 0);
    expect(sixteen.transfer?.segments).toBeLessThan((twoFiftySix.transfer?.segments ?? 0) * 0.7);
    expect(sixteen.columns).toEqual(fromOne.columns);
    // Differences everywhere: past maxPending, the differing segments are compared whole, every row crossing.
    const whole = await across('wide', file, spec, { ...md5, maxPending: 100 });
    expect(whole.rows).toEqual(expected);
    expect(whole.columns).toEqual(fromOne.columns);
    // (All but the odd segment of 256 that holds no changed row: those cross whole, nothing is split.)
    expect(whole.transfer?.levels).toBe(2);
    expect(whole.transfer?.leaves).toBeGreaterThan(250);
    expect(whole.transfer?.rows).toBeGreaterThan(19_000);
  }, 60_000);

  test('a whole-number key is segmented by its range: negative, sparse keys give the verdicts md5 gives; equal tables end at one checksum a side', async () => {
    // Keys from -39,992,081 to 118,340,000, 7,919 apart; V2 loses one, gains one, and 41 rows differ.
    await client.query(`
      CREATE TABLE legacy.sparse AS
        SELECT i * 7919 - 40000000 AS loan_id, round((i % 97) / 1000.0, 6)::numeric(12, 6) AS par30,
               i * 10.5 AS balance, CASE WHEN i % 3 = 0 THEN 'current' ELSE 'late' END AS status
          FROM generate_series(1, 20000) i;
      ANALYZE legacy.sparse`);
    const rows = (edits: string) => `
      SELECT i * 7919 - 40000000 AS loan_id, round((i % 97) / 1000.0, 6)::DECIMAL(12, 6) AS par30,
             i * 10.5 ${edits ? '+ CASE WHEN i % 500 = 0 THEN 1 ELSE 0 END' : ''} AS balance,
             CASE WHEN i % 3 = 0 ${edits ? 'AND i <> 78' : ''} THEN 'current' ELSE 'late' END AS status
        FROM range(1, 20001) t(i) ${edits}`;
    const edited = path.join(DIR, 'v2-sparse-edited.parquet');
    const same = path.join(DIR, 'v2-sparse.parquet');
    await withDiffEngine({ tempDirectory: path.join(DIR, 'spill'), threads: 1 }, async (session) => {
      await session.rows(
        `COPY (${rows('WHERE i <> 5')} UNION ALL SELECT 3, 0.001, 1.5, 'late') TO '${edited}' (FORMAT parquet)`,
      );
      await session.rows(`COPY (${rows('')}) TO '${same}' (FORMAT parquet)`);
    });
    const spec = { ...SPEC, maxDifferingRows: 1000 };
    const byRange = await across('sparse', edited, spec);
    const byMd5 = await across('sparse', edited, spec, { segmentBy: 'md5' });
    expect(byRange.rows).toEqual({ v1: 20_000, v2: 20_000, both: 19_999, onlyV1: 1, onlyV2: 1, differing: 41 });
    expect(byRange.transfer?.segmentedBy).toBe('range');
    expect(byMd5.transfer?.segmentedBy).toBe('md5');
    expect(byMd5.rows).toEqual(byRange.rows);
    expect(byMd5.columns).toEqual(byRange.columns);
    expect(byMd5.samples.map((x) => x.key)).toEqual(byRange.samples.map((x) => x.key));
    expect(byRange.samples.map((x) => x.key.loan_id)).toEqual(expect.arrayContaining([3, 5 * 7919 - 40_000_000]));
    // 43 rows differ or are missing: their segments' rows crossed, under 5 % of the 40,000.
    expect(byRange.transfer?.rows).toBeGreaterThanOrEqual(43);
    expect(byRange.transfer?.rows).toBeLessThan(2000);

    // Equal tables: the whole table's checksum agrees on both sides, nothing is split and nothing crosses.
    const equal = await across('sparse', same, spec);
    expect(equal.rows).toEqual({ v1: 20_000, v2: 20_000, both: 20_000, onlyV1: 0, onlyV2: 0, differing: 0 });
    expect(equal.transfer).toMatchObject({ rows: 0, segments: 1, leaves: 0, levels: 1, segmentedBy: 'range' });
  }, 60_000);

  test('equal rows checksum alike in both engines, NULLs, timestamps, booleans, dates and texts included: nothing crosses', async () => {
    await client.query(`
      CREATE TABLE legacy.alike (id integer, note text, flag boolean, seen_at timestamp, due date, amount numeric(12, 4));
      INSERT INTO legacy.alike VALUES
        (1, '', true, '2026-12-01 09:00:00.123456', '2026-12-31', 1.5),
        (2, NULL, NULL, NULL, NULL, NULL),
        (3, 'a, "b"' || chr(10) || 'é', false, '1969-07-20 20:17:40', '1969-07-20', -0.0001),
        (4, 'n', true, '2026-01-01 00:00:00', '2026-01-01', 0)`);
    const file = path.join(DIR, 'alike.parquet');
    await withDiffEngine({ tempDirectory: path.join(DIR, 'spill'), threads: 1 }, (session) =>
      session.rows(
        `COPY (SELECT * FROM (VALUES
            (1, '', true, TIMESTAMP '2026-12-01 09:00:00.123456', DATE '2026-12-31', 1.5::DECIMAL(12, 4)),
            (2, NULL, NULL, NULL, NULL, NULL),
            (3, 'a, "b"' || chr(10) || 'é', false, TIMESTAMP '1969-07-20 20:17:40', DATE '1969-07-20', -0.0001),
            (4, 'n', true, TIMESTAMP '2026-01-01 00:00:00', DATE '2026-01-01', 0)) t(id, note, flag, seen_at, due, amount))
           TO '${file}' (FORMAT parquet)`,
      ),
    );
    const spec = { ...SPEC, key: ['id'], tolerances: {} };
    for (const segmentBy of ['range', 'md5'] as const) {
      const result = await across('alike', file, spec, { segmentBy });
      expect(result.rows).toEqual({ v1: 4, v2: 4, both: 4, onlyV1: 0, onlyV2: 0, differing: 0 });
      // The whole table's checksum agreed: NULL is 'n' and '' is 'v' on both sides, the rest as the table says.
      expect(result.transfer).toMatchObject({ rows: 0, segments: 1, levels: 1, segmentedBy: segmentBy });
    }
  });

  test('by range too, NULL and duplicate keys stop the diff and fail it; keys 2^62 or more apart are segmented by md5', async () => {
    await client.query(`
      CREATE TABLE legacy.dirtykeys (id bigint, note text);
      INSERT INTO legacy.dirtykeys VALUES (1, 'a'), (2, 'b'), (3, 'c');
      CREATE TABLE legacy.far (id bigint, note text);
      INSERT INTO legacy.far VALUES (-4611686018427387904, 'a'), (1, 'b'), (4611686018427387904, 'c')`);
    const dirty = path.join(DIR, 'keyed-dirty.parquet');
    const far = path.join(DIR, 'far.parquet');
    await withDiffEngine({ tempDirectory: path.join(DIR, 'spill'), threads: 1 }, async (session) => {
      await session.rows(
        `COPY (SELECT * FROM (VALUES (1::BIGINT, 'a'), (2, 'b'), (2, 'b'), (NULL, 'c')) t(id, note)) TO '${dirty}' (FORMAT parquet)`,
      );
      await session.rows(
        `COPY (SELECT * FROM (VALUES (-4611686018427387904::BIGINT, 'a'), (1, 'B'), (4611686018427387904, 'c')) t(id, note))
           TO '${far}' (FORMAT parquet)`,
      );
    });
    const spec = { ...SPEC, key: ['id'], tolerances: {} };
    const problems = await across('dirtykeys', dirty, spec);
    expect(problems.verdict).toBe('fail');
    expect(problems.duplicates.v2).toBe(1);
    expect(problems.failures).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^1 duplicate key/),
        expect.stringMatching(/^1 row\(s\) with a NULL key/),
      ]),
    );
    const wide = await across('far', far, spec);
    expect(wide.transfer?.segmentedBy).toBe('md5');
    expect(wide.rows).toEqual({ v1: 3, v2: 3, both: 3, onlyV1: 0, onlyV2: 0, differing: 1 });
  });
});

test('equal values differ by nothing in both engines (NULL and NULL, 0 and 0), and a date is compared as a date', async () => {
  await client.query(`
    CREATE TABLE legacy.edges (loan_id integer PRIMARY KEY, writeoff numeric(12, 2), fee numeric(12, 2), due date);
    CREATE TABLE v2.edges (loan_id integer PRIMARY KEY, writeoff numeric(12, 2), fee numeric(12, 2), due date);
    INSERT INTO legacy.edges VALUES (1, NULL, 0, '2026-01-31'), (2, NULL, 0, '2026-02-28'), (3, NULL, 0, NULL);
    INSERT INTO v2.edges VALUES (1, NULL, 0, '2026-01-31'), (2, NULL, 0, '2026-03-01'), (3, NULL, 0, NULL);`);
  const spec: OutputSpec = { ...SPEC, tolerances: {}, sample: 5 };
  const pushed = await diffInPostgres(client, { ...request('edges', 'edges', spec), output: 'edges' });
  const figures = (r: typeof pushed) =>
    r.columns.map((c) => [c.column, c.type, c.equal, c.differing, c.maxAbsolute, c.maxRelative]);
  expect(figures(pushed)).toEqual([
    // Every row NULL on both sides, or 0 on both: equal, and so no difference at all, not an unknown one.
    ['writeoff', 'DECIMAL', 3, 0, 0, 0],
    ['fee', 'DECIMAL', 3, 0, 0, 0],
    ['due', 'DATE', 2, 1, undefined, undefined],
  ]);
  expect(pushed.samples.map((s) => s.differs)).toEqual([['due']]);
  // The DuckDB diff of the same rows, typed alike, says the same.
  const onFiles = await withDiffEngine(
    { tempDirectory: path.join(DIR, 'spill-edges'), threads: 1 },
    async (session) => {
      for (const [name, due] of [
        ['e1', "'2026-02-28'"],
        ['e2', "'2026-03-01'"],
      ])
        await session.rows(
          `CREATE TABLE ${name} AS SELECT * FROM (VALUES (1, NULL::DECIMAL(12, 2), 0::DECIMAL(12, 2), DATE '2026-01-31'),
           (2, NULL, 0, CAST(${due} AS DATE)), (3, NULL, 0, NULL)) t(loan_id, writeoff, fee, due)`,
        );
      return diffOutput(session, {
        output: 'edges',
        dataset: 'd1',
        spec,
        v1File: 'e1',
        v2File: 'e2',
        tables: { v1: 'e1', v2: 'e2' },
      });
    },
  );
  expect(onFiles.columns.map((c) => [c.column, c.equal, c.differing, c.maxAbsolute, c.maxRelative])).toEqual(
    figures(pushed).map(([column, , equal, differing, abs, rel]) => [column, equal, differing, abs, rel]),
  );
});
