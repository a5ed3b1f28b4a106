/**
 * The local stack: the Temporal dev server (state in a SQLite file under the data folder, UI on 8233) and a
 * worker process, optionally with the example cutover started. Ctrl-C stops both cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { connect, startCutover, status, UserError } from '../client/api';
import { EXAMPLE_APPROVERS } from '../examples/portfolio-kpi/approvers';
import { loadPlan } from '../plan/load';
import { startDevServer } from '../toolchain/dev-server';
import { projectRoot } from '../toolchain/tools';
import { workerEnv, WORKER_NODE_OPTIONS } from '../common/worker-process';

interface DevStackOptions {
  example: boolean;
  /** @default 7233 */
  port?: number;
  /** @default 8233 */
  uiPort?: number;
}

async function runDevStack(options: DevStackOptions): Promise<void> {
  const root = projectRoot();
  const dataDir = path.resolve(process.env.CUTOVER_DATA_DIR ?? path.join(root, '.data'));
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? 8233;
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`starting the Temporal dev server on 127.0.0.1:${port} (state: ${path.join(dataDir, 'temporal.sqlite')})…`);
  const server = await startDevServer({ port, uiPort, dbFile: path.join(dataDir, 'temporal.sqlite') });
  const ui = `http://127.0.0.1:${uiPort}`;
  say(`Temporal UI: ${ui}`);

  // With the example, the worker runs under the example's organisation policy (unless one is given).
  const policy =
    process.env.CUTOVER_POLICY ??
    (options.example ? path.join(root, 'examples', 'portfolio-kpi', 'policy.yaml') : undefined);
  say(`worker policy: ${policy ?? 'none (set CUTOVER_POLICY to bind plans to an organisation policy)'}`);
  const env = {
    ...workerEnv(process.env),
    TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
    CUTOVER_DATA_DIR: dataDir,
    ...(policy ? { CUTOVER_POLICY: policy } : {}),
  };
  const worker = spawn(process.execPath, [...WORKER_NODE_OPTIONS, path.join(root, 'dist', 'worker', 'main.js')], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Pretty logs in the dev stack only; the worker itself always writes JSON lines.
  const pretty = (await import('pino-pretty')).default({
    colorize: process.stdout.isTTY,
    translateTime: 'HH:MM:ss',
    ignore: 'pid,hostname,service',
  });
  worker.stdout?.pipe(pretty);
  let stopping = false;
  const stopAll = async (code: number): Promise<never> => {
    if (stopping) process.exit(code);
    stopping = true;
    say('stopping the worker and the dev server…');
    await stopChild(worker);
    await server.stop();
    say('stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));
  worker.once('exit', (code) => {
    if (!stopping) {
      process.stderr.write(`the worker exited (${code}); stopping\n`);
      void stopAll(1);
    }
  });

  if (options.example) {
    process.env.TEMPORAL_ADDRESS = env.TEMPORAL_ADDRESS;
    const plan = await loadPlan(path.join(root, 'examples', 'portfolio-kpi', 'plan.yaml'));
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
      say(`  UI:     ${ui}/namespaces/default/workflows/${id}`);
      say(`  watch:  npx cutover status ${id} --watch`);
      say('  when it waits at the gate, sign it off (any order):');
      for (const [role, name] of EXAMPLE_APPROVERS) say(`    npx cutover approve ${id} --role ${role} --as ${name}`);
      say(`  or stop it:  npx cutover reject ${id} --role qa --as bo --comment "not yet"`);
      say(`  roll back any time after deploy:  npx cutover rollback ${id} --reason "why"`);
    } finally {
      await c.close();
    }
  }
  say('Ctrl-C stops the worker and the server.');
  await new Promise(() => undefined);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  await gone;
  clearTimeout(timer);
}

runDevStack({ example: process.argv.includes('--example') }).catch((err: unknown) => {
  process.stderr.write(`dev: ${(err as Error).message}\n`);
  process.exit(1);
});
