/**
 * `npm run bench db-diff`: cutover's diffs of output tables in PostgreSQL against reladiff's on the same tables,
 * whole processes, alternating, median of BENCH_RUNS (default 5), in one run:
 *
 *   0. both in one PostgreSQL, a real model's shape (a text, a date, four numerics), 0.1 % differing, PostgreSQL's
 *      JIT on and off: cutover's pushed-down diff against a bare FULL OUTER JOIN counting the same differences;
 *   1. both in one PostgreSQL, 0.1 % differing: cutover's pushed-down diff, a bare FULL OUTER JOIN counting the
 *      same differences, reladiff's joindiff;
 *   2–4. PostgreSQL against Parquet (reladiff: against DuckDB over the same file), 0 %, 0.1 % and 10 % differing:
 *      cutover's diff across (segment checksums), reladiff's hashdiff.
 *
 * reladiff (PyPI) goes into a virtualenv the bench makes under .data/bench/db-diff; without python3 the reladiff
 * contenders are skipped, said so. The server is a private PostgreSQL (toolchain/postgres.ts); its CPU time per
 * run is read from /proc (the server's processes are this bench's children). BENCH_DB_ROWS (default 10000000)
 * sets the size; BENCH_DB_CASES (names' starts, comma-separated) picks cases. Writes bench/results/db-diff.json.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import Table from 'cli-table3';
import { median } from 'simple-statistics';
import { startPostgres } from '../toolchain/postgres';
import { projectRoot } from '../toolchain/tools';
import { measure, save, type Measured } from './common';

const ROOT = projectRoot();
const CLI = path.join(ROOT, 'dist', 'bench', 'db-diff-cli.js');
const DATA = path.join(ROOT, '.data', 'bench', 'db-diff');
const RELADIFF_VERSION = '0.6.0';

interface Contender {
  name: string;
  argv: string[];
  /** The contender of the same case this one's time is divided by, pair by pair (cutover's against a bare join). */
  against?: string;
  /** reladiff prints its differences; this turns its output into the same counts as cutover's. */
  counts?: (stdout: string) => { onlyV1: number; onlyV2: number; differing: number };
}

interface Case {
  name: string;
  contenders: Contender[];
}

/** The virtualenv's reladiff, made once; undefined (and said) without python3. */
function reladiff(): string | undefined {
  const venv = path.join(DATA, 'venv');
  const bin = path.join(venv, 'bin', 'reladiff');
  if (existsSync(bin)) return bin;
  if (spawnSync('python3', ['--version']).status !== 0) {
    console.error('db-diff: python3 is missing: reladiff is skipped (install python3 to compare with it)');
    return undefined;
  }
  console.error(`db-diff: installing reladiff ${RELADIFF_VERSION} into ${venv}…`);
  execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(path.join(venv, 'bin', 'pip'), ['install', '-q', `reladiff[postgresql,duckdb]==${RELADIFF_VERSION}`], {
    stdio: 'inherit',
  });
  return bin;
}

/** reladiff's `--stats --json` output (one JSON object, wrapped over lines): only in A, only in B, differing. */
function reladiffCounts(stdout: string): { onlyV1: number; onlyV2: number; differing: number; downloaded?: number } {
  const stats = JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
    exclusive_A?: number;
    exclusive_B?: number;
    updated?: number;
    stats?: { rows_downloaded?: number };
  };
  return {
    onlyV1: Number(stats.exclusive_A ?? Number.NaN),
    onlyV2: Number(stats.exclusive_B ?? Number.NaN),
    differing: Number(stats.updated ?? Number.NaN),
    ...(stats.stats?.rows_downloaded !== undefined ? { downloaded: stats.stats.rows_downloaded } : {}),
  };
}

