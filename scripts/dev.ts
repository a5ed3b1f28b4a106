/**
 * The local stack: the Temporal dev server (state in a SQLite file under the data folder, UI on 8233), a
 * PostgreSQL server (the example's warehouse, its cluster under the data folder), a worker process, the local
 * OpenID provider (4455) and the approval app (4400), optionally with the example cutover started (`--example`)
 * and the dbt demo's (`--dbt`: jaffle shop on the same PostgreSQL). Ctrl-C stops them all cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ed25519 } from '@noble/curves/ed25519';
import { connect, startCutover, status, UserError } from '../lib/api';
import { EXAMPLE_APPROVERS, EXAMPLE_LOGINS, EXAMPLE_ROLE_GROUPS } from '../examples/portfolio-kpi/approvers';
import { loadPlan } from '../plan/load';
import { setUpWarehouse, WAREHOUSE_ENV } from '../examples/portfolio-kpi/warehouse';
import { JAFFLE_DATABASE, jafflePlan, setUpJaffleDatabase, type JaffleLogins } from '../examples/jaffle-shop/demo';
import { startDevServer } from '../toolchain/dev-server';
import { startPostgres } from '../toolchain/postgres';
import { startNodeProcess, stopChild } from '../toolchain/processes';
import { cutoverOnPath, projectRoot } from '../toolchain/tools';
import { workerEnv, WORKER_NODE_OPTIONS } from '../common/worker-process';

interface DevStackOptions {
  example: boolean;
  /** Also the dbt demo: jaffle shop cut over on the stack's PostgreSQL (examples/jaffle-shop/demo.ts). */
  dbt: boolean;
  /** @default 7233 */
  port?: number;
  /** @default 8233 */
  uiPort?: number;
}

const IDP_PORT = 4455;
const APPROVALS_PORT = 4400;

/**
 * The approval app's secrets in the dev stack, kept in the data folder (mode 600) so that cutovers started
 * before a restart still trust the app's attester key (their plan check recorded it).
 */
function devApprovalSecrets(dataDir: string): {
  sessionSecret: string;
  clientSecret: string;
  keyFile: string;
  publicKey: string;
} {
  const dir = path.join(dataDir, 'approvals');
  const keyFile = devKeyFile(dir, 'attester.key');
  const secretsFile = path.join(dir, 'secrets.json');
  if (!existsSync(secretsFile)) {
    const secrets = { sessionSecret: randomBytes(32).toString('hex'), clientSecret: randomBytes(24).toString('hex') };
    writeFileSync(secretsFile, JSON.stringify(secrets), { mode: 0o600 });
  }
  const secrets = JSON.parse(readFileSync(secretsFile, 'utf8')) as { sessionSecret: string; clientSecret: string };
  const privateKey = Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'hex');
  return { ...secrets, keyFile, publicKey: Buffer.from(ed25519.getPublicKey(privateKey)).toString('hex') };
}

/** An ed25519 private key file `name` in `dir` (hex, mode 600), made the first time and kept after. */
function devKeyFile(dir: string, name: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFile = path.join(dir, name);
  if (!existsSync(keyFile)) {
    writeFileSync(keyFile, `${Buffer.from(ed25519.utils.randomPrivateKey()).toString('hex')}\n`, { mode: 0o600 });
  }
  return keyFile;
}

const say = (line: string) => process.stdout.write(`${line}\n`);

/** What the stack's steps share: where it keeps its state, its ports, and the processes it has started. */
interface Stack {
  root: string;
  dataDir: string;
  port: number;
  ui: string;
  approvals: string;
  secrets: ReturnType<typeof devApprovalSecrets>;
  children: ChildProcess[];
  stopping: boolean;
  stopAll(code: number): Promise<never>;
}

