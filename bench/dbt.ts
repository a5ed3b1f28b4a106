/**
 * `npm run bench dbt`: what diffing every model of a dbt project in place adds to the two builds a cutover runs
 * anyway. A project of BENCH_DBT_MODELS models (default 300) is generated over jaffle shop's seeds scaled by
 * BENCH_DBT_SCALE (default 1000: 100,000 customers, 99,000 orders, 113,000 payments): jaffle shop's own five
 * models, then generated ones, each keyed (unique + not_null) and reading jaffle shop's models or an earlier
 * generated one. V2 changes one model near the root. Each run builds V1 and V2 with `dbt build` on DuckDB (seeds,
 * models and tests), then diffs every model of V2 against V1's (`select: 'all'`, the worst case) where they live.
 * Then the noise pass a plan init's plan runs (#48): V1 built again, only the diffed models (`state:modified+`) and
 * what they read, and those models diffed V1 against V1 and V1 against V2. Median of BENCH_RUNS (default 3). Goal
 * (#43): the diffs add ≤ 25 % to the two builds' time; (#48) the A/A build's time counts, or the noise pass is
 * cheaper than a full build.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Table from 'cli-table3';
import { median } from 'simple-statistics';
import { diffModelsInDuckdb, selectModels } from '../activities/dbt-models';
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

/** One run's figures: the two builds, every model's diff, and the noise pass (V1 again, then the A/A diffs). */
interface DbtSample {
  buildV1: number;
  buildV2: number;
  diff: number;
  models: number;
  failed: string[];
  /** V1 built again: the models plan init diffs (state:modified+) and what they read, as its noise run does. */
  aaBuild: number;
  /** The models plan init diffs, each V1 against V1 first and then V1 against V2. */
  noiseDiff: number;
  noiseModels: number;
}

interface BenchDbtSetup {
  python: string;
  work: string;
  projects: Record<'v1' | 'v2', string>;
}

/** `project` built with `dbt build` into `file` (removed first), its time; a failed build stops the bench. */
async function timedBuild(setup: BenchDbtSetup, project: string, file: string, select?: string[]) {
  rmSync(file, { force: true });
  const started = performance.now();
  const built = await runDbt(['build'], {
    python: setup.python,
    project,
    runDir: path.join(setup.work, `run-${path.basename(file, '.duckdb')}`),
    target: { type: 'duckdb', path: file },
    threads: 2,
    ...(select ? { select } : {}),
  });
  const ms = performance.now() - started;
  if (built.code !== 0) throw new Error(`dbt build of ${file} failed: ${built.steps.find((s) => !s.ok)?.message}`);
  return { built, ms };
}

/** One run: V1 and V2 built (alternating which goes first), every model diffed, then the noise pass. */
async function dbtRun(setup: BenchDbtSetup, run: number): Promise<DbtSample> {
  const { work, projects } = setup;
  const files = {
    v1: path.join(work, `v1_${run}.duckdb`),
    v2: path.join(work, `v2_${run}.duckdb`),
    aa: path.join(work, `aa_${run}.duckdb`),
  };
  const built = {} as Record<'v1' | 'v2', Awaited<ReturnType<typeof timedBuild>>>;
  // Alternate which version builds first: the second build of a run may find the disk's cache warm.
  for (const side of run % 2 === 0 ? (['v1', 'v2'] as const) : (['v2', 'v1'] as const))
    built[side] = await timedBuild(setup, projects[side], files[side]);
  const manifests = { v1: built.v1.built.manifest, v2: built.v2.built.manifest };
  const engine = (name: string) => ({ tempDirectory: path.join(work, `spill-${name}-${run}`), threads: 2 });
  let started = performance.now();
  const shadow = await diffModelsInDuckdb(
    { ...manifests, v1File: files.v1, v2File: files.v2, select: 'all' },
    engine('all'),
  );
  const diff = performance.now() - started;
  // The noise pass as plan init writes it: V1 again, only the diffed models and what they read.
  const selected = selectModels(manifests).map((p) => `+${p.model.name}`);
  const aa = await timedBuild(setup, projects.v1, files.aa, selected);
  started = performance.now();
  const noisy = await diffModelsInDuckdb(
    { ...manifests, aa: aa.built.manifest, v1File: files.v1, v2File: files.v2, aaFile: files.aa },
    engine('aa'),
  );
  const noiseDiff = performance.now() - started;
  process.stderr.write(
    `run ${run + 1}: builds ${(built.v1.ms / 1000).toFixed(1)} s + ${(built.v2.ms / 1000).toFixed(1)} s, diff of ${shadow.models.length} models ${(diff / 1000).toFixed(1)} s; noise pass ${(aa.ms / 1000).toFixed(1)} s + ${(noiseDiff / 1000).toFixed(1)} s\n`,
  );
  return {
    buildV1: built.v1.ms,
    buildV2: built.v2.ms,
    diff,
    models: shadow.models.length,
    failed: shadow.models.filter((m) => m.verdict === 'fail').map((m) => m.model),
    aaBuild: aa.ms,
    noiseDiff,
    noiseModels: noisy.models.length,
  };
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
  const samples: DbtSample[] = [];
  for (let run = 0; run < runs; run++) samples.push(await dbtRun({ python, work, projects }, run));
  const builds = median(samples.map((s) => s.buildV1 + s.buildV2));
  const diffs = median(samples.map((s) => s.diff));
  const ratio = median(samples.map((s) => s.diff / (s.buildV1 + s.buildV2)));
  const noiseRatio = median(samples.map((s) => (s.aaBuild + s.noiseDiff) / (s.buildV1 + s.buildV2)));
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const table = new Table({
    head: ['models', 'seed rows', 'V1 + V2 dbt build', 'diff of every model', 'diff / builds', 'models failing'],
  });
  table.push([
    String(samples[0]?.models ?? 0),
    String(313 * scale),
    seconds(builds),
    seconds(diffs),
    `${(ratio * 100).toFixed(1)} %`,
    (samples[0]?.failed ?? []).join(', ') || 'none',
  ]);
  const noise = new Table({
    head: ['models diffed (modified+)', 'V1 built again (A/A)', 'A/A + V1↔V2 diffs', '(A/A build + diffs) / builds'],
  });
  noise.push([
    String(samples[0]?.noiseModels ?? 0),
    seconds(median(samples.map((s) => s.aaBuild))),
    seconds(median(samples.map((s) => s.noiseDiff))),
    `${(noiseRatio * 100).toFixed(1)} %`,
  ]);
  console.log(
    `\ndbt: every model diffed in place on DuckDB against two dbt builds (median of ${runs})\n${table.toString()}\n\nthe noise pass plan init writes (median of ${runs})\n${noise.toString()}`,
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
    medianNoiseRatio: noiseRatio,
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
