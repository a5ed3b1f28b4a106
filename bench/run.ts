/**
 * `npm run bench [name…]`: benchmarks, each printing a table and writing JSON under bench/results/.
 *
 *   kpi     V1, V2 and DuckDB on the same tapes (BENCH_ROWS, default 100000,1000000,10000000), whole
 *           processes, alternating, median of BENCH_RUNS (default 5): wall time, rows/s, peak RSS, and
 *           V2's agreement with DuckDB.
 *   stress  the stress phase's own figures for V1 and V2 against /usr/bin/time on the same commands, in the same
 *           run; the example's stress phase with its comparison against V2 alone.
 *   diff    the keyed output diff against DuckDB's bare join and a hand-written Map join (bench/diff.ts).
 *   db-diff output tables in PostgreSQL: cutover's pushed-down and cross-database diffs against reladiff (bench/db-diff.ts).
 *   dbt     every model of a generated dbt project diffed in place against the two dbt builds (bench/dbt.ts).
 *   what-if cutover what-if over 100 completed cutovers on the dev server (bench/orchestration.ts).
 *   signoff, overhead, layout, rollback, concurrent, gate, history, worker-start: the orchestration (bench/orchestration.ts).
 *   example-stress  the example's stress phase BENCH_RUNS times (10) beside BENCH_SPINNERS busy processes (2).
 *   approve the approval app in chromium: click on Approve → the gate's answer shown, and the cutover page (bench/approve.ts).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import Table from 'cli-table3';
import { median, mean } from 'simple-statistics';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities';
import type { StressResult } from '../shapes/phases';
import { generateTape } from '../examples/portfolio-kpi/generate';
import { loadPlan } from '../plan/load';
import { withFileOutputs } from '../examples/portfolio-kpi/file-outputs';
import { planSchema } from '../plan/schema';
import { projectRoot } from '../toolchain/tools';
import { measure, save, TIME, type Measured } from './common';
import { benchApprove } from './approve';
import { benchDiff } from './diff';
import { benchDbDiff } from './db-diff';
import { benchDbt } from './dbt';
import { benchExampleStress } from './example-stress';
import {
  benchConcurrent,
  benchGate,
  benchHistory,
  benchOverhead,
  benchLayout,
  benchRollback,
  benchSignoff,
  benchWhatIf,
  benchWorkerStart,
} from './orchestration';

const ROOT = projectRoot();
const DATA = path.join(ROOT, '.data', 'bench');
const KPI = path.join(ROOT, 'dist', 'examples', 'portfolio-kpi', 'cli.js');
const DUCK = path.join(ROOT, 'dist', 'bench', 'duckdb-kpi.js');
async function tapeOf(rows: number): Promise<string> {
  await mkdir(DATA, { recursive: true });
  const file = path.join(DATA, `tape-${rows}.csv`);
  if (!existsSync(file)) {
    process.stderr.write(`generating ${rows} rows…\n`);
    await generateTape(rows, 20261125, file);
  }
  return file;
}

async function benchKpi(): Promise<void> {
  const sizes = (process.env.BENCH_ROWS ?? '100000,1000000,10000000').split(',').map(Number);
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const engines: [string, (file: string) => string[]][] = [
    ['v2', (f) => [process.execPath, KPI, '--engine', 'v2', '--input', f]],
    ['v2-1thread', (f) => [process.execPath, KPI, '--engine', 'v2', '--threads', '1', '--input', f]],
    // Two threads whatever the size (by default V2 splits only files of 128 MiB and more).
    ['v2-2threads', (f) => [process.execPath, KPI, '--engine', 'v2', '--parallel-min-mb', '1', '--input', f]],
    ['duckdb', (f) => [process.execPath, DUCK, f]],
    ['v1', (f) => [process.execPath, KPI, '--engine', 'v1', '--input', f]],
  ];
  const rows: Record<string, unknown>[] = [];
  const table = new Table({
    head: ['rows', 'engine', 'median wall', 'min–max', 'rows/s', 'µs/row', 'peak RSS', 'vs DuckDB'],
  });
  for (const size of sizes) {
    const file = await tapeOf(size);
    const samples: Record<string, Measured[]> = Object.fromEntries(engines.map(([name]) => [name, [] as Measured[]]));
    // Alternate the engines so that drift in the machine's load spreads over all of them.
    for (let i = 0; i < runs; i++) {
      for (const [name, argv] of engines) samples[name]?.push(await measure(argv(file)));
    }
    const duckMedian = median((samples.duckdb ?? []).map((s) => s.wallMs));
    const outputs: Record<string, Record<string, number>> = {};
    for (const [name] of engines) {
      const s = samples[name] as Measured[];
      const walls = s.map((m) => m.wallMs);
      const med = median(walls);
      const rss = Math.max(...s.map((m) => m.peakRssMb));
      outputs[name] = (JSON.parse((s[0] as Measured).stdout) as { metrics: Record<string, number> }).metrics;
      const row = {
        rows: size,
        engine: name,
        runs,
        medianMs: med,
        minMs: Math.min(...walls),
        maxMs: Math.max(...walls),
        rowsPerSecond: size / (med / 1000),
        usPerRow: (med * 1000) / size,
        peakRssMb: rss,
        ratioToDuckdb: med / duckMedian,
      };
      rows.push(row);
      table.push([
        size.toLocaleString('en'),
        name,
        `${med.toFixed(0)} ms`,
        `${row.minMs.toFixed(0)}–${row.maxMs.toFixed(0)}`,
        Math.round(row.rowsPerSecond).toLocaleString('en'),
        row.usPerRow.toFixed(3),
        `${rss.toFixed(0)} MB`,
        `${row.ratioToDuckdb.toFixed(2)}×`,
      ]);
    }
    const agreement = Object.keys(outputs.duckdb ?? {})
      .filter((m) => m !== 'PortfolioHealth')
      .map((m) => {
        const d = (outputs.duckdb as Record<string, number>)[m] as number;
        const v = (outputs.v2 as Record<string, number>)[m] as number;
        return { metric: m, relative: d === 0 ? Math.abs(v) : Math.abs(v - d) / Math.abs(d) };
      });
    const worst = agreement.reduce((a, b) => (b.relative > a.relative ? b : a), { metric: '', relative: 0 });
    rows.push({ rows: size, agreement, worstRelativeDifference: worst });
    table.push([
      {
        colSpan: 8,
        content: `V2 vs DuckDB at ${size.toLocaleString('en')} rows: largest relative difference ${worst.relative.toExponential(2)} (${worst.metric || 'none'}), PortfolioHealth excluded`,
      },
    ]);
  }
  console.log(`\nKPI engines: whole process each, alternating, median of ${runs}\n${table.toString()}`);
  await save('kpi-engines', { runs, results: rows });
}

async function benchStress(): Promise<void> {
  const rowsCount = Number(process.env.BENCH_STRESS_ROWS ?? 100000);
  const iterations = Number(process.env.BENCH_STRESS_RUNS ?? 10);
  const file = await tapeOf(rowsCount);
  const dataDir = path.join(DATA, 'stress');
  const engine = (version: 'v1' | 'v2') => [process.execPath, KPI, '--engine', version, '--input'];
  // The generator copies the prepared tape, so both sides measure the same file. The comparison measures V1 and
  // V2 in pairs: exactly `iterations` of each (minRuns = maxRuns).
  const plan = planSchema.parse({
    release: 'bench',
    baseDir: ROOT,
    generator: { run: ['cp', file, '{dataset}'] },
    baseline: { run: [...engine('v1'), '{dataset}'] },
    candidate: { run: [...engine('v2'), '{dataset}'] },
    staging: { deploy: [{ run: ['true'] }] },
    shadow: { datasets: [{ generate: { rows: 10, seed: 1 } }] },
    stress: {
      sizes: [rowsCount],
      warmup: 1,
      iterations,
      compare: { minRuns: iterations, maxRuns: iterations, onInconclusive: 'pass' },
    },
    rollback: { run: ['true'] },
    signoff: { roles: { qa: ['bo'] } },
    production: {
      deploy: { run: ['true'] },
      undo: { run: ['true'] },
      monitor: { probe: { run: ['true'] }, triggers: { errorRate: 0.1 } },
      reconcile: { days: 0 },
      decommission: { run: ['true'], afterCleanDays: 0 },
    },
  });
  const activities = createActivities({ dataDir });
  const inside: StressResult = await new MockActivityEnvironment().run(activities.runStress, {
    workflowId: `bench-${Date.now()}`,
    release: 'bench',
    key: 'bench',
    plan,
  });
  const size = inside.sizes[0];
  if (!size?.relative) throw new Error('no stress result');
  const insideOf = {
    v1: { latency: size.relative.v1.latencyMs, peakRssMb: size.relative.v1.peakRssMb },
    v2: { latency: size.latencyMs, peakRssMb: size.peakRssMb },
  };
  const table = new Table({ head: ['version', 'measured by', 'runs', 'mean latency', 'p50', 'peak RSS', 'agreement'] });
  const agreement: Record<string, { latencyGap: number; rssGap: number; outsideMeanMs: number }> = {};
  for (const version of ['v1', 'v2'] as const) {
    const outside: Measured[] = [];
    await measure([...engine(version), file]);
    for (let i = 0; i < iterations; i++) outside.push(await measure([...engine(version), file]));
    const outsideMean = mean(outside.map((m) => m.wallMs));
    const outsideMaxRss = Math.max(...outside.map((m) => m.peakRssMb));
    const own = insideOf[version];
    const latencyGap = Math.abs(own.latency.mean - outsideMean) / outsideMean;
    const rssGap = Math.abs(own.peakRssMb - outsideMaxRss) / outsideMaxRss;
    agreement[version] = { latencyGap, rssGap, outsideMeanMs: outsideMean };
    table.push([
      version.toUpperCase(),
      'stress phase (inside)',
      String(own.latency.n),
      `${own.latency.mean.toFixed(1)} ms ± ${own.latency.sd.toFixed(1)}`,
      `${own.latency.p50.toFixed(1)} ms`,
      `${own.peakRssMb.toFixed(1)} MB`,
      `latency ${(latencyGap * 100).toFixed(1)} %, RSS ${(rssGap * 100).toFixed(1)} %`,
    ]);
    table.push([
      '',
      `${TIME} (outside)`,
      String(iterations),
      `${outsideMean.toFixed(1)} ms`,
      `${median(outside.map((m) => m.wallMs)).toFixed(1)} ms`,
      `${outsideMaxRss.toFixed(1)} MB (max)`,
      '',
    ]);
  }
  console.log(
    `\nStress phase vs an outside stopwatch, ${rowsCount.toLocaleString('en')} rows, both versions (goal: within 10 %)\n${table.toString()}`,
  );

  // The example plan's stress phase, with its comparison and without (V2 alone, as before): time and pairs.
  // V1's tables in files: the phase's timing as before the warehouse (whose writes would slow V1 alone).
  const example = withFileOutputs(await loadPlan(path.join(ROOT, 'examples', 'portfolio-kpi', 'plan.yaml')));
  const phase = new Table({ head: ['example stress phase', 'wall time', 'pairs per size (sustained)', 'verdict'] });
  const phases: Record<string, unknown>[] = [];
  for (const withCompare of [true, false]) {
    const stress = withCompare ? example.stress : { ...example.stress, compare: undefined };
    const started = performance.now();
    const result: StressResult = await new MockActivityEnvironment().run(activities.runStress, {
      workflowId: `bench-example-${withCompare ? 'compare' : 'v2'}-${Date.now()}`,
      release: example.release,
      key: 'bench-example',
      plan: { ...example, stress },
    });
    const wallMs = performance.now() - started;
    const pairs = result.sizes.map((z) => z.relative?.pairs ?? 0);
    phases.push({
      compare: withCompare,
      wallMs,
      pairs,
      sustainedPairs: result.sustained?.relative?.pairs,
      verdict: result.verdict,
    });
    phase.push([
      withCompare ? 'V1 and V2 compared (the example)' : 'V2 alone (before the comparison)',
      `${(wallMs / 1000).toFixed(1)} s`,
      withCompare
        ? `${pairs.join(', ')} (${result.sustained?.relative?.pairs ?? 0})`
        : `${example.stress.iterations} V2 runs per size`,
      `${result.verdict}${result.compare ? ` (compare: ${result.compare.verdict})` : ''}`,
    ]);
  }
  console.log(
    `\nThe example's stress phase (sizes ${example.stress.sizes.join(', ')}, sustained ${example.stress.sustained?.duration ?? 'none'})\n${phase.toString()}`,
  );
  await save('stress-vs-time', { rows: rowsCount, inside, agreement, examplePhase: phases });
}

const BENCHES: Record<string, () => Promise<void>> = {
  stress: benchStress,
  diff: benchDiff,
  'db-diff': benchDbDiff,
  dbt: benchDbt,
  kpi: benchKpi,
  signoff: benchSignoff,
  overhead: benchOverhead,
  layout: benchLayout,
  rollback: benchRollback,
  concurrent: benchConcurrent,
  gate: benchGate,
  history: benchHistory,
  'worker-start': benchWorkerStart,
  'what-if': benchWhatIf,
  approve: benchApprove,
  'example-stress': benchExampleStress,
};

async function main(): Promise<void> {
  if (!existsSync(TIME)) throw new Error(`${TIME} is needed to measure from outside (apt-get install time)`);
  const chosen = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  for (const name of chosen.length ? chosen : Object.keys(BENCHES)) {
    const bench = BENCHES[name];
    if (!bench) throw new Error(`unknown bench ${name}; known: ${Object.keys(BENCHES).join(', ')}`);
    await bench();
  }
}

main().catch((err: unknown) => {
  console.error(`bench: ${(err as Error).message}`);
  process.exit(1);
});