/** The Temporal dev server and the example's warehouse, each in a process group of its own. */
async function startServers(dataDir: string, port: number, uiPort: number) {
  say(`starting the Temporal dev server on 127.0.0.1:${port} (state: ${path.join(dataDir, 'temporal.sqlite')})…`);
  // Ctrl-C reaches every process of the terminal's group at once: the server is kept out of it, so that it
  // stops after the worker has finished its activities and said so to it.
  const server = await startDevServer({
    port,
    uiPort,
    dbFile: path.join(dataDir, 'temporal.sqlite'),
    ownProcessGroup: true,
  });
  say(`Temporal UI: http://127.0.0.1:${uiPort}`);
  // The example's warehouse: V1 writes its tables there with a login of its own, the workers read them with one
  // that may only read. A server of the stack's own, on loopback, its cluster kept in the data folder.
  say(`starting PostgreSQL on loopback (cluster: ${path.join(dataDir, 'postgres')})…`);
  const postgres = await startPostgres({ dir: path.join(dataDir, 'postgres'), ownProcessGroup: true });
  const warehouse = await setUpWarehouse(postgres.url);
  say(`PostgreSQL: 127.0.0.1:${postgres.port}, database portfolio (the example's warehouse)`);
  return { server, postgres, warehouse };
}

/**
 * The dbt demo's part of the worker's environment: dbt's login for the `cutover dbt` actions, the workers' read-only
 * one for the model diffs, and `cutover` on the PATH (the plan's actions name it), a shim of the built CLI.
 */
function dbtEnvironment(stack: Stack, logins: JaffleLogins): Record<string, string> {
  const bin = cutoverOnPath(path.join(stack.root, '.data', 'bin'));
  return {
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    CUTOVER_DBT_WAREHOUSE: logins.dbt,
    [`CUTOVER_DATABASE_${JAFFLE_DATABASE.toUpperCase()}`]: logins.reader,
  };
}

/** The worker's environment: the stack's server, data folder, keys and logins, and the example's policy. */
function workerEnvironment(stack: Stack, example: boolean, warehouse: { reader: string; writer: string }) {
  // With the example, the worker runs under the example's organisation policy (unless one is given).
  const policy =
    process.env.CUTOVER_POLICY ??
    (example ? path.join(stack.root, 'examples', 'portfolio-kpi', 'policy.yaml') : undefined);
  say(`worker policy: ${policy ?? 'none (set CUTOVER_POLICY to bind plans to an organisation policy)'}`);
  return {
    ...workerEnv(process.env),
    TEMPORAL_ADDRESS: `127.0.0.1:${stack.port}`,
    CUTOVER_DATA_DIR: stack.dataDir,
    CUTOVER_APPROVAL_URL: stack.approvals,
    // The workers trust the app's attestations; the CLI's sign-offs still count too (set
    // CUTOVER_REQUIRE_ATTESTED=true to count only the app's).
    CUTOVER_ATTESTER_KEYS: `dev-app=${stack.secrets.publicKey}`,
    // The workers' seal on every plan their check accepts (a file of your own wins).
    CUTOVER_WORKER_KEY_FILE:
      process.env.CUTOVER_WORKER_KEY_FILE ?? devKeyFile(path.join(stack.dataDir, 'workers'), 'seal.key'),
    CUTOVER_WORKER_KEY_ID: process.env.CUTOVER_WORKER_KEY_ID ?? 'dev-workers',
    // Which of the local provider's groups hold which role (the example's policy names them too).
    CUTOVER_ROLE_GROUPS: process.env.CUTOVER_ROLE_GROUPS ?? EXAMPLE_ROLE_GROUPS,
    ...(policy ? { CUTOVER_POLICY: policy } : {}),
    // The database the example's outputs name (`warehouse`): the read-only login. Never passed to an action.
    CUTOVER_DATABASE_WAREHOUSE: warehouse.reader,
    // V1's own login, which its process reads (the worker passes its environment to actions, less its secrets).
    [WAREHOUSE_ENV]: warehouse.writer,
  };
}

