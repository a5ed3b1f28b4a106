/**
 * What a fleet's machine gets: `npm pack`'s tarball, installed into an empty folder with production
 * dependencies only, runs `cutover worker --environment …` against the dev server: one installed worker for
 * the orchestrator, staging and compute, one for production, and a cutover runs on them to its end. Needs
 * the built tree (`npm test` builds first); dependencies come from npm's cache or registry.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cutoverWorkflow } from '../../workflows';
import { statusQuery } from '../../workflows/messages';
import type { CutoverStatus } from '../../shapes/status';
import { approveAll, tempDir, uniqueId } from '../helpers/harness';
import { makePlan, makePlanInput } from '../helpers/plans';
import { useDevServer } from '../helpers/temporal';

const ROOT = path.resolve(__dirname, '..', '..');
const temporal = useDevServer();

test('the packed tarball installs without dev dependencies and its `cutover worker --environment` workers run a cutover to its end', async () => {
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
      'bin/cutover.cjs',
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
  /** `cutover worker --environment ROLES` from the installed package, with its log collected. */
  const startInstalled = (roles: string) => {
    const child = temporal.track(
      spawn(path.join(installed, '.bin', 'cutover'), ['worker', '--environment', roles], {
        cwd: app,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          TEMPORAL_ADDRESS: temporal.server.address,
          CUTOVER_TASK_QUEUE: taskQueue,
          CUTOVER_DATA_DIR: path.join(dir, `data-${roles}`),
          CUTOVER_LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const out = { child, log: '' };
    child.stdout.on('data', (chunk: Buffer) => (out.log += chunk.toString()));
    return out;
  };
  const main = startInstalled('orchestrator,staging,compute');
  const production = startInstalled('production');

  const base = makePlanInput();
  const plan = makePlan({
    production: {
      ...base.production,
      monitor: { ...base.production.monitor, window: '2s', interval: '1s' },
      reconcile: { every: '1s', days: 1 },
      decommission: { ...base.production.decommission, afterCleanDays: 1 },
    },
    environments: {
      staging: { taskQueue: `${taskQueue}-staging` },
      production: { taskQueue: `${taskQueue}-production` },
      compute: { taskQueue: `${taskQueue}-compute` },
    },
  });
  const handle = await temporal.client.workflow.start(cutoverWorkflow, {
    taskQueue,
    workflowId: uniqueId('package'),
    args: [plan],
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
  await approveAll(handle);
  // Production's work ran on the installed production worker: no other process polls its queue.
  expect((await handle.result()).state).toBe('completed');
  // Each installed worker's first line names the queues it polled.
  const firstLine = (log: string) => JSON.parse(log.split('\n')[0] ?? '{}') as { queues?: Record<string, string> };
  expect(Object.keys(firstLine(main.log).queues ?? {})).toEqual([
    taskQueue,
    `${taskQueue}-staging`,
    `${taskQueue}-compute`,
  ]);
  expect(firstLine(production.log).queues).toEqual({
    [`${taskQueue}-production`]: 'production: deployProduction, runStep, probe',
  });

  for (const worker of [main.child, production.child]) {
    const exited = new Promise<number | null>((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
}, 400_000);
