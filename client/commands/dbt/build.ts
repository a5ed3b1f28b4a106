/** `cutover dbt build`: a version of a dbt project built into a schema of its own, as a plan's pipeline. */
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { dbtPythonPath } from '../../../common/cache';
import { modelsOf } from '../../../dbt/manifest';
import { ident, readersOf } from '../../../dbt/publish';
import { readersOfDuckdb, rowCountsDuckdb, withDuckdbFile, withFileLock } from '../../../dbt/duckdb-warehouse';
import { runDbt } from '../../../dbt/run';
import { checkoutVersion } from '../../../dbt/versions';
import { UserError } from '../../../lib/errors';
import { targetOf, warehouseOf, withPostgres, type Warehouse } from './warehouse';

export function register(dbt: Command): void {
  dbt
    .command('build')
    .description(
      'build a version of a dbt project into a schema of its own (dbt build: seeds, models, tests) and print {"metrics": …}: models built, tests passed, each model\'s rows',
    )
    .requiredOption('--project <dir>', "the dbt project's folder")
    .option('--ref <ref>', "a git ref of the project's repository (default: the folder as it is)")
    .requiredOption('--schema <name>', 'the schema to build into')
    .option('--warehouse-env <var>', "the environment variable with the warehouse's URL", 'CUTOVER_DBT_WAREHOUSE')
    .option('--vars <json>', "dbt's --vars, as JSON")
    .option(
      '--dataset <file>',
      'what `cutover dbt dataset` wrote: its rows and seed go to dbt as cutover_rows and cutover_seed',
    )
    .option('--select <selector...>', "dbt's --select")
    .option(
      '--artifacts <dir>',
      'keep the build\'s manifest.json and run_results.json in this folder, and print where ("manifest": FILE): the shadow reads the models from it',
    )
    .addHelpText(
      'after',
      '\nExample:\n  CUTOVER_DBT_WAREHOUSE=postgres://dbt:…@127.0.0.1:5432/analytics \\\n' +
        '    cutover dbt build --project ./jaffle-shop --ref v2 --schema jaffle_v2',
    )
    .action(buildVersion);
}

/** One version built into its schema, its metrics, manifest and tests printed as a pipeline's output. */
interface BuildOptions {
  project: string;
  ref?: string;
  schema: string;
  warehouseEnv: string;
  vars?: string;
  select?: string[];
  dataset?: string;
  artifacts?: string;
}

async function buildVersion(o: BuildOptions): Promise<void> {
  const warehouse = warehouseOf(o.warehouseEnv);
  // A DuckDB file has one writer: the build holds its lock from the schema's choice to the last row counted.
  if (warehouse.kind === 'duckdb') await withFileLock(warehouse.file, () => buildInto(warehouse, o));
  else await buildInto(warehouse, o);
}

