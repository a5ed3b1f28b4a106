/**
 * `npm test` after the build: the checks (lint, the format check, typecheck) side by side with provisioning the
 * servers, then every tier of jest.config.js and the chaos suite, one jest run each, and at the end a table of
 * each step's time and counts, then one closing line `tests: N passed, N failed, N skipped`. A failing check or
 * tier does not stop the others (one run tells everything that is broken); a failed provisioning does, since no
 * tier after it can run. The exit code is 1 if anything failed.
 *
 * The checks and provisioning share the two cores well: provisioning mostly waits (downloads, a Maven build,
 * the Go toolchain), the checks compute (bench/README.md has the times of both ways).
 *
 * `node dist/scripts/test-tiers.js fast workflows` runs only the tiers named (chaos among them), without checks.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import Table from 'cli-table3';
import { projectRoot } from '../toolchain/tools';

interface TierRun {
  tier: string;
  seconds: number;
  passed: number;
  failed: number;
  skipped: number;
  /** jest's exit code: a suite that failed to load fails the tier though it counted no failed test. */
  exitCode: number;
}

/** jest's --json output, as far as it is read here. */
interface JestJson {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
}

/**
 * How each tier's files share the cores: one jest run per lane, one after the other, counted as the tier.
 * `workers: 'all'`: every core. The tiers that only compute (fast, simulations) use every core. The others start
 * servers and processes: their files run two at a time where they mostly wait (a dev server's timers, a killed
 * worker's 15 s heartbeat timeout: the environments, operations and worker-crash files left the CPU 70–100 % idle
 * when run alone, vmstat 2026-12-02), and one at a time where a figure is measured or a process's scheduling is
 * the subject (test/integration/processes: nice values, a process tree's memory, the stress judge on real pipelines), and in
 * the browser tier.
 */
interface Lane {
  /** Path patterns of the tier's files this lane runs (all when absent). */
  paths?: string[];
  workers: number | 'all';
}
const LANES: Record<string, Lane[]> = {
  fast: [{ workers: 'all' }],
  simulations: [{ workers: 'all' }],
  workflows: [{ workers: 2 }],
  integration: [
    { paths: ['test/integration/processes/'], workers: 1 },
    { paths: ['test/integration/[^/]+\\.test\\.ts$'], workers: 2 },
  ],
  ui: [{ workers: 1 }],
  chaos: [{ workers: 2 }],
};

function runTier(root: string, tier: string, args: string[], outDir: string): TierRun {
  const started = process.hrtime.bigint();
  const total: TierRun = { tier, seconds: 0, passed: 0, failed: 0, skipped: 0, exitCode: 0 };
  for (const [index, lane] of (LANES[tier] ?? [{ workers: 1 }]).entries()) {
    const outputFile = path.join(outDir, `${tier}-${index}.json`);
    const workers = lane.workers === 'all' ? availableParallelism() : lane.workers;
    const jest = spawnSync(
      process.execPath,
      [
        require.resolve('jest/bin/jest', { paths: [root] }),
        ...args,
        ...(lane.paths ? ['--testPathPatterns', ...lane.paths] : []),
        ...(workers > 1 ? [`--maxWorkers=${workers}`] : ['--runInBand']),
        '--json',
        `--outputFile=${outputFile}`,
      ],
      { cwd: root, stdio: 'inherit' },
    );
    try {
      const json = JSON.parse(readFileSync(outputFile, 'utf8')) as JestJson;
      total.passed += json.numPassedTests;
      total.failed += json.numFailedTests;
      total.skipped += json.numPendingTests + json.numTodoTests;
    } catch {
      // jest died before writing its results: the exit code says so.
    }
    if (jest.status !== 0) total.exitCode = jest.status ?? 1;
  }
  total.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return total;
}

/** A check or provisioning: one npm script, its output held back and printed whole when it ends. */
interface StepRun {
  step: string;
  seconds: number;
  exitCode: number;
}

/** The npm scripts run side by side before the tiers; `provision` must pass for the tiers to run. */
const CHECKS = ['lint', 'format:check', 'typecheck', 'provision'] as const;

function runScript(root: string, script: string): Promise<StepRun> {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    // npm's own launcher, as `npm run` would be typed: the scripts stay written once, in package.json.
    const child = spawn(
      process.env.npm_execpath ? process.execPath : 'npm',
      [...(process.env.npm_execpath ? [process.env.npm_execpath] : []), 'run', '--silent', script],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    const done = (exitCode: number) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const text = Buffer.concat(output).toString('utf8').trimEnd();
      console.log(
        `\n── ${script}: ${exitCode === 0 ? 'ok' : `exit ${exitCode}`} (${seconds.toFixed(1)} s)${text ? `\n${text}` : ''}`,
      );
      resolve({ step: script, seconds, exitCode });
    };
    child.once('error', (err) => {
      output.push(Buffer.from(String(err)));
      done(1);
    });
    child.once('close', (code) => done(code ?? 1));
  });
}

async function main(): Promise<void> {
  const root = projectRoot();
  // jest's own configuration file (CommonJS) is where the tiers and their order are written once.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const config = require(path.join(root, 'jest.config.js')) as { projects: { displayName: string }[] };
  const outDir = mkdtempSync(path.join(tmpdir(), 'cutover-tiers-'));
  const runs: TierRun[] = [];
  const named = process.argv.slice(2);
  const wanted = (tier: string) => named.length === 0 || named.includes(tier);
  const started = process.hrtime.bigint();
  const checks = named.length === 0 ? await Promise.all(CHECKS.map((script) => runScript(root, script))) : [];
  const checksSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const provisioned = checks.every((c) => c.step !== 'provision' || c.exitCode === 0);
  try {
    for (const { displayName } of provisioned ? config.projects : []) {
      if (wanted(displayName)) runs.push(runTier(root, displayName, ['--selectProjects', displayName], outDir));
    }
    if (provisioned && wanted('chaos')) runs.push(runTier(root, 'chaos', ['--config', 'jest.chaos.config.js'], outDir));
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
  const table = new Table({
    head: ['tier', 'time', 'passed', 'failed', 'skipped', 'exit'],
    style: { head: [], border: [] },
  });
  const minutes = (s: number) => `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}`;
  for (const check of checks) table.push([check.step, minutes(check.seconds), '', '', '', check.exitCode]);
  if (checks.length > 0) table.push(['(side by side)', minutes(checksSeconds), '', '', '', '']);
  if (!provisioned) console.log('\nprovisioning failed: no tier can run without the servers (see its output above)');
  for (const run of runs) {
    table.push([run.tier, minutes(run.seconds), run.passed, run.failed, run.skipped, run.exitCode]);
  }
  const sum = (key: 'passed' | 'failed' | 'skipped' | 'seconds') => runs.reduce((n, run) => n + run[key], 0);
  table.push(['all', minutes(checksSeconds + sum('seconds')), sum('passed'), sum('failed'), sum('skipped'), '']);
  console.log(`\n${table.toString()}`);
  console.log(`tests: ${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped`);
  const passed =
    provisioned &&
    checks.every((check) => check.exitCode === 0) &&
    runs.every((run) => run.exitCode === 0 && run.failed === 0);
  process.exit(passed ? 0 : 1);
}

void main();
