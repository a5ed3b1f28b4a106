/**
 * Runs real dbt (dbt-core 1.11 with dbt-duckdb and dbt-postgres, installed by `npm run provision` into a virtual
 * environment of the cache) on a project, into a target of the cutover's choosing: a profile written for the run,
 * the artifacts and logs in the run's own folder (a project's folder may be read-only, and two runs of one project
 * must not share `target/`). No network: dbt's usage statistics and version check are off, and a project whose
 * packages are missing is named with the packages and how to vendor them.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { readManifest, readRunResults, stepsOf, type DbtStep, type Manifest } from './manifest';

/** Where a build goes: a DuckDB file, or a schema of a PostgreSQL database (its password from the environment). */
export type DbtTarget =
  | { type: 'duckdb'; path: string; schema?: string }
  | { type: 'postgres'; host: string; port: number; user: string; dbname: string; schema: string; password?: string };

/** A PostgreSQL target from a warehouse URL (`postgres://user:password@host:port/database`) and a schema. */
export function postgresTarget(url: string, schema: string): DbtTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DbtProjectError('the warehouse URL is not a URL (expected postgres://user:password@host:port/database)');
  }
  if (!/^postgres(ql)?:$/.test(parsed.protocol))
    throw new DbtProjectError(`the warehouse URL is ${parsed.protocol}//…, expected postgres://`);
  return {
    type: 'postgres',
    host: parsed.hostname,
    port: Number(parsed.port || 5432),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    dbname: decodeURIComponent(parsed.pathname.slice(1)) || 'postgres',
    schema,
  };
}

export interface DbtInvocation {
  /** The virtual environment's python, whose `dbt` package runs (toolchain/tools.ts `ensureDbt`). */
  python: string;
  /** The dbt project's folder (its dbt_project.yml). */
  project: string;
  /** This run's own folder: profiles, target/ (the artifacts) and logs/ go here. */
  runDir: string;
  target: DbtTarget;
  /** `--vars`, as dbt takes them. */
  vars?: Record<string, unknown>;
  /** `--select`, as dbt takes it. */
  select?: string[];
  /** Extra environment for the project's `env_var()`s. */
  env?: Record<string, string>;
  /** @default 30 minutes */
  timeoutMs?: number;
  threads?: number;
}

/** dbt is not installed where the run looks for it. */
export class DbtMissingError extends Error {
  override readonly name = 'DbtMissingError';
}

/** The project cannot be read or built at all (no dbt_project.yml, a parse or compilation error, missing packages). */
export class DbtProjectError extends Error {
  override readonly name = 'DbtProjectError';
}

export interface DbtRunResult {
  /** dbt's exit code: 0 all passed, 1 some node failed, 2 dbt could not run. */
  code: number;
  steps: DbtStep[];
  /** The manifest of this run's parse (every command writes one). */
  manifest: Manifest;
  /** The artifacts' folder. */
  targetPath: string;
  elapsedSeconds: number;
}

