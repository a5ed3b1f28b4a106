/**
 * The example's V1 writing to its warehouse (a real PostgreSQL server of this file's own) and V2 writing Parquet,
 * through the built CLI: V1 replaces its tables in one transaction (a failed run leaves the last ones whole), the
 * workers' login reads them and cannot write; V2's Parquet files hold what its CSV files hold; and the example's
 * daily reconciliation diffs V1's table against V2's file, crossing only the rows of differing segments.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Client } from 'pg';
import { createActivities } from '../../../activities';
import { withDiffEngine } from '../../../activities/diff-engine';
import { WAREHOUSE_ENV } from '../../../examples/portfolio-kpi/warehouse';
import { loadPlan } from '../../../plan/load';
import { planSchema } from '../../../plan/schema';
import type { ReconcileResult } from '../../../shapes/phases';
import { projectRoot } from '../../../toolchain/tools';
import { tempDir } from '../../helpers/harness';
import { exampleWarehouse } from '../../helpers/warehouse';

const exec = promisify(execFile);
const KPI = path.join(projectRoot(), 'dist', 'examples', 'portfolio-kpi', 'cli.js');
const dir = tempDir('example-warehouse-');
const warehouse = exampleWarehouse();

const v1 = (tape: string, env: NodeJS.ProcessEnv = process.env) =>
  exec(
    process.execPath,
    [
      KPI,
      '--engine',
      'v1',
      '--input',
      tape,
      '--loans-out',
      'postgres:legacy.loan_kpis',
      '--segments-out',
      'postgres:legacy.segment_kpis',
    ],
    { env },
  );

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

const tape = (rows: number, seed: number) => {
  const file = path.join(dir, `tape-${rows}-${seed}.csv`);
  return exec(process.execPath, [KPI, 'generate', '--rows', String(rows), '--seed', String(seed), '--out', file]).then(
    () => file,
  );
};

test("V1 replaces its tables in one transaction: a failed run leaves the last ones whole; the workers' login only reads", async () => {
  await v1(await tape(3000, 1));
  const reader = warehouse.databases.warehouse as string;
  const count = async () =>
    (await query<{ n: string }>(reader, 'SELECT count(*) AS n FROM legacy.loan_kpis'))[0]?.n ?? '';
  expect(await count()).toBe('3000');
  const segments = await query<{ loans: number }>(reader, 'SELECT sum(loans)::int AS loans FROM legacy.segment_kpis');
  expect(segments[0]?.loans).toBe(3000);

  // A second run replaces the rows (not adds to them).
  const bigger = await tape(5000, 2);
  await v1(bigger);
  expect(await count()).toBe('5000');

  // A bad row near the end: V1 fails naming it, and the table keeps the last good run's rows, not half of these.
  const bad = path.join(dir, 'bad.csv');
  copyFileSync(bigger, bad);
  appendFileSync(bad, 'LBAD,"Okafor, N.",retail,12x.50,0,10.00,10.00,1,2024-01-01\n');
  const failed = await v1(bad).then(
    () => undefined,
    (e: { code: number; stderr: string }) => e,
  );
  expect(failed?.code).toBe(1);
  expect(failed?.stderr).toMatch(/row 5002.*outstanding_principal/);
  expect(await count()).toBe('5000');

  // The workers' login: read-only sessions, and no privilege to write even when it asks for a writable one.
  await expect(query(reader, 'DELETE FROM legacy.loan_kpis')).rejects.toThrow(/read-only transaction/);
  await expect(query(reader, 'BEGIN READ WRITE; DELETE FROM legacy.loan_kpis; COMMIT')).rejects.toThrow(
    /permission denied/,
  );
  expect(await count()).toBe('5000');

  // Without its login V1 says what is missing.
  const { [WAREHOUSE_ENV]: _url, ...without } = process.env;
  const unset = await v1(bigger, without).then(
    () => undefined,
    (e: { stderr: string }) => e,
  );
  expect(unset?.stderr).toMatch(/PORTFOLIO_KPI_WAREHOUSE is not set/);
}, 120_000);

test("V2's Parquet files hold the rows of its CSV files, with amounts as numbers and eligible as a boolean", async () => {
  const input = await tape(10_000, 3);
  const out = (ext: string) => [
    '--loans-out',
    path.join(dir, `loans.${ext}`),
    '--segments-out',
    path.join(dir, `segments.${ext}`),
  ];
  await exec(process.execPath, [KPI, '--engine', 'v2', '--input', input, ...out('parquet')]);
  await exec(process.execPath, [KPI, '--engine', 'v2', '--input', input, ...out('csv')]);
  await withDiffEngine({ tempDirectory: path.join(dir, 'spill') }, async (session) => {
    for (const table of ['loans', 'segments']) {
      const parquet = `read_parquet('${path.join(dir, `${table}.parquet`)}')`;
      const csv = `read_csv('${path.join(dir, `${table}.csv`)}', header = true)`;
      const [row] = await session.rows(
        `SELECT (SELECT count(*) FROM ${parquet}) AS rows,
                (SELECT count(*) FROM (SELECT * FROM ${parquet} EXCEPT SELECT * FROM ${csv})) AS differing`,
      );
      expect(Number(row?.rows)).toBeGreaterThan(table === 'loans' ? 9999 : 100);
      if (table === 'loans') expect(Number(row?.rows)).toBe(10_000);
      expect(Number(row?.differing)).toBe(0);
    }
    const types = await session.rows(`DESCRIBE SELECT * FROM read_parquet('${path.join(dir, 'loans.parquet')}')`);
    expect(Object.fromEntries(types.map((t) => [t.column_name, t.column_type]))).toMatchObject({
      loan_id: 'VARCHAR',
      eligible: 'BOOLEAN',
      outstanding: 'DOUBLE',
      provision: 'DOUBLE',
    });
  });
}, 120_000);

test("the example's daily reconciliation diffs V1's warehouse table against V2's Parquet file, across the two", async () => {
  const example = await loadPlan(path.join(projectRoot(), 'examples', 'portfolio-kpi', 'plan.yaml'));
  const plan = planSchema.parse({
    ...example,
    production: {
      ...example.production,
      reconcile: { ...example.production.reconcile, dataset: { generate: { rows: 20000, seed: 7 } } },
    },
  });
  const result = (await new MockActivityEnvironment().run(
    createActivities({ dataDir: path.join(dir, 'data'), databases: warehouse.databases }).reconcile,
    { workflowId: 'example-reconcile', release: plan.release, key: 'example-reconcile/day-1', plan, day: 1 },
  )) as ReconcileResult;
  expect(result.failures).toEqual([]);
  const loans = result.outputs?.find((o) => o.output === 'loans');
  expect(loans).toMatchObject({
    verdict: 'pass',
    files: {
      v1: 'postgres:warehouse:legacy.loan_kpis',
      v2: expect.stringMatching(/reconcile\/day-1\/v2\/loans\.parquet$/),
    },
    rows: { v1: 20000, v2: 20000, both: 20000, onlyV1: 0, onlyV2: 0, differing: 0 },
  });
  // The rows of segments whose checksums differ (a float rounding the other way at 2 decimals) cross; most do not.
  expect(loans?.transfer?.of).toBe(40000);
  expect(loans?.transfer?.rows).toBeLessThan(0.5 * 40000);
}, 120_000);
