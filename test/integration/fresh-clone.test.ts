/**
 * The README's commands in the order a newcomer types them, on fresh clones of this repository's last commit:
 *
 * - `npx cutover …` typed while `npm start` is still building (the dependencies installed, nothing built yet) says
 *   the CLI is not built yet; once the build is done the same `npx cutover` runs it. npx links a project's own bins
 *   once and keeps the link (npm/cli#9766): the bin is a file that is there before any build (bin/cutover.cjs), so
 *   the link it keeps is never one without a bin.
 * - `npm ci` alone builds (`prepare`), so `npx cutover` works straight after it.
 *
 * npx's cache is a folder of the test's own; `npm ci` installs from npm's cache as the suite's own `npm ci` left it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/harness';

jest.setTimeout(600_000);

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const work = tempDir('fresh-clone-');
/** npx's cache for these clones alone: what it links there is what these tests made it link. */
const env = { ...process.env, npm_config_cache: path.join(work, 'npm-cache'), npm_config_yes: 'true' };

/** A fresh clone of the repository's last commit, at `name` in the test's folder. */
async function clone(name: string): Promise<string> {
  const dir = path.join(work, name);
  await run('git', ['clone', '--quiet', ROOT, dir]);
  return dir;
}

/** `npx cutover …` in `dir`, its exit code and output (a failure is an answer here, not an error). */
async function npxCutover(dir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('npx', ['cutover', ...args], { cwd: dir, env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('npx cutover typed before the build says so, and runs the CLI once the build is done', async () => {
  const dir = await clone('typed-early');
  // The dependencies installed and nothing built yet: where `npm start` still builds (its own, or prepare's).
  await run('npm', ['ci', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: dir,
    env: process.env,
  });
  expect(existsSync(path.join(dir, 'dist'))).toBe(false);
  const early = await npxCutover(dir, ['status', 'cutover-portfolio-kpi-v2', '--watch']);
  expect(early.code).toBe(1);
  expect(early.stderr).toMatch(/^cutover: not built yet \(no dist\/client\/cli\.js\): `npm ci` builds it/m);
  await run('npm', ['run', 'build'], { cwd: dir, env: process.env });
  const later = await npxCutover(dir, ['--help']);
  expect(later.stderr).toBe('');
  expect(later.code).toBe(0);
  expect(later.stdout).toMatch(/^Usage: cutover \[options\] \[command\]/);
});

test('npm ci builds: npx cutover runs straight after it', async () => {
  const dir = await clone('npm-ci');
  await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir, env: process.env });
  expect(existsSync(path.join(dir, 'dist', 'client', 'cli.js'))).toBe(true);
  const help = await npxCutover(dir, ['plan', '--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^Usage: cutover plan/);
});
