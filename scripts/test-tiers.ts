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
 * The tiers whose files only compute (no server, no process) run their files side by side on every core (jest's
 * default leaves one free, which on two cores is one file at a time); the rest run in band: they start servers
 * and processes that two cores share, and their timeouts assume it.
 */
const PARALLEL_TIERS = new Set(['fast', 'simulations']);

function runTier(root: string, tier: string, args: string[], outDir: string): TierRun {
  const outputFile = path.join(outDir, `${tier}.json`);
  const started = process.hrtime.bigint();
  const jest = spawnSync(
    process.execPath,
    [
      require.resolve('jest/bin/jest', { paths: [root] }),
      ...args,
      ...(PARALLEL_TIERS.has(tier) ? [`--maxWorkers=${availableParallelism()}`] : ['--runInBand']),
      '--json',
      `--outputFile=${outputFile}`,
    ],
    { cwd: root, stdio: 'inherit' },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  let counts = { passed: 0, failed: 0, skipped: 0 };
  try {
    const json = JSON.parse(readFileSync(outputFile, 'utf8')) as JestJson;
    counts = {
      passed: json.numPassedTests,
      failed: json.numFailedTests,
      skipped: json.numPendingTests + json.numTodoTests,
    };
  } catch {
    // jest died before writing its results: the exit code says so.
  }
  return { tier, seconds, ...counts, exitCode: jest.status ?? 1 };
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
