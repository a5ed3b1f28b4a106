/**
 * The README's commands in the order a newcomer types them, on fresh clones of this repository's last commit:
 *
 * - `npx cutover …` typed before anything is built (the dependencies installed): npx links the clone into its cache,
 *   which runs the project's `prepare` (the build), and the CLI answers. npx keeps that link and never redoes it
 *   (npm/cli#9766): the bin is a file that is there before any build (bin/cutover.cjs), so the link it keeps is
 *   never one without a bin; without a build it says so, and once built the same link runs the CLI.
 * - `npm ci` alone builds (`prepare`), so `npx cutover` works straight after it.
 *
 * npx's cache is a folder of the test's own; `npm ci` installs from npm's cache as the suite's own `npm ci` left it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
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

test('npx cutover typed before any build runs the CLI, and the link npx keeps never loses its bin', async () => {
  const dir = await clone('typed-early');
  // The dependencies installed and nothing built yet: where `npm start` still builds (its own, or prepare's).
  await run('npm', ['ci', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: dir,
    env: process.env,
  });
  expect(existsSync(path.join(dir, 'dist'))).toBe(false);
  // npx links the clone into its cache, which runs its `prepare`: the build, then the CLI.
  const early = await npxCutover(dir, ['--help']);
  expect(early.code).toBe(0);
  expect(early.stdout).toMatch(/^Usage: cutover \[options\] \[command\]/);
  // The link npx keeps is reused as it is (npm/cli#9766). With the build gone (a rebuild under way), its bin is
  // still there and says so; once built again, the same link runs the CLI: never "cutover: not found".
  await rm(path.join(dir, 'dist'), { recursive: true, force: true });
  const rebuilding = await npxCutover(dir, ['status', 'cutover-portfolio-kpi-v2', '--watch']);
  expect(rebuilding.code).toBe(1);
  expect(rebuilding.stderr).toMatch(/^cutover: not built yet \(no dist\/client\/cli\.js\): `npm ci` builds it/m);
  await run('npm', ['run', 'build'], { cwd: dir, env: process.env });
  const later = await npxCutover(dir, ['--help']);
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
