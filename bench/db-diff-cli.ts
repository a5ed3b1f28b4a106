/**
 * The contenders of `npm run bench db-diff` that are cutover's or bare SQL, each run as a whole process (reladiff
 * is the other: bench/db-diff.ts runs it from its virtualenv):
 *
 *   db-diff-cli prepare ROWS URL DIR  → tables bench.v1, bench.v2_0, bench.v2_1, bench.v2_100 in the database (V2
 *                                        with none, 0.1 % and 10 % of rows differing) and DIR/v2_*.parquet alike;
 *                                        bench.model_v1 and bench.model_v2_1, a real model's shape (a text, a date,
 *                                        four numerics), 0.1 % differing
 *   db-diff-cli pushdown URL V2TABLE [nojit] → cutover's diff of V2TABLE and its V1 in the database
 *                                        (activities/db-diff.ts), PostgreSQL's JIT off with `nojit`
 *   db-diff-cli bare URL V2TABLE [nojit] → a bare FULL OUTER JOIN in the database counting the same differences
 *   db-diff-cli cross URL PARQUET     → cutover's diff of bench.v1 against the Parquet file (activities/cross-diff.ts)
 *
 * Each prints one JSON line with its counts, so that the bench can check that every contender agrees.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { crossDiff } from '../activities/cross-diff';
import { diffInPostgres } from '../activities/db-diff';
import { literal, withDiffEngine } from '../activities/diff-engine';
import { outputSpec } from '../plan/schema';

/** How V2 differs from V1 per variant: every Nth loan's provision (none for 0). */
export const VARIANTS = { v2_0: 0, v2_1: 1000, v2_100: 10 } as const;

const SPEC = outputSpec({ format: 'parquet', key: ['loan_id'] });

/**
 * One per-loan table: the same rows in PostgreSQL's and DuckDB's SQL (`every` > 0: that loan's provision differs).
 * Whole numbers of cents only, so that both engines hold exactly the same values. `div`: the engine's integer
 * division (`/` in PostgreSQL, `//` in DuckDB).
 */
const rowsOf = (every: number, series: string, div: string) => `
  SELECT i::BIGINT AS loan_id,
         (CASE i % 4 WHEN 0 THEN 'retail' WHEN 1 THEN 'sme' WHEN 2 THEN 'agri' ELSE 'micro' END) AS segment,
         (CASE (i ${div} 7) % 5 WHEN 0 THEN 'current' WHEN 1 THEN '1-30' WHEN 2 THEN '31-60' WHEN 3 THEN '61-90' ELSE '91+' END) AS bucket,
         (((i * 7919) % 100000) / 100.0)::DECIMAL(12, 2) AS outstanding,
         ((((i * 7919) % 100000) ${div} ${every > 0 ? `(CASE WHEN i % ${every} = 7 THEN 20 ELSE 5 END)` : '5'}) / 100.0)::DECIMAL(12, 2) AS provision
    FROM ${series}`;

/**
 * A table shaped like a real model's (the shape issue 43 measured from outside): `loan_id` primary key, a text, a
 * date and four numerics; `every` > 0: that loan's provision differs.
 */
const modelRowsOf = (every: number, series: string) => `
  SELECT i::BIGINT AS loan_id,
         'borrower ' || (i * 31 % 1000003)::TEXT AS borrower,
         (DATE '2015-01-01' + (i % 3650)::INTEGER) AS opened_on,
         (((i * 7919) % 10000000) / 100.0)::NUMERIC(14, 2) AS outstanding,
         ((((i * 7919) % 10000000) / ${every > 0 ? `(CASE WHEN i % ${every} = 7 THEN 20 ELSE 5 END)` : '5'}) / 100.0)::NUMERIC(14, 2) AS provision,
         ((i % 2000) / 10000.0 + 0.01)::NUMERIC(8, 5) AS rate,
         ((i * 13) % 3600000 / 100.0)::NUMERIC(14, 2) AS paid
    FROM ${series}`;

/** The real model's shape as V1 (bench.model_v1) and V2 with 0.1 % of rows differing (bench.model_v2_1). */
async function prepareModel(client: Client, series: string): Promise<void> {
  for (const [name, every] of [
    ['model_v1', 0],
    ['model_v2_1', 1000],
  ] as const) {
    await client.query(`CREATE TABLE bench.${name} AS ${modelRowsOf(every, series)}`);
    await client.query(`ALTER TABLE bench.${name} ADD PRIMARY KEY (loan_id)`);
  }
}