/** CPU time (user + system, ms) of every process named postgres: the private server and its backends. */
function postgresCpuMs(): number {
  const tick = 1000 / 100;
  let total = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (name !== 'postgres') continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * tick;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

export async function benchDbDiff(): Promise<void> {
  const rows = Number(process.env.BENCH_DB_ROWS ?? 10_000_000);
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  await mkdir(DATA, { recursive: true });
  // The server runs as nobody when the bench runs as root: its folders must be ones nobody can enter.
  for (let at = DATA; at !== path.dirname(at); at = path.dirname(at)) if (at.startsWith(ROOT)) chmodSync(at, 0o755);
  const server = await startPostgres({ dir: path.join(DATA, 'pg') });
  const files = path.join(DATA, `files-${rows}`);
  try {
    console.error(`db-diff: preparing ${rows.toLocaleString('en')} rows per table…`);
    await measure([process.execPath, CLI, 'prepare', String(rows), server.url, files]);
    const rd = reladiff();
    const duckdbFile = path.join(files, 'v2.duckdb');
    if (rd) {
      // reladiff reads DuckDB databases: views over the same Parquet files, made by its own duckdb.
      const python = path.join(DATA, 'venv', 'bin', 'python');
      const views = ['v2_0', 'v2_1', 'v2_100']
        .map(
          (v) =>
            `c.execute("CREATE OR REPLACE VIEW ${v} AS SELECT * FROM read_parquet('${path.join(files, `${v}.parquet`)}')")`,
        )
        .join('; ');
      execFileSync(python, ['-c', `import duckdb; c = duckdb.connect('${duckdbFile}'); ${views}; c.close()`]);
    }
    const node = (...args: string[]) => [process.execPath, CLI, ...args];
    // reladiff knows the scheme as postgresql://.
    const rdUrl = server.url.replace(/^postgres:/, 'postgresql:');
    const rdArgs = [
      '-k',
      'loan_id',
      '-c',
      'segment',
      '-c',
      'bucket',
      '-c',
      'outstanding',
      '-c',
      'provision',
      '--stats',
      '--json',
    ];
    const modelCase = (jit: 'on' | 'off'): Case => ({
      name: `one PostgreSQL, a real model's shape, 0.1 % differing, JIT ${jit}`,
      contenders: [
        {
          name: 'cutover (pushed down)',
          argv: node('pushdown', server.url, 'model_v2_1', ...(jit === 'off' ? ['nojit'] : [])),
          against: 'bare SQL join',
        },
        { name: 'bare SQL join', argv: node('bare', server.url, 'model_v2_1', ...(jit === 'off' ? ['nojit'] : [])) },
      ],
    });
    const allCases: Case[] = [
      modelCase('on'),
      modelCase('off'),
      {
        name: 'one PostgreSQL, 0.1 % differing',
        contenders: [
          { name: 'cutover (pushed down)', argv: node('pushdown', server.url, 'v2_1'), against: 'bare SQL join' },
          { name: 'bare SQL join', argv: node('bare', server.url, 'v2_1') },
          ...(rd
            ? [
                {
                  name: 'reladiff joindiff',
                  argv: [rd, rdUrl, 'bench.v1', 'bench.v2_1', ...rdArgs, '--algorithm', 'joindiff'],
                  counts: reladiffCounts,
                },
              ]
            : []),
        ],
      },
      ...(['v2_0', 'v2_1', 'v2_100'] as const).map((v) => ({
        name: `PostgreSQL vs Parquet, ${{ v2_0: '0 %', v2_1: '0.1 %', v2_100: '10 %' }[v]} differing`,
        contenders: [
          { name: 'cutover (across)', argv: node('cross', server.url, path.join(files, `${v}.parquet`)) },
          ...(rd
            ? [
                {
                  name: 'reladiff hashdiff',
                  argv: [rd, rdUrl, 'bench.v1', `duckdb://${duckdbFile}`, v, ...rdArgs, '--algorithm', 'hashdiff'],
                  counts: reladiffCounts,
                },
              ]
            : []),
        ],
      })),
    ];
    // BENCH_DB_CASES: the cases whose names start with one of these (default all), e.g. "one PostgreSQL".
    const only = process.env.BENCH_DB_CASES?.split(',').map((c) => c.trim());
    const cases = only ? allCases.filter((c) => only.some((prefix) => c.name.startsWith(prefix))) : allCases;
    const table = new Table({
      head: [
        'case',
        'contender',
        'median wall',
        'rows/s',
        'peak RSS',
        'server CPU',
        'transferred',
        'vs reladiff',
        'vs bare join',
        'counts',
      ],
    });
    const results: Record<string, unknown>[] = [];
    for (const c of cases) {
      const samples = new Map<Contender, (Measured & { serverMs: number })[]>(c.contenders.map((x) => [x, []]));
      for (let i = 0; i < runs; i++) {
        for (const contender of c.contenders) {
          const before = postgresCpuMs();
          const m = await measure(contender.argv);
          samples.get(contender)?.push({ ...m, serverMs: postgresCpuMs() - before });
        }
      }
      const reladiffOf = c.contenders.find((x) => x.name.startsWith('reladiff'));
      for (const contender of c.contenders) {
        const taken = samples.get(contender) ?? [];
        const walls = taken.map((m) => m.wallMs);
        const first = taken[0]?.stdout ?? '{}';
        const counts = contender.counts ? contender.counts(first) : (JSON.parse(first) as Record<string, unknown>);
        // Cutover's wall time over reladiff's, per alternating pair, then the median.
        const against = c.contenders.find((x) => x.name === contender.against);
        const againstOf = against ? samples.get(against) : undefined;
        const pairs = reladiffOf
          ? taken.map((m, i) => m.wallMs / ((samples.get(reladiffOf) ?? [])[i]?.wallMs ?? Number.NaN))
          : [];
        const row = {
          case: c.name,
          contender: contender.name,
          rows,
          runs,
          medianMs: median(walls),
          peakRssMb: Math.max(...taken.map((m) => m.peakRssMb)),
          serverCpuMs: median(taken.map((m) => m.serverMs)),
          counts,
          ...(reladiffOf && contender !== reladiffOf ? { vsReladiff: median(pairs) } : {}),
          ...(againstOf
            ? { vsBare: median(taken.map((m, i) => m.wallMs / (againstOf[i]?.wallMs ?? Number.NaN))) }
            : {}),
        };
        results.push(row);
        const transfer = (counts as { transfer?: { rows: number; of: number } }).transfer;
        const downloaded = (counts as { downloaded?: number }).downloaded;
        table.push([
          c.name,
          contender.name,
          `${(row.medianMs / 1000).toFixed(2)} s`,
          Math.round((2 * rows) / (row.medianMs / 1000)).toLocaleString('en'),
          `${row.peakRssMb.toFixed(0)} MB`,
          `${(row.serverCpuMs / 1000).toFixed(1)} s`,
          transfer
            ? `${transfer.rows.toLocaleString('en')} (${((100 * transfer.rows) / transfer.of).toFixed(2)} %)`
            : downloaded !== undefined
              ? `${downloaded.toLocaleString('en')} downloaded`
              : '',
          'vsReladiff' in row ? `${(row.vsReladiff as number).toFixed(2)}×` : '',
          'vsBare' in row ? `${(row.vsBare as number).toFixed(2)}×` : '',
          JSON.stringify({
            onlyV1: (counts as { onlyV1?: number }).onlyV1,
            onlyV2: (counts as { onlyV2?: number }).onlyV2,
            differing: (counts as { differing?: number }).differing,
          }),
        ]);
      }
    }
    console.log(`\nOutput tables in PostgreSQL: whole processes, alternating, median of ${runs}\n${table.toString()}`);
    await save('db-diff', { rows, runs, reladiff: rd ? RELADIFF_VERSION : 'skipped (no python3)', results });
  } finally {
    await server.stop();
  }
}
