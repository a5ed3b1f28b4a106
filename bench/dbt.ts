/**
 * `npm run bench dbt`: what diffing every model of a dbt project in place adds to the two builds a cutover runs
 * anyway. A project of BENCH_DBT_MODELS models (default 300) is generated over jaffle shop's seeds scaled by
 * BENCH_DBT_SCALE (default 1000: 100,000 customers, 99,000 orders, 113,000 payments): jaffle shop's own five
 * models, then generated ones, each keyed (unique + not_null) and reading jaffle shop's models or an earlier
 * generated one. V2 changes one model near the root. Each run builds V1 and V2 with `dbt build` on DuckDB (seeds,
 * models and tests), then diffs every model of V2 against V1's (`select: 'all'`, the worst case) where they live.
 * Median of BENCH_RUNS (default 3). Goal (#43): the diffs add ≤ 25 % to the two builds' time.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Table from 'cli-table3';
import { median } from 'simple-statistics';
import { diffModelsInDuckdb } from '../activities/dbt-models';
import { runDbt } from '../dbt/run';
import { ensureDbt, projectRoot } from '../toolchain/tools';
import { measure, save } from './common';

const JAFFLE = path.resolve(projectRoot(), '..', 'shared', 'dbt', 'jaffle-shop-classic');

/** jaffle shop's seed `file` with its rows repeated `scale` times under fresh ids (each id column offset per copy). */
function scaledSeed(file: string, scale: number, idColumns: string[]): string {
  const [header, ...rows] = readFileSync(file, 'utf8').trim().split(/\r?\n/);
  const columns = (header as string).split(',');
  const ids = idColumns.map((c) => columns.indexOf(c));
  const out = [header as string];
  for (let copy = 0; copy < scale; copy++) {
    for (const row of rows) {
      const cells = row.split(',');
      for (const i of ids) cells[i] = String(Number(cells[i]) + copy * 1000);
      out.push(cells.join(','));
    }
  }
  return `${out.join('\n')}\n`;
}

/** The generated project in `dir`: jaffle shop's files, scaled seeds, `models` models in all (plan init's figure uses it too). */
export function generateProject(dir: string, models: number, scale: number, changed: boolean): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'models', 'staging'), { recursive: true });
  mkdirSync(path.join(dir, 'models', 'generated'), { recursive: true });
  mkdirSync(path.join(dir, 'seeds'), { recursive: true });
  for (const file of [
    'dbt_project.yml',
    'models/customers.sql',
    'models/orders.sql',
    'models/schema.yml',
    'models/docs.md',
  ])
    copyFileSync(path.join(JAFFLE, file), path.join(dir, file));
  for (const file of ['schema.yml', 'stg_customers.sql', 'stg_orders.sql', 'stg_payments.sql'])
    copyFileSync(path.join(JAFFLE, 'models', 'staging', file), path.join(dir, 'models', 'staging', file));
  const seeds: Record<string, string[]> = {
    'raw_customers.csv': ['id'],
    'raw_orders.csv': ['id', 'user_id'],
    'raw_payments.csv': ['id', 'order_id'],
  };
  for (const [file, ids] of Object.entries(seeds))
    writeFileSync(path.join(dir, 'seeds', file), scaledSeed(path.join(JAFFLE, 'seeds', file), scale, ids));
  const yaml: string[] = ['version: 2', 'models:'];
  for (let i = 0; i < models - 5; i++) {
    const name = `m_${String(i).padStart(4, '0')}`;
    const byCustomer = i % 2 === 0;
    // Every tenth model reads the one generated before it of its kind, for lineage some levels deep.
    const from = i >= 2 && i % 10 === 0 ? `m_${String(i - 2).padStart(4, '0')}` : byCustomer ? 'customers' : 'orders';
    const key = byCustomer ? 'customer_id' : 'order_id';
    const sql = from.startsWith('m_')
      ? `select customer_id, score + ${i} as score, weighted * ${(i % 7) + 1} as weighted from {{ ref('${from}') }}`
      : byCustomer
        ? `select customer_id, coalesce(number_of_orders, 0) + ${i} as score, coalesce(customer_lifetime_value, 0) * ${(i % 7) + 1} as weighted from {{ ref('${from}') }}`
        : `select order_id, customer_id, coalesce(amount, 0) * ${(i % 5) + 1} as amount from {{ ref('${from}') }}`;
    // V2 changes the first generated model (and so what the models built on it read).
    const body = changed && i === 0 ? sql.replace(' + 0 as score', ' + 1 as score') : sql;
    writeFileSync(path.join(dir, 'models', 'generated', `${name}.sql`), `${body}\n`);
    yaml.push(`  - name: ${name}`, '    columns:', `      - name: ${key}`, '        tests: [unique, not_null]');
  }
  writeFileSync(path.join(dir, 'models', 'generated', 'schema.yml'), `${yaml.join('\n')}\n`);
}

