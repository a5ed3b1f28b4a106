/**
 * What a fleet's machine gets: `npm pack`'s tarball, installed into an empty folder with production
 * dependencies only, runs `cutover worker` against the dev server, and a cutover runs on that worker alone up
 * to its gate. Needs the built tree (`npm test` builds first); dependencies come from npm's cache or registry.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cutoverWorkflow } from '../../workflows';
import { statusQuery } from '../../workflows/messages';
import type { CutoverStatus } from '../../workflows/status';
import { tempDir, uniqueId } from '../helpers/harness';
import { makePlan } from '../helpers/plans';
import { useDevServer } from '../helpers/temporal';

const ROOT = path.resolve(__dirname, '..', '..');
const temporal = useDevServer();

test('the packed tarball installs without dev dependencies and its `cutover worker` runs a cutover to the gate', async () => {
  expect(existsSync(path.join(ROOT, 'dist', 'workflow-bundle.js'))).toBe(true);
  const dir = tempDir('package-');
  // The tree is built already: pack it as it is.
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
      cwd: ROOT,
      encoding: 'utf8',
    }),
  ) as { filename: string; files: { path: string }[] }[];
  const files = packed!.files.map((f) => f.path);
  expect(files).toEqual(
    expect.arrayContaining([
      'dist/client/cli.js',
      'dist/worker/main.js',
      'dist/workflow-bundle.js',
      'dist/activities/launcher-thread.cjs',
    ]),
  );
  expect(files.filter((f) => /^(test|bench|dist\/bench)\/|\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);

  const app = path.join(dir, 'app');
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'fleet-machine', private: true }));
  execFileSync(
    'npm',
    ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', path.join(dir, packed!.filename)],
    { cwd: app, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const installed = path.join(app, 'node_modules');
  expect(existsSync(path.join(installed, 'cutover', 'dist', 'workflow-bundle.js'))).toBe(true);
  // No dev dependency came along: no compiler, no test runner.
  expect(existsSync(path.join(installed, 'typescript'))).toBe(false);
  expect(existsSync(path.join(installed, 'jest'))).toBe(false);

  const taskQueue = uniqueId('tq-package');
  const worker = temporal.track(
    spawn(path.join(installed, '.bin', 'cutover'), ['worker'], {
      cwd: app,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TEMPORAL_ADDRESS: temporal.server.address,
        CUTOVER_TASK_QUEUE: taskQueue,
        CUTOVER_DATA_DIR: path.join(dir, 'data'),
        CUTOVER_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  let log = '';
  worker.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));

  const handle = await temporal.client.workflow.start(cutoverWorkflow, {
    taskQueue,
    workflowId: uniqueId('package'),
    args: [makePlan()],
  });
  let status: CutoverStatus | undefined;
  const deadline = Date.now() + 150_000;
  while (Date.now() < deadline) {
    status = await handle.query(statusQuery);
    if (status.state !== 'running') break;
    await new Promise((r) => setTimeout(r, 500));
  }
  expect(status?.state).toBe('awaiting-signoff');
  expect(status?.phases.filter((p) => p.outcome === 'passed').map((p) => p.phase)).toEqual([
    'staging',
    'shadow',
    'stress',
    'rollback-rehearsal',
  ]);
  // The installed package's own worker ran it: its log names the task queue it polled.
  expect(log).toContain(taskQueue);
  await handle.cancel();

  const exited = new Promise<number | null>((resolve) => worker.once('exit', resolve));
  worker.kill('SIGTERM');
  expect(await exited).toBe(0);
}, 400_000);
