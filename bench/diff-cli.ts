/**
 * The three contenders of `npm run bench diff`, each run as a whole process:
 *
 *   diff-cli generate ROWS DIR                      → DIR/v1.csv, v2.csv, v1.parquet, v2.parquet (per-loan tables)
 *   diff-cli project FORMAT V1 V2 [MEMORY_LIMIT]    → the activity's code path (every count and the samples)
 *   diff-cli bare FORMAT V1 V2                      → DuckDB's bare FULL OUTER JOIN counting differing rows per column
 *   diff-cli map V1.csv V2.csv                      → a plain JavaScript Map join, as one writes it by hand
 *
 * Each prints one JSON line with its counts, so the bench can check that all three agree.
 */
import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DuckDBInstance } from '@duckdb/node-api';
import { diffOutput } from '../activities/diff';
import { literal, readerFor, withDiffEngine } from '../activities/diff-engine';
import type { OutputFormat, OutputSpec } from '../plan/schema';

const COMPARED = ['segment', 'origination_month', 'bucket', 'eligible', 'outstanding', 'provision'] as const;

/**
 * Two per-loan tables like the example's: about 1 % of rows differ (a bucket and its provision), 0.1 % are
 * missing on each side (every 1000th loan from V1, the next one from V2).
 */
async function generate(rows: number, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const table = (side: 'v1' | 'v2') => `
    SELECT 'L' || lpad(i::VARCHAR, 9, '0') AS loan_id,
      ['retail', 'sme', 'agri', 'micro'][1 + i % 4] AS segment,
      (2019 + i % 6)::VARCHAR || '-0' || (1 + i % 9)::VARCHAR AS origination_month,
      ${side === 'v2' ? "CASE WHEN i % 100 = 7 THEN '1-30' ELSE ['current', '1-30', '31-60', '61-90', '91+'][1 + (i // 7) % 5] END" : "['current', '1-30', '31-60', '61-90', '91+'][1 + (i // 7) % 5]"} AS bucket,
      i % 3 <> 0 AS eligible,
      round(100 + (i * 7919) % 100000 / 3.0, 2) AS outstanding,
      round((100 + (i * 7919) % 100000 / 3.0) * ${side === 'v2' ? 'CASE WHEN i % 100 = 7 THEN 0.05 ELSE 0.2 END' : '0.2'}, 2) AS provision
    FROM range(${rows}) t(i)
    WHERE i % 1000 <> ${side === 'v1' ? 0 : 1}`;
  for (const side of ['v1', 'v2'] as const) {
    await connection.run(`COPY (${table(side)}) TO ${literal(path.join(dir, `${side}.csv`))} (HEADER)`);
    await connection.run(`COPY (${table(side)}) TO ${literal(path.join(dir, `${side}.parquet`))} (FORMAT parquet)`);
  }
  connection.closeSync();
  instance.closeSync();
}

async function project(format: OutputFormat, v1: string, v2: string, memoryLimit?: string): Promise<unknown> {
  const spec: OutputSpec = {
    format,
    key: ['loan_id'],
    tolerances: { provision: { absolute: 0.006 } },
    ignore: [],
    maxDifferingRows: 0,
    maxMissingRows: 0,
    minRows: 1,
    sample: 20,
  };
  const result = await withDiffEngine(
    {
      tempDirectory: path.join(path.dirname(v1), `spill-${process.pid}`),
      threads: 2,
      ...(memoryLimit ? { memoryLimit } : {}),
    },
    (session) => diffOutput(session, { output: 'loans', dataset: 'bench', spec, v1File: v1, v2File: v2 }),
  );
  return {
    rows: result.rows,
    differingByColumn: Object.fromEntries(result.columns.map((c) => [c.column, c.differing + c.withinTolerance])),
    samples: result.samples.length,
  };
}

async function bare(format: OutputFormat, v1: string, v2: string): Promise<unknown> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const connection = await instance.connect();
  const counts = COMPARED.map((c) => `count(*) FILTER (WHERE a.${c} IS DISTINCT FROM b.${c}) AS ${c}`);
  const reader = await connection.runAndReadAll(
    `SELECT count(*) FILTER (WHERE a.loan_id IS NOT NULL AND b.loan_id IS NOT NULL) AS both_,
       count(*) FILTER (WHERE b.loan_id IS NULL) AS only1, count(*) FILTER (WHERE a.loan_id IS NULL) AS only2,
       ${counts.join(', ')}
     FROM ${readerFor(v1, format)} a FULL OUTER JOIN ${readerFor(v2, format)} b ON a.loan_id = b.loan_id`,
  );
  const row = reader.getRowObjectsJson()[0] as Record<string, string>;
  connection.closeSync();
  instance.closeSync();
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]));
}

/** The hand-written join: V1 into a Map by key (its line kept whole), then V2 streamed past it. */
async function mapJoin(v1: string, v2: string): Promise<unknown> {
  const lines = (file: string) => createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  const left = new Map<string, string>();
  let header = true;
  for await (const line of lines(v1)) {
    if (header) {
      header = false;
      continue;
    }
    const comma = line.indexOf(',');
    left.set(line.slice(0, comma), line.slice(comma + 1));
  }
  let both = 0;
  let only2 = 0;
  let differing = 0;
  header = true;
  for await (const line of lines(v2)) {
    if (header) {
      header = false;
      continue;
    }
    const comma = line.indexOf(',');
    const key = line.slice(0, comma);
    const other = left.get(key);
    if (other === undefined) {
      only2++;
      continue;
    }
    both++;
    left.delete(key);
    const a = other.split(',');
    const b = line.slice(comma + 1).split(',');
    if (a.some((value, i) => (i >= 4 ? Number(value) !== Number(b[i]) : value !== b[i]))) differing++;
  }
  return { both_: both, only1: left.size, only2, differing };
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  let out: unknown;
  if (command === 'generate') await generate(Number(args[0]), args[1] as string);
  else if (command === 'project')
    out = await project(args[0] as OutputFormat, args[1] as string, args[2] as string, args[3]);
  else if (command === 'bare') out = await bare(args[0] as OutputFormat, args[1] as string, args[2] as string);
  else if (command === 'map') out = await mapJoin(args[0] as string, args[1] as string);
  else throw new Error('usage: diff-cli generate|project|bare|map …');
  if (out !== undefined) process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`diff-cli: ${(err as Error).message}\n`);
  process.exit(1);
});
