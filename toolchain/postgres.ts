/**
 * A private PostgreSQL server on loopback, in a folder of cutover's own: the real database that the output diffs
 * read (activities/db-diff.ts), for `npm start`, the tests and the benches. The first start creates the cluster
 * (`initdb`, password authentication, UTF-8), later starts reuse it. The server is a child of its starter, killed
 * if the starter exits; nothing of the system's own PostgreSQL (its clusters, its service) is touched.
 *
 * PostgreSQL refuses to run as root, and CI runs as root: then the server (and initdb) run as `nobody`, through
 * util-linux's `setpriv` (which execs, so the child is the server itself), and the folder must be one `nobody`
 * can reach.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { freePort, waitForPort } from '../common/net';
import { stopChild } from './processes';
import { ensurePostgres } from './tools';

export interface PostgresOptions {
  /** The server's folder: `cluster/` (its data), `password` (the superuser's), `server.log`. Created if missing. */
  dir: string;
  /** @default a free port */
  port?: number;
  log?: (line: string) => void;
  /**
   * In a process group of its own, so that a terminal's Ctrl-C (sent to the whole foreground group) leaves it to
   * its starter to stop, after the workers that read it. It still stops when its starter dies.
   */
  ownProcessGroup?: boolean;
}

export interface PostgresServer {
  /** `postgres://cutover:<password>@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  user: string;
  password: string;
  stop(): Promise<void>;
}

/** The superuser initdb creates; the diffs connect as roles of their own (read only). */
const SUPERUSER = 'cutover';
const NOBODY = 65534;

export async function startPostgres(options: PostgresOptions): Promise<PostgresServer> {
  const bin = ensurePostgres(options.log);
  const dir = path.resolve(options.dir);
  const cluster = path.join(dir, 'cluster');
  const asRoot = process.getuid?.() === 0;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (asRoot) reachableByNobody(dir);
  const passwordFile = path.join(dir, 'password');
  if (!existsSync(path.join(cluster, 'PG_VERSION'))) initCluster(bin, { dir, cluster, passwordFile, asRoot });
  const password = readFileSync(passwordFile, 'utf8').trim();
  const port = options.port ?? (await freePort());
  const logFile = path.join(dir, 'server.log');
  writeFileSync(logFile, '');
  if (asRoot) chownSync(logFile, NOBODY, NOBODY);
  const [command, args] = serverCommand(asRoot, path.join(bin, 'postgres'), [
    '-D',
    cluster,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `port=${port}`,
    // TCP on loopback only: no Unix socket in a folder of the system's.
    '-c',
    'unix_socket_directories=',
    '-c',
    'logging_collector=off',
  ]);
  const child = spawn(command, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: options.ownProcessGroup ?? false,
  });
  // The server's own log goes to server.log; its start-up lines are also kept for the error if it fails to start.
  const errors: string[] = [];
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    if (errors.length < 100) errors.push(chunk);
    log.write(chunk);
  });
  child.stderr?.once('end', () => log.end());
  let exited = false;
  const orphaned = () => child.kill('SIGKILL');
  process.once('exit', orphaned);
  child.once('exit', () => {
    exited = true;
    process.off('exit', orphaned);
  });
  // SIGINT: PostgreSQL's fast shutdown (open transactions rolled back, the cluster left clean).
  const stop = () => stopChild(child, 10_000, 'SIGINT');
  const url = `postgres://${SUPERUSER}:${password}@127.0.0.1:${port}/postgres`;
  try {
    await waitForPort(port, 60_000, () => !exited);
    await untilReady(url, () => !exited);
  } catch (err) {
    await stop();
    throw new Error(`PostgreSQL did not start in ${dir}: ${(err as Error).message}; ${errors.join('').trim()}`);
  }
  return { url, port, user: SUPERUSER, password, stop };
}

/**
 * A new cluster in `cluster`, its superuser's password random and kept in `passwordFile`; owned by `nobody` when
 * cutover runs as root (PostgreSQL refuses to run as root).
 */
function initCluster(
  bin: string,
  { dir, cluster, passwordFile, asRoot }: { dir: string; cluster: string; passwordFile: string; asRoot: boolean },
): void {
  rmSync(cluster, { recursive: true, force: true });
  const password = randomBytes(18).toString('hex');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  // initdb reads the password from a file the server's user can read; it is removed once the cluster exists.
  const pwfile = path.join(dir, 'initdb-password');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  mkdirSync(cluster, { mode: 0o700 });
  if (asRoot) for (const p of [pwfile, cluster]) chownSync(p, NOBODY, NOBODY);
  try {
    execFileSync(
      ...serverCommand(asRoot, path.join(bin, 'initdb'), [
        '-D',
        cluster,
        '-U',
        SUPERUSER,
        `--pwfile=${pwfile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C.UTF-8',
        '--no-instructions',
      ]),
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } finally {
    rmSync(pwfile, { force: true });
  }
}

/**
 * The program and its arguments, as `nobody` when cutover runs as root, and (where util-linux's setpriv is, as on
 * Debian) with a parent-death signal: SIGINT, PostgreSQL's fast shutdown, when its starter dies, even by SIGKILL,
 * so that no server outlives the test or `npm start` that started it.
 */
function serverCommand(asRoot: boolean, program: string, args: string[]): [string, string[]] {
  const user = asRoot ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'] : [];
  return asRoot || hasSetpriv()
    ? ['setpriv', [...user, '--pdeathsig', 'INT', '--', program, ...args]]
    : [program, args];
}

let setprivFound: boolean | undefined;

function hasSetpriv(): boolean {
  if (setprivFound === undefined) {
    try {
      execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
      setprivFound = true;
    } catch {
      setprivFound = false;
    }
  }
  return setprivFound;
}

/** Every folder above `dir` must let `nobody` pass (the execute bit for others), or the server cannot open it. */
function reachableByNobody(dir: string): void {
  for (let at = path.dirname(dir); ; at = path.dirname(at)) {
    if ((statSync(at).mode & 0o001) === 0) {
      throw new Error(
        `PostgreSQL runs as nobody when cutover runs as root, and nobody cannot enter ${at} (on the way to ${dir}): put the server's folder under one everybody may enter, or chmod o+x ${at}`,
      );
    }
    if (path.dirname(at) === at) return;
  }
}

/** Connects until the server answers a query (a listening server may still be starting up). */
async function untilReady(url: string, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (err) {
      if (!alive() || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