async function prepare(rows: number, url: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query('DROP SCHEMA IF EXISTS bench CASCADE; CREATE SCHEMA bench');
  const series = `generate_series(1::BIGINT, ${rows}) i`;
  await client.query(`CREATE TABLE bench.v1 AS ${rowsOf(0, series, '/')}`);
  await client.query('ALTER TABLE bench.v1 ADD PRIMARY KEY (loan_id)');
  for (const [name, every] of Object.entries(VARIANTS)) {
    await client.query(`CREATE TABLE bench.${name} AS ${rowsOf(every, series, '/')}`);
    await client.query(`ALTER TABLE bench.${name} ADD PRIMARY KEY (loan_id)`);
  }
  await prepareModel(client, series);
  await client.query('ANALYZE');
  await client.end();
  await withDiffEngine({ tempDirectory: path.join(dir, 'spill') }, async (session) => {
    for (const [name, every] of Object.entries(VARIANTS)) {
      const file = path.join(dir, `${name}.parquet`);
      await session.rows(
        `COPY (${rowsOf(every, `range(1, ${rows + 1}) t(i)`, '//')}) TO ${literal(file)} (FORMAT parquet)`,
      );
    }
  });
}

/** `V2TABLE`'s V1: the real model's shape has its own. */
const v1Of = (v2: string) => (v2.startsWith('model_') ? 'model_v1' : 'v1');

/** The columns a bare join compares, per shape. */
const columnsOf = (v2: string) =>
  v2.startsWith('model_')
    ? ['borrower', 'opened_on', 'outstanding', 'provision', 'rate', 'paid']
    : ['segment', 'bucket', 'outstanding', 'provision'];

/** A connection to `url`, with PostgreSQL's JIT off where `jit` says so (the issue measured both). */
async function connect(url: string, jit: string | undefined): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  if (jit === 'nojit') await client.query('SET jit = off');
  return client;
}

async function pushdown(url: string, v2: string, jit?: string): Promise<unknown> {
  const client = await connect(url, jit);
  try {
    const r = await diffInPostgres(client, {
      output: 'loans',
      dataset: 'bench',
      spec: SPEC,
      v1: { schema: 'bench', table: v1Of(v2) },
      v2: { schema: 'bench', table: v2 },
    });
    return { onlyV1: r.rows.onlyV1, onlyV2: r.rows.onlyV2, differing: r.rows.differing };
  } finally {
    await client.end();
  }
}

async function bare(url: string, v2: string, jit?: string): Promise<unknown> {
  const client = await connect(url, jit);
  try {
    const columns = columnsOf(v2);
    const differs = columns.map((c) => `a.${c} IS DISTINCT FROM b.${c}`).join(' OR ');
    const { rows } = await client.query(
      `SELECT count(*) FILTER (WHERE b.loan_id IS NULL) AS only_v1, count(*) FILTER (WHERE a.loan_id IS NULL) AS only_v2,
              count(*) FILTER (WHERE a.loan_id IS NOT NULL AND b.loan_id IS NOT NULL AND (${differs})) AS differing
         FROM bench.${v1Of(v2)} a FULL OUTER JOIN bench.${v2} b ON a.loan_id = b.loan_id`,
    );
    const row = rows[0] as Record<string, string>;
    return { onlyV1: Number(row.only_v1), onlyV2: Number(row.only_v2), differing: Number(row.differing) };
  } finally {
    await client.end();
  }
}

async function cross(url: string, parquet: string): Promise<unknown> {
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
  const workDir = path.join(path.dirname(parquet), `cross-${process.pid}`);
  try {
    await mkdir(workDir, { recursive: true });
    // DuckDB's memory as a worker sets it (CUTOVER_DIFF_MEMORY): 128 MB here, spilling past it to the work folder,
    // so that a diff where every row crosses stays within the issue's 600 MB (measured at 10M rows, 10 % differing:
    // 464 MB; 256 MB gave 611 MB; the worker's default is 1 GB).
    const memoryLimit = process.env.CUTOVER_DIFF_MEMORY ?? '128MB';
    const r = await withDiffEngine({ tempDirectory: workDir, memoryLimit }, (session) =>
      crossDiff(session, {
        output: 'loans',
        dataset: 'bench',
        spec: SPEC,
        v1: { kind: 'postgres', database: 'bench', client, table: { schema: 'bench', table: 'v1' } },
        v2: { kind: 'file', file: parquet, format: 'parquet' },
        workDir,
      }),
    );
    return { onlyV1: r.rows.onlyV1, onlyV2: r.rows.onlyV2, differing: r.rows.differing, transfer: r.transfer };
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end();
    // The leaves' rows and DuckDB's spill: a 10M-row table's take gigabytes.
    await rm(workDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const [command, a, b, c] = process.argv.slice(2);
  // pushdown and bare: `c` is `nojit` to turn PostgreSQL's JIT off.
  let answer: unknown;
  if (command === 'prepare') answer = await prepare(Number(a), b as string, c as string);
  else if (command === 'pushdown') answer = await pushdown(a as string, b as string, c);
  else if (command === 'bare') answer = await bare(a as string, b as string, c);
  else if (command === 'cross') answer = await cross(a as string, b as string);
  else throw new Error(`unknown command ${command}: prepare, pushdown, bare or cross`);
  process.stdout.write(`${JSON.stringify(answer ?? {})}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