/** The project's `profile:` from its dbt_project.yml, which names the profile the run writes. */
export async function projectProfile(project: string): Promise<{ name: string; profile: string }> {
  const file = path.join(project, 'dbt_project.yml');
  let doc: unknown;
  try {
    doc = parse(await readFile(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DbtProjectError(
      code === 'ENOENT'
        ? `${project}: not a dbt project (no dbt_project.yml)`
        : `${file}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  const fields = (doc ?? {}) as { name?: unknown; profile?: unknown };
  if (typeof fields.name !== 'string') throw new DbtProjectError(`${file}: no project name`);
  return { name: fields.name, profile: typeof fields.profile === 'string' ? fields.profile : fields.name };
}

/** The profiles.yml of one run: the project's profile with one output, `cutover`, the given target. */
export function profilesYaml(profile: string, target: DbtTarget, threads: number): string {
  const output =
    target.type === 'duckdb'
      ? { type: 'duckdb', path: target.path, ...(target.schema ? { schema: target.schema } : {}), threads }
      : {
          type: 'postgres',
          host: target.host,
          port: target.port,
          user: target.user,
          // dbt renders the password from the environment: it is never written to the run's folder.
          password: "{{ env_var('CUTOVER_DBT_PASSWORD', '') }}",
          dbname: target.dbname,
          schema: target.schema,
          threads,
        };
  return JSON.stringify({ [profile]: { target: 'cutover', outputs: { cutover: output } } }, null, 2);
}

/**
 * Runs `dbt <command>` (build, run, test, parse, seed, `source freshness`) and reads what it wrote. A node that
 * fails is a step with `ok: false` (code 1); dbt that cannot run the project at all throws DbtProjectError with
 * dbt's own message (the file and line where it says them).
 */
export async function runDbt(command: readonly string[], run: DbtInvocation): Promise<DbtRunResult> {
  if (!existsSync(run.python))
    throw new DbtMissingError(`dbt is not installed at ${run.python}: run npm run provision`);
  const { profile } = await projectProfile(run.project);
  await missingPackages(run.project);
  const profilesDir = path.join(run.runDir, 'profiles');
  const targetPath = path.join(run.runDir, 'target');
  await mkdir(profilesDir, { recursive: true });
  await writeFile(path.join(profilesDir, 'profiles.yml'), profilesYaml(profile, run.target, run.threads ?? 2));
  const args = [
    '-c',
    // dbt's own entry point; the venv's `dbt` script names the folder it was installed in (toolchain/tools.ts).
    'import sys; from dbt.cli.main import cli; sys.exit(cli())',
    ...command,
    '--project-dir',
    run.project,
    '--profiles-dir',
    profilesDir,
    '--target',
    'cutover',
    '--target-path',
    targetPath,
    '--log-path',
    path.join(run.runDir, 'logs'),
    '--no-use-colors',
    '--log-format',
    'text',
    ...(run.vars ? ['--vars', JSON.stringify(run.vars)] : []),
    // A part of the project: its tests that also read a model left out (relationships) wait for a whole build.
    ...(run.select && run.select.length > 0 ? ['--select', ...run.select, '--indirect-selection', 'cautious'] : []),
  ];
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? run.runDir,
    DBT_SEND_ANONYMOUS_USAGE_STATS: 'false',
    DBT_VERSION_CHECK: 'false',
    DBT_PARTIAL_PARSE: 'false',
    ...(run.target.type === 'postgres' && run.target.password ? { CUTOVER_DBT_PASSWORD: run.target.password } : {}),
    ...run.env,
  };
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(
      run.python,
      args,
      { env, cwd: run.runDir, timeout: run.timeoutMs ?? 30 * 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const exit = err ? (typeof err.code === 'number' ? err.code : 2) : 0;
        resolve({ code: exit, output: `${stdout}${stderr}` });
      },
    );
  });
  const manifestFile = path.join(targetPath, 'manifest.json');
  const resultsFile = path.join(targetPath, 'run_results.json');
  if (code >= 2 || !existsSync(manifestFile))
    throw new DbtProjectError(`dbt ${command.join(' ')}: ${dbtError(output)}`);
  const manifest = readManifest(JSON.parse(await readFile(manifestFile, 'utf8')), manifestFile);
  const results = existsSync(resultsFile)
    ? readRunResults(JSON.parse(await readFile(resultsFile, 'utf8')), resultsFile)
    : { results: [], elapsed_time: 0 };
  return { code, steps: stepsOf(results), manifest, targetPath, elapsedSeconds: results.elapsed_time };
}

/**
 * The packages a project's packages.yml (or dependencies.yml) names that are not in its packages folder: dbt
 * would fetch them from the hub, which a cutover never does at run time. Local packages are vendored with
 * `dbt deps` beforehand, or named as `local:` packages.
 */
async function missingPackages(project: string): Promise<void> {
  for (const name of ['packages.yml', 'dependencies.yml']) {
    const file = path.join(project, name);
    if (!existsSync(file)) continue;
    const doc = (parse(await readFile(file, 'utf8')) ?? {}) as { packages?: { package?: string; local?: string }[] };
    const installed = path.join(project, 'dbt_packages');
    const missing = (doc.packages ?? [])
      .filter((p) => p.package !== undefined)
      .map((p) => p.package as string)
      .filter((p) => !existsSync(path.join(installed, p.split('/').pop() as string)));
    if (missing.length > 0)
      throw new DbtProjectError(
        `${file}: package(s) ${missing.join(', ')} not in ${installed}; a cutover never fetches from the dbt hub: vendor them (dbt deps where the hub is reachable, then commit dbt_packages/) or list them as local: packages`,
      );
  }
}

/** dbt's error, without its timestamps: the lines from the first that says Error (the file and line where given). */
export function dbtError(output: string): string {
  const lines = output
    .split('\n')
    .map((line) => line.replace(/^\s*\d\d:\d\d:\d\d\s+/, '').trimEnd())
    .filter((line) => line.trim() !== '');
  const first = lines.findIndex((line) => /error/i.test(line));
  const shown = (first >= 0 ? lines.slice(first, first + 8) : lines.slice(-8)).join(' | ');
  return shown.length > 0 ? shown.slice(0, 2000) : 'dbt failed and said nothing';
}
