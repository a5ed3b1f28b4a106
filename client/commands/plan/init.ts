/** `cutover plan init`, and `cutover plan init --dbt` for a dbt project. */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { dbtPythonPath } from '../../../common/cache';
import { UserError } from '../../../lib/errors';

interface InitOptions {
  out: string;
  release?: string;
  force?: boolean;
  dbt?: string;
  v1?: string;
  v2?: string;
  target: string;
  schema?: string;
  database?: string;
}

export function register(plan: Command): void {
  plan
    .command('init')
    .option('--out <file>', 'where to write it', 'plan.yaml')
    .option('--release <name>', "the release's name (default: my-pipeline-v2, or the dbt project's name and V2)")
    .option('--force', 'overwrite an existing file')
    .option('--dbt <dir>', "a dbt project: write its cutover's plan, every step a `cutover dbt` command")
    .option('--v1 <ref>', "with --dbt: V1, a git ref of the project's repository or a folder")
    .option('--v2 <ref>', "with --dbt: V2, a git ref of the project's repository or a folder")
    .option(
      '--target <kind>',
      'with --dbt: the warehouse, postgres (CUTOVER_DBT_WAREHOUSE=postgres://…) or duckdb (=duckdb:/path/file.duckdb)',
      'postgres',
    )
    .option('--schema <name>', "with --dbt: the schema consumers read (default: the project's name)")
    .option(
      '--database <name>',
      "with --dbt: the workers' name for the warehouse (CUTOVER_DATABASE_<NAME>)",
      'warehouse',
    )
    .description('write a commented starting plan that validates')
    .addHelpText(
      'after',
      '\nExamples:\n  cutover plan init --out plan.yaml --release orders-v2\n' +
        '  cutover plan init --dbt ./jaffle-shop --v1 v1.0 --v2 main --out jaffle.yaml',
    )
    .action(async (o: InitOptions) => {
      const { text, summary } = o.dbt ? await dbtInit(o, o.dbt) : await plainInit(o.release ?? 'my-pipeline-v2');
      const { parsePlanText, planFromDocument } = await import('../../../plan/load.js');
      // What it writes must validate: a release name the schema refuses is said before anything is written.
      planFromDocument(parsePlanText(text, o.out), o.out, process.cwd());
      try {
        await writeFile(o.out, text, { flag: o.force ? 'w' : 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST')
          throw new UserError(`${o.out}: exists (--force overwrites it)`);
        throw err;
      }
      process.stdout.write(`${o.out}: ${summary}\n`);
    });
}

async function plainInit(release: string) {
  const { initPlan } = await import('../../../plan/init-plan.js');
  return {
    text: initPlan(release),
    summary: `a starting plan for ${release}; replace its commands, then cutover plan validate`,
  };
}

/** A version named on the command line: a folder when one is there, else a git ref of the project's repository. */
function versionOf(flag: string, value: string | undefined): { ref?: string; project?: string } {
  if (value === undefined)
    throw new UserError(`--dbt needs ${flag}: a git ref of the project's repository, or a folder`);
  return existsSync(value) && statSync(value).isDirectory() ? { project: value } : { ref: value };
}

/** Both versions parsed by dbt (no warehouse is reached), their manifests compared, the plan written from them. */
async function dbtInit(o: InitOptions, project: string) {
  if (o.target !== 'postgres' && o.target !== 'duckdb')
    throw new UserError(`--target ${o.target}: expected postgres or duckdb`);
  const { DbtMissingError, DbtProjectError, projectProfile, postgresTarget, runDbt } =
    await import('../../../dbt/run.js');
  const { checkoutVersion } = await import('../../../dbt/versions.js');
  const { dbtPlan } = await import('../../../dbt/init-plan.js');
  const v1 = versionOf('--v1', o.v1);
  const v2 = versionOf('--v2', o.v2);
  const work = await mkdtemp(path.join(tmpdir(), 'cutover-plan-init-'));
  try {
    const { name } = await projectProfile(path.resolve(project));
    const manifest = async (version: { ref?: string; project?: string }, label: string) => {
      const folder = await checkoutVersion(
        path.resolve(version.project ?? project),
        version.ref,
        path.join(work, label),
      );
      return (
        await runDbt(['parse'], {
          python: dbtPythonPath(),
          project: folder,
          runDir: path.join(work, `run-${label}`),
          // Parsing reaches no warehouse: the target only has to be one the adapter reads.
          target: postgresTarget('postgres://parse@127.0.0.1:1/parse', 'parse'),
        })
      ).manifest;
    };
    // The two parses side by side: each is a single-threaded dbt, and a 1,000-model project takes seconds each.
    const [v1Manifest, v2Manifest] = await Promise.all([manifest(v1, 'v1'), manifest(v2, 'v2')]);
    const schema = o.schema ?? name.toLowerCase().replace(/[^a-z0-9_]/g, '_');
    const release =
      o.release ?? `${name}-${(v2.ref ?? path.basename(v2.project ?? 'v2')).replace(/[^A-Za-z0-9._-]/g, '-')}`;
    const written = dbtPlan({
      release,
      project: path.relative(path.dirname(path.resolve(o.out)), path.resolve(project)) || '.',
      v1: v1.project ? { project: path.relative(path.dirname(path.resolve(o.out)), path.resolve(v1.project)) } : v1,
      v2: v2.project ? { project: path.relative(path.dirname(path.resolve(o.out)), path.resolve(v2.project)) } : v2,
      schema,
      ...(o.database ? { database: o.database } : {}),
      target: o.target as 'postgres' | 'duckdb',
      v1Manifest,
      v2Manifest,
    });
    const models = written.models.length > 0 ? written.models.join(', ') : 'none (V2 changes no model)';
    const unkeyed = written.unkeyed.length > 0 ? `; unkeyed (rows as multisets): ${written.unkeyed.join(', ')}` : '';
    return { text: written.text, summary: `a dbt cutover plan for ${release}; models diffed: ${models}${unkeyed}` };
  } catch (err) {
    if (err instanceof DbtProjectError || err instanceof DbtMissingError) throw new UserError(err.message);
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
