/**
 * `npm run bench diff`: the keyed output diff (the activity's code path, with every count and the samples)
 * against DuckDB's bare FULL OUTER JOIN counting differing rows per compared column (the floor: it reads every
 * compared column, as the diff must) and against a plain JavaScript Map join of the same CSVs. Two generated
 * per-loan tables per size (about 1 % of rows differing, 0.1 % missing on each side), CSV and Parquet, whole
 * processes under /usr/bin/time, alternating, median of BENCH_RUNS (default 5); then the largest size again
 * with a 256 MB DuckDB memory limit, which must complete by spilling.
 *
 * BENCH_DIFF_ROWS (default 1000000,10000000) sets the sizes.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import Table from 'cli-table3';
import { median } from 'simple-statistics';
import { projectRoot } from '../toolchain/tools';
import { measure, save, type Measured } from './common';

const ROOT = projectRoot();
const CLI = path.join(ROOT, 'dist', 'bench', 'diff-cli.js');
const DATA = path.join(ROOT, '.data', 'bench', 'diff');

interface Contender {
  name: string;
  format: 'csv' | 'parquet';
  argv: (dir: string) => string[];
}

const node = (...args: string[]) => [process.execPath, CLI, ...args];
const files = (dir: string, format: string) => [path.join(dir, `v1.${format}`), path.join(dir, `v2.${format}`)];

const CONTENDERS: Contender[] = [
  { name: 'cutover diff', format: 'csv', argv: (d) => node('project', 'csv', ...files(d, 'csv')) },
  { name: 'DuckDB bare join', format: 'csv', argv: (d) => node('bare', 'csv', ...files(d, 'csv')) },
  {
    name: 'JS Map join',
    format: 'csv',
    // The Map of 10M lines needs more than V8's default heap.
    argv: (d) => [process.execPath, '--max-old-space-size=12000', CLI, 'map', ...files(d, 'csv')],
  },
  { name: 'cutover diff', format: 'parquet', argv: (d) => node('project', 'parquet', ...files(d, 'parquet')) },
  { name: 'DuckDB bare join', format: 'parquet', argv: (d) => node('bare', 'parquet', ...files(d, 'parquet')) },
];

export async function benchDiff(): Promise<void> {
  const sizes = (process.env.BENCH_DIFF_ROWS ?? '1000000,10000000').split(',').map(Number);
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const table = new Table({
    head: ['rows', 'format', 'contender', 'median wall', 'min–max', 'rows/s', 'peak RSS', 'vs bare DuckDB'],
  });
  const results: Record<string, unknown>[] = [];
  for (const rows of sizes) {
    const dir = path.join(DATA, String(rows));
    if (!existsSync(path.join(dir, 'v2.parquet'))) {
      process.stderr.write(`generating two ${rows}-row outputs…\n`);
      await measure(node('generate', String(rows), dir));
    }
    const samples = new Map<Contender, Measured[]>(CONTENDERS.map((c) => [c, []]));
    // Alternate, so that drift in the machine's load spreads over every contender.
    for (let i = 0; i < runs; i++) {
      for (const contender of CONTENDERS) samples.get(contender)?.push(await measure(contender.argv(dir)));
    }
    // All three must have found the same rows: a fast wrong answer is no answer.
    const answers = CONTENDERS.map(
      (c) => JSON.parse((samples.get(c) as Measured[])[0]?.stdout ?? '{}') as Record<string, unknown>,
    );
    for (const contender of CONTENDERS) {
      const walls = (samples.get(contender) as Measured[]).map((m) => m.wallMs);
      const bare = CONTENDERS.find((c) => c.format === contender.format && c.name === 'DuckDB bare join') as Contender;
      const bareMedian = median((samples.get(bare) as Measured[]).map((m) => m.wallMs));
      const med = median(walls);
      const rss = Math.max(...(samples.get(contender) as Measured[]).map((m) => m.peakRssMb));
      const row = {
        rows,
        format: contender.format,
        contender: contender.name,
        runs,
        medianMs: med,
        minMs: Math.min(...walls),
        maxMs: Math.max(...walls),
        rowsPerSecond: (2 * rows) / (med / 1000),
        peakRssMb: rss,
        ratioToBare: med / bareMedian,
        answer: answers[CONTENDERS.indexOf(contender)],
      };
      results.push(row);
      table.push([
        rows.toLocaleString('en'),
        contender.format,
        contender.name,
        `${(med / 1000).toFixed(2)} s`,
        `${(row.minMs / 1000).toFixed(2)}–${(row.maxMs / 1000).toFixed(2)}`,
        Math.round(row.rowsPerSecond).toLocaleString('en'),
        `${rss.toFixed(0)} MB`,
        `${row.ratioToBare.toFixed(2)}×`,
      ]);
    }
  }
  // The largest size with a 256 MB DuckDB memory limit: it must spill rather than fail.
  const largest = sizes[sizes.length - 1] as number;
  const dir = path.join(DATA, String(largest));
  const bounded: Record<string, unknown>[] = [];
  for (const format of ['csv', 'parquet'] as const) {
    const m = await measure(node('project', format, ...files(dir, format), '256MB'));
    bounded.push({
      rows: largest,
      format,
      memoryLimit: '256MB',
      wallMs: m.wallMs,
      peakRssMb: m.peakRssMb,
      answer: JSON.parse(m.stdout),
    });
    table.push([
      largest.toLocaleString('en'),
      format,
      'cutover diff, memory_limit 256MB',
      `${(m.wallMs / 1000).toFixed(2)} s`,
      '',
      Math.round((2 * largest) / (m.wallMs / 1000)).toLocaleString('en'),
      `${m.peakRssMb.toFixed(0)} MB`,
      '',
    ]);
  }
  console.log(
    `\nKeyed diff: whole process each, alternating, median of ${runs} (rows/s counts both sides)\n${table.toString()}`,
  );
  await save('diff', { runs, results, bounded });
}
