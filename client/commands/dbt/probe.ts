/**
 * `cutover dbt probe`: production watched as its consumers and its tests see it, as a plan's monitoring probe: the
 * rows of every published view, and (with `--project`) the project's dbt tests run against the build the views read
 * now, a failed test counted in the error rate and named; and its sources' freshness where the project gives one, a
 * source past its `error_after` counted and named the same way.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { Client } from 'pg';
import { dbtPythonPath } from '../../../common/cache';
import { hasFreshness } from '../../../dbt/manifest';
import { ident, liveBuilds } from '../../../dbt/publish';
import { runDbt, type DbtTarget } from '../../../dbt/run';
import { liveBuildsDuckdb, rowCountsDuckdb, withDuckdbFile, withFileLock } from '../../../dbt/duckdb-warehouse';
import { checkoutVersion } from '../../../dbt/versions';
import { UserError } from '../../../lib/errors';
import { targetOf, warehouseOf, withWarehouse, type Warehouse } from './warehouse';

interface ProbeOptions {
  published: string;
  warehouseEnv: string;
  project?: string;
  ref?: string;
}

export function register(dbt: Command): void {
  dbt
    .command('probe')
    .description(
      'count the rows of every view of the published schema and, with --project, run its dbt tests (and its sources\' freshness, where it gives one) on the live build; print a probe\'s {"metrics": …, "errorRate": …}: the monitor holds them to its triggers',
    )
    .requiredOption('--published <schema>', 'the schema consumers read')
    .option('--project <dir>', "the dbt project's folder: its tests run against the build the published views read")
    .option('--ref <ref>', "a git ref of the project's repository (default: the folder as it is)")
    .option('--warehouse-env <var>', "the environment variable with the warehouse's URL", 'CUTOVER_DBT_WAREHOUSE')
    .addHelpText('after', '\nExample:\n  cutover dbt probe --published jaffle --project ./jaffle-shop --ref v2')
    .action(probe);
}

async function probe(o: ProbeOptions): Promise<void> {
  const warehouse = warehouseOf(o.warehouseEnv);
  // A DuckDB file has one writer: the probe holds its lock while it reads and dbt tests the live build.
  if (warehouse.kind === 'duckdb') await withFileLock(warehouse.file, () => probeIn(warehouse, o));
  else await probeIn(warehouse, o);
}

/** What consumers read of the published schema (each view's rows), and the build its views read now. */
async function readPublished(warehouse: Warehouse, o: ProbeOptions) {
  if (warehouse.kind === 'postgres')
    return withWarehouse(o.warehouseEnv, async (client) => ({
      metrics: await rowsRead(client, o.published),
      live: [...new Set(Object.values(await liveBuilds(client, o.published)))],
    }));
  return withDuckdbFile(
    warehouse.file,
    async (w) => {
      const live = await liveBuildsDuckdb(w, o.published);
      const views = Object.keys(live).sort();
      const counts = await rowCountsDuckdb(
        w,
        views.map((relation) => ({ schema: o.published, relation })),
      );
      return {
        metrics: Object.fromEntries(views.map((v, i) => [`rows_${v}`, counts[i] as number])),
        live: [...new Set(Object.values(live))],
      };
    },
    { held: true },
  );
}

async function probeIn(warehouse: Warehouse, o: ProbeOptions): Promise<void> {
  const { metrics, live } = await readPublished(warehouse, o);
  // Nothing published yet (the reading before the first deploy): the rows consumers read, and no tests to run.
  if (o.project === undefined || live.length === 0) {
    process.stdout.write(`${JSON.stringify({ metrics, errorRate: 0 })}\n`);
    return;
  }
  if (live.length > 1)
    throw new UserError(
      `${o.published}: its views read ${live.join(' and ')}: the tests need the one build that is live`,
    );
  const { tests, sources } = await checksOn(o, targetOf(warehouse, live[0] as string));
  const failed = tests.filter((t) => !t.ok);
  const stale = sources.filter((t) => !t.ok);
  // The failed tests and stale sources by name: in the output (beside what the monitor reads) and the worker's log.
  if (failed.length > 0)
    process.stderr.write(`dbt tests failed on ${live[0]}: ${failed.map((t) => t.id).join(', ')}\n`);
  if (stale.length > 0)
    process.stderr.write(`sources past their freshness: ${stale.map((t) => `${t.id} (${t.status})`).join(', ')}\n`);
  const checks = tests.length + sources.length;
  process.stdout.write(
    `${JSON.stringify({
      metrics: {
        ...metrics,
        tests: tests.length,
        tests_failed: failed.length,
        ...(sources.length > 0 ? { sources: sources.length, sources_stale: stale.length } : {}),
      },
      errorRate: checks === 0 ? 0 : (failed.length + stale.length) / checks,
      ...(failed.length > 0 ? { failed: failed.map((t) => t.id) } : {}),
      ...(stale.length > 0 ? { stale: stale.map((t) => t.id) } : {}),
    })}\n`,
  );
}

/** The rows of every view of the published schema, by view. */
async function rowsRead(client: Client, published: string): Promise<Record<string, number>> {
  const { rows } = await client.query<{ name: string }>(
    'SELECT table_name AS name FROM information_schema.views WHERE table_schema = $1 ORDER BY 1',
    [published],
  );
  const metrics: Record<string, number> = {};
  for (const { name } of rows) {
    const counted = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${ident(published)}.${ident(name)}`,
    );
    metrics[`rows_${name}`] = Number(counted.rows[0]?.n);
  }
  return metrics;
}

/**
 * The project's dbt tests (that version of it) run against `schema`, each passed or not; and, where the project
 * gives its sources a freshness, `dbt source freshness` (a source past its `error_after` is stale, past `warn_after`
 * only warned of: not counted).
 */
async function checksOn(o: ProbeOptions, target: DbtTarget): Promise<Record<'tests' | 'sources', Check[]>> {
  const work = await mkdtemp(path.join(tmpdir(), 'cutover-dbt-probe-'));
  try {
    const project = await checkoutVersion(path.resolve(o.project as string), o.ref, path.join(work, 'project'));
    const invocation = (name: string) => ({
      python: dbtPythonPath(),
      project,
      runDir: path.join(work, name),
      target,
    });
    const run = await runDbt(['test'], invocation('test'));
    const tests = run.steps.filter((s) => s.kind === 'test').map((s) => ({ id: s.id, ok: s.ok, status: s.status }));
    // dbt that could not run at all is a failed probe, not a clean one.
    if (run.code !== 0 && tests.every((t) => t.ok))
      throw new UserError(`dbt test on ${target.schema ?? 'the live build'}: exit ${run.code}`);
    if (!hasFreshness(run.manifest)) return { tests, sources: [] };
    const fresh = await runDbt(['source', 'freshness'], invocation('freshness'));
    return { tests, sources: await freshnessOf(fresh.targetPath) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface Check {
  id: string;
  ok: boolean;
  status: string;
}

/** Each source's freshness as dbt wrote it (sources.json): stale where dbt says error (or could not query it). */
async function freshnessOf(targetPath: string): Promise<Check[]> {
  const file = path.join(targetPath, 'sources.json');
  const doc = JSON.parse(await readFile(file, 'utf8').catch(() => '{"results": []}')) as {
    results?: { unique_id?: string; status?: string }[];
  };
  return (doc.results ?? []).map((r) => ({
    id: String(r.unique_id),
    status: String(r.status),
    ok: r.status === 'pass' || r.status === 'warn',
  }));
}