/** The build itself, into `warehouse`. */
async function buildInto(warehouse: Warehouse, o: BuildOptions): Promise<void> {
  const schema = await unreadSchema(warehouse, o.schema);
  const work = await mkdtemp(path.join(tmpdir(), 'cutover-dbt-'));
  try {
    const project = await checkoutVersion(path.resolve(o.project), o.ref, path.join(work, 'project'));
    const given = await datasetVars(o.dataset);
    const vars = { ...given, ...parsedVars(o.vars) };
    const built = await runDbt(['build'], {
      python: dbtPythonPath(),
      project,
      runDir: path.join(work, 'run'),
      target: targetOf(warehouse, schema),
      ...(Object.keys(vars).length > 0 ? { vars } : {}),
      ...(o.select ? { select: o.select } : {}),
      ...(typeof given.cutover_now === 'string' ? { env: { CUTOVER_NOW: given.cutover_now } } : {}),
    });
    const failed = built.steps.filter((s) => !s.ok && s.status !== 'skipped');
    if (built.code !== 0 || failed.length > 0)
      throw new UserError(
        `dbt build of ${o.ref ?? o.project} into ${schema}: ${failed.map((s) => `${s.id} ${s.status}: ${oneLine(s.message)}`).join('; ') || `exit ${built.code}`}`,
      );
    // The models this build made (all of them, or the selection's): the others are not in its schema.
    const made = new Set(built.steps.filter((step) => step.kind === 'model').map((step) => step.id));
    const models = [...modelsOf(built.manifest).values()].filter((m) => made.has(m.id));
    const rows = await rowCounts(warehouse, models);
    const metrics: Record<string, number> = {
      models: built.steps.filter((s) => s.kind === 'model').length,
      tests: built.steps.filter((s) => s.kind === 'test').length,
      ...Object.fromEntries(models.map((m, i) => [`rows_${m.name}`, rows[i] as number])),
    };
    const manifest = o.artifacts ? await keepArtifacts(built.targetPath, path.resolve(o.artifacts)) : undefined;
    const total = rows.reduce((a, b) => a + b, 0);
    // Each of dbt's tests a check of the step (a staging deploy's evidence), by its unique id.
    const checks = built.steps
      .filter((step) => step.kind === 'test')
      .map((step) => ({
        id: step.id,
        ok: step.ok,
        status: step.status,
        ...(step.ok || !step.message ? {} : { message: oneLine(step.message) }),
      }));
    // Each model's build time: the stress phase judges them V2 against V1, model by model.
    const timings = Object.fromEntries(
      built.steps.filter((step) => step.kind === 'model').map((step) => [step.id.split('.').at(-1), step.seconds]),
    );
    const printed = { metrics, rows: total, ...(manifest ? { manifest } : {}), checks, timings };
    process.stdout.write(`${JSON.stringify(printed)}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The build's manifest and run results copied out of its run folder (removed when the build ends); the manifest's path. */
async function keepArtifacts(targetPath: string, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const file of ['manifest.json', 'run_results.json'])
    await copyFile(path.join(targetPath, file), path.join(dir, file));
  return path.join(dir, 'manifest.json');
}

/**
 * The schema to build into: `schema`, or `<schema>_rebuild` while published views read it (production's V2, rebuilt
 * by a reconciliation day): dbt would drop those views with the tables it replaces. The manifest names the schema
 * the models went to, so the diffs read the rebuild.
 */
async function unreadSchema(warehouse: Warehouse, schema: string): Promise<string> {
  const readers =
    warehouse.kind === 'duckdb'
      ? await withDuckdbFile(warehouse.file, (w) => readersOfDuckdb(w, schema), { held: true })
      : await withPostgres(warehouse.url, (client) => readersOf(client, schema));
  if (readers.length === 0) return schema;
  process.stderr.write(`${schema} is live (${readers.join(', ')} read it): building into ${schema}_rebuild\n`);
  return `${schema}_rebuild`;
}

/** `--vars` as dbt takes them, or a one-line refusal. */
function parsedVars(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new UserError(`--vars ${text}: not JSON`);
  }
}

/** The scale and the moment `cutover dbt dataset` wrote, as dbt vars; none without a dataset. */
async function datasetVars(file: string | undefined): Promise<Record<string, number | string>> {
  if (file === undefined) return {};
  const text = await readFile(file, 'utf8').catch(() => {
    throw new UserError(`--dataset ${file}: cannot read it`);
  });
  const { rows, seed, now } = JSON.parse(text) as { rows?: number; seed?: number; now?: string };
  return {
    ...(rows !== undefined ? { cutover_rows: rows } : {}),
    ...(seed !== undefined ? { cutover_seed: seed } : {}),
    ...(typeof now === 'string' ? { cutover_now: now } : {}),
  };
}

/** dbt's message on one line, without the compiled file's path (in this run's folder, removed when it ends). */
function oneLine(message = ''): string {
  return message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && line !== '^' && !line.startsWith('compiled code at '))
    .join(' ');
}

/** Each model's rows where it was built, in the order given. */
async function rowCounts(warehouse: Warehouse, models: { schema: string; relation: string }[]): Promise<number[]> {
  if (warehouse.kind === 'duckdb')
    return withDuckdbFile(warehouse.file, (w) => rowCountsDuckdb(w, models), { held: true });
  return withPostgres(warehouse.url, async (client) => {
    const counts: number[] = [];
    for (const m of models) {
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${ident(m.schema)}.${ident(m.relation)}`,
      );
      counts.push(Number(rows[0]?.n));
    }
    return counts;
  });
}