/** The worker process, its JSON lines pretty-printed here (the dev stack only); the stack stops if it exits. */
async function startWorker(stack: Stack, env: NodeJS.ProcessEnv): Promise<void> {
  const worker = spawn(process.execPath, [...WORKER_NODE_OPTIONS, path.join(stack.root, 'dist', 'worker', 'main.js')], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pretty = (await import('pino-pretty')).default({
    colorize: process.stdout.isTTY,
    translateTime: 'HH:MM:ss',
    ignore: 'pid,hostname,service',
  });
  worker.stdout?.pipe(pretty);
  stack.children.push(worker);
  worker.once('exit', (code) => {
    if (!stack.stopping) {
      process.stderr.write(`the worker exited (${code}); stopping\n`);
      void stack.stopAll(1);
    }
  });
}

/** The organisation's login, here a local OpenID provider with the example's users, and the approval app. */
async function startLogin(stack: Stack, env: Record<string, string>): Promise<void> {
  const issuer = `http://127.0.0.1:${IDP_PORT}`;
  const { secrets, approvals } = stack;
  const idp = await startNodeProcess(
    [
      path.join(stack.root, 'dist', 'scripts', 'idp.js'),
      '--port',
      String(IDP_PORT),
      '--redirect',
      `${approvals}/callback`,
    ],
    { ...process.env, CUTOVER_OIDC_CLIENT_SECRET: secrets.clientSecret },
    /^idp ready /,
  );
  say(`OpenID provider (local): ${issuer}`);
  const app = await startNodeProcess(
    [path.join(stack.root, 'dist', 'client', 'cli.js'), 'serve', '--port', String(APPROVALS_PORT)],
    {
      ...process.env,
      TEMPORAL_ADDRESS: env.TEMPORAL_ADDRESS,
      CUTOVER_APPROVAL_URL: approvals,
      CUTOVER_SESSION_SECRET: secrets.sessionSecret,
      CUTOVER_ATTESTER_KEY_ID: 'dev-app',
      CUTOVER_ATTESTER_KEY_FILE: secrets.keyFile,
      CUTOVER_OIDC_ISSUER: issuer,
      CUTOVER_OIDC_CLIENT_ID: 'cutover-approvals',
      CUTOVER_OIDC_CLIENT_SECRET: secrets.clientSecret,
      // With the workers' key, each cutover's page shows its record's digest and whether it verified.
      CUTOVER_WORKER_KEY_FILE: env.CUTOVER_WORKER_KEY_FILE,
      CUTOVER_WORKER_KEY_ID: env.CUTOVER_WORKER_KEY_ID,
      CUTOVER_LOG_LEVEL: process.env.CUTOVER_LOG_LEVEL ?? 'warn',
    },
    /^approvals ready /,
  );
  say(`approvals: ${approvals} (sign in as ${EXAMPLE_LOGINS.map((u) => u.login).join(', ')}; password <login>-pass)`);
  for (const child of [idp, app]) {
    stack.children.push(child);
    child.once('exit', (code) => {
      if (!stack.stopping) {
        process.stderr.write(`a dev stack process exited (${code}); stopping\n`);
        void stack.stopAll(1);
      }
    });
  }
}

/** The example cutover, started unless it is running already, and how to follow and approve it. */
async function startExample(stack: Stack, address: string): Promise<void> {
  process.env.TEMPORAL_ADDRESS = address;
  const plan = await loadPlan(path.join(stack.root, 'examples', 'portfolio-kpi', 'plan.yaml'));
  const c = await connect(process.env);
  try {
    let id: string;
    try {
      const handle = await startCutover(c, { ...plan, initiator: plan.initiator ?? 'rm' });
      id = handle.workflowId;
      say(`started the example cutover ${id}`);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      id = `cutover-${plan.release}`;
      say(`the example cutover ${id} is already running: ${(await status(c, id)).phase}`);
    }
    say(`  UI:     ${stack.ui}/namespaces/default/workflows/${id}`);
    say(`  watch:  npx cutover status ${id} --watch`);
    say(`  approve in the browser: ${stack.approvals}/cutovers/${encodeURIComponent(id)}`);
    say('    (ana engineering, bo qa, cy architecture, di operations, ed business; password <login>-pass)');
    say('  or from the command line, when it waits at the gate (any order):');
    for (const [role, name] of EXAMPLE_APPROVERS) say(`    npx cutover approve ${id} --role ${role} --as ${name}`);
    say(`  or stop it:  npx cutover reject ${id} --role qa --as bo --comment "not yet"`);
    say("  after the last approval the deploy waits a minute for its change window (the example policy's notice)");
    say(`  roll back any time after deploy:  npx cutover rollback ${id} --reason "why"`);
  } finally {
    await c.close();
  }
}

/** The dbt demo's cutover (its plan written by `cutover plan init --dbt`), started unless it runs already. */
async function startDbtExample(stack: Stack, address: string): Promise<void> {
  process.env.TEMPORAL_ADDRESS = address;
  say('writing the dbt demo plan (cutover plan init --dbt: both versions parsed by dbt)…');
  const file = jafflePlan(stack.root, path.join(stack.root, 'dist', 'client', 'cli.js'));
  const plan = await loadPlan(file);
  const c = await connect(process.env);
  try {
    let id: string;
    try {
      id = (await startCutover(c, { ...plan, initiator: plan.initiator ?? 'rm' })).workflowId;
      say(`started the dbt demo cutover ${id} (jaffle shop, V2 refactors customers; plan: ${file})`);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      id = `cutover-${plan.release}`;
      say(`the dbt demo cutover ${id} is already running: ${(await status(c, id)).phase}`);
    }
    say(`  UI:     ${stack.ui}/namespaces/default/workflows/${id}`);
    say(`  watch:  npx cutover status ${id} --watch   (the models V2 changes, diffed where dbt built them)`);
    say(`  approve in the browser: ${stack.approvals}/cutovers/${encodeURIComponent(id)}, or as above`);
    say(`  what consumers read once it is published: the jaffle database's schema jaffle`);
  } finally {
    await c.close();
  }
}

/** The stack, step by step: the servers, the worker, the login and the app, then the example; Ctrl-C stops all. */
async function runDevStack(options: DevStackOptions): Promise<void> {
  const root = projectRoot();
  const dataDir = path.resolve(process.env.CUTOVER_DATA_DIR ?? path.join(root, '.data'));
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? 8233;
  const { server, postgres, warehouse } = await startServers(dataDir, port, uiPort);
  const stack: Stack = {
    root,
    dataDir,
    port,
    ui: `http://127.0.0.1:${uiPort}`,
    approvals: `http://127.0.0.1:${APPROVALS_PORT}`,
    secrets: devApprovalSecrets(dataDir),
    children: [],
    stopping: false,
    async stopAll(code: number): Promise<never> {
      if (stack.stopping) process.exit(code);
      stack.stopping = true;
      say('stopping the approval app, the OpenID provider, the worker and the dev server…');
      // A worker drains for up to its shutdown grace (30 s): 40 s before SIGKILL.
      await Promise.all(stack.children.map((child) => stopChild(child, 40_000)));
      await Promise.all([server.stop(), postgres.stop()]);
      say('stopped.');
      process.exit(code);
    },
  };
  process.on('SIGINT', () => void stack.stopAll(0));
  process.on('SIGTERM', () => void stack.stopAll(0));
  const env = {
    ...workerEnvironment(stack, options.example, warehouse),
    ...(options.dbt ? dbtEnvironment(stack, await setUpJaffleDatabase(postgres.url)) : {}),
  };
  await startWorker(stack, env);
  await startLogin(stack, env);
  if (options.example) await startExample(stack, env.TEMPORAL_ADDRESS);
  if (options.dbt) await startDbtExample(stack, env.TEMPORAL_ADDRESS);
  say('Ctrl-C stops them all.');
  await new Promise(() => undefined);
}

runDevStack({ example: process.argv.includes('--example'), dbt: process.argv.includes('--dbt') }).catch(
  (err: unknown) => {
    process.stderr.write(`dev: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