export async function benchDbt(): Promise<void> {
  const models = Number(process.env.BENCH_DBT_MODELS ?? 300);
  const scale = Number(process.env.BENCH_DBT_SCALE ?? 1000);
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const python = ensureDbt((line) => process.stderr.write(`${line}\n`));
  const work = path.join(projectRoot(), '.data', 'bench', 'dbt');
  const projects = { v1: path.join(work, 'v1-project'), v2: path.join(work, 'v2-project') };
  generateProject(projects.v1, models, scale, false);
  generateProject(projects.v2, models, scale, true);
  const samples: { buildV1: number; buildV2: number; diff: number; models: number; failed: string[] }[] = [];
  for (let run = 0; run < runs; run++) {
    const files = { v1: path.join(work, `v1_${run}.duckdb`), v2: path.join(work, `v2_${run}.duckdb`) };
    const built: Record<'v1' | 'v2', Awaited<ReturnType<typeof runDbt>>> = {} as never;
    const ms: Record<'v1' | 'v2', number> = { v1: 0, v2: 0 };
    // Alternate which version builds first: the second build of a run may find the disk's cache warm.
    for (const side of run % 2 === 0 ? (['v1', 'v2'] as const) : (['v2', 'v1'] as const)) {
      rmSync(files[side], { force: true });
      const started = performance.now();
      built[side] = await runDbt(['build'], {
        python,
        project: projects[side],
        runDir: path.join(work, `run-${side}-${run}`),
        target: { type: 'duckdb', path: files[side] },
        threads: 2,
      });
      ms[side] = performance.now() - started;
      if (built[side].code !== 0)
        throw new Error(`dbt build of ${side} failed: ${built[side].steps.find((s) => !s.ok)?.message}`);
    }
    const started = performance.now();
    const shadow = await diffModelsInDuckdb(
      { v1: built.v1.manifest, v2: built.v2.manifest, v1File: files.v1, v2File: files.v2, select: 'all' },
      { tempDirectory: path.join(work, `spill-${run}`), threads: 2 },
    );
    const diff = performance.now() - started;
    samples.push({
      buildV1: ms.v1,
      buildV2: ms.v2,
      diff,
      models: shadow.models.length,
      failed: shadow.models.filter((m) => m.verdict === 'fail').map((m) => m.model),
    });
    process.stderr.write(
      `run ${run + 1}/${runs}: builds ${(ms.v1 / 1000).toFixed(1)} s + ${(ms.v2 / 1000).toFixed(1)} s, diff of ${shadow.models.length} models ${(diff / 1000).toFixed(1)} s\n`,
    );
  }
  const builds = median(samples.map((s) => s.buildV1 + s.buildV2));
  const diffs = median(samples.map((s) => s.diff));
  const ratio = median(samples.map((s) => s.diff / (s.buildV1 + s.buildV2)));
  const table = new Table({
    head: ['models', 'seed rows', 'V1 + V2 dbt build', 'diff of every model', 'diff / builds', 'models failing'],
  });
  table.push([
    String(samples[0]?.models ?? 0),
    String(313 * scale),
    `${(builds / 1000).toFixed(1)} s`,
    `${(diffs / 1000).toFixed(1)} s`,
    `${(ratio * 100).toFixed(1)} %`,
    (samples[0]?.failed ?? []).join(', ') || 'none',
  ]);
  console.log(
    `\ndbt: every model diffed in place on DuckDB against two dbt builds (median of ${runs})\n${table.toString()}`,
  );
  const planInit = await benchPlanInit(work, Number(process.env.BENCH_DBT_INIT_MODELS ?? 1000), runs);
  await save('dbt', {
    models,
    scale,
    runs,
    samples,
    medianBuildsMs: builds,
    medianDiffMs: diffs,
    medianRatio: ratio,
    planInit,
  });
}

/**
 * `cutover plan init --dbt` of a generated project of `models` models (one changed), as a user runs it: the built
 * CLI, timed from outside by /usr/bin/time. Goal (#43): < 10 s for 1,000 models.
 */
async function benchPlanInit(work: string, models: number, runs: number) {
  const dir = path.join(work, 'init');
  generateProject(path.join(dir, 'v1'), models, 1, false);
  generateProject(path.join(dir, 'v2'), models, 1, true);
  const cli = path.join(projectRoot(), 'dist', 'client', 'cli.js');
  const ms: number[] = [];
  for (let run = 0; run < runs; run++) {
    const out = path.join(dir, `plan-${run}.yaml`);
    rmSync(out, { force: true });
    const args = [
      'plan',
      'init',
      '--dbt',
      path.join(dir, 'v1'),
      '--v1',
      path.join(dir, 'v1'),
      '--v2',
      path.join(dir, 'v2'),
    ];
    ms.push((await measure([process.execPath, cli, ...args, '--out', out])).wallMs);
  }
  const table = new Table({ head: ['models', 'plan init --dbt (median)', 'min–max', 'goal'] });
  table.push([
    String(models),
    `${(median(ms) / 1000).toFixed(2)} s`,
    `${(Math.min(...ms) / 1000).toFixed(2)}–${(Math.max(...ms) / 1000).toFixed(2)} s`,
    '< 10 s',
  ]);
  console.log(`\ndbt: cutover plan init --dbt of a generated project\n${table.toString()}`);
  return { models, runs, ms, medianMs: median(ms) };
}
