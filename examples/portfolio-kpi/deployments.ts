/**
 * Deployments on disk, for the example cutover: an environment folder holds `releases/v1`, `releases/v2`
 * and a `current` symlink that switches atomically (a new link renamed over the old). Every change appends
 * its CUTOVER_IDEMPOTENCY_KEY to `ledger.jsonl`, and a step already done for a key is not done twice.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hostname } from 'node:os';
import { generateTape } from './generate';

export type Engine = 'v1' | 'v2';

export interface EnvironmentState {
  current: Engine;
  previous?: Engine;
  releases: Engine[];
}

/** Creates the environment if it is new: both releases, `current` on V1, and a production-like tape. */
export async function ensureEnvironment(dir: string, tapeRows = 20_000): Promise<void> {
  for (const engine of ['v1', 'v2'] as const) {
    const release = path.join(dir, 'releases', engine);
    if (
      !existsSync(path.join(release, 'release.json')) &&
      !existsSync(path.join(dir, 'releases', `${engine}.decommissioned`))
    ) {
      await mkdir(release, { recursive: true });
      await writeFile(path.join(release, 'release.json'), JSON.stringify({ engine }) + '\n');
    }
  }
  if (!existsSync(path.join(dir, 'current'))) await switchTo(dir, 'v1');
  const tape = path.join(dir, 'tape.csv');
  if (!existsSync(tape)) {
    await generateTape(tapeRows, 42, `${tape}.partial`);
    await rename(`${tape}.partial`, tape);
  }
}

async function switchTo(dir: string, engine: Engine): Promise<void> {
  const tmp = path.join(dir, `.current-${process.pid}`);
  await rm(tmp, { force: true });
  await symlink(path.join('releases', engine), tmp);
  await rename(tmp, path.join(dir, 'current'));
}

export async function readState(dir: string): Promise<EnvironmentState> {
  const target = await readlink(path.join(dir, 'current'));
  const current = path.basename(target) as Engine;
  const raw = JSON.parse(await readFile(path.join(dir, 'current', 'release.json'), 'utf8')) as { engine: Engine };
  if (raw.engine !== current) throw new Error(`current points to ${current} but its release says ${raw.engine}`);
  let previous: Engine | undefined;
  try {
    previous = (await readFile(path.join(dir, 'previous'), 'utf8')).trim() as Engine;
  } catch {
    previous = undefined;
  }
  const releases = (['v1', 'v2'] as const).filter((e) => existsSync(path.join(dir, 'releases', e, 'release.json')));
  return { current, releases, ...(previous ? { previous } : {}) };
}

/**
 * Appends one line to the environment's ledger, with who did it: `worker` is the cutover worker that started
 * this process, as Temporal names it (`pid@host`), and `queue` the task queue its activity came from.
 */
async function ledger(dir: string, entry: Record<string, unknown>): Promise<void> {
  const by = { worker: `${process.ppid}@${hostname()}`, queue: process.env.CUTOVER_ACTIVITY_QUEUE ?? null };
  await appendFile(
    path.join(dir, 'ledger.jsonl'),
    JSON.stringify({ at: new Date().toISOString(), ...entry, ...by }) + '\n',
  );
}

/** Whether `key` already completed `action` here (a retried step must be harmless). */
async function done(dir: string, action: string, key: string | undefined): Promise<boolean> {
  if (!key) return false;
  try {
    const lines = (await readFile(path.join(dir, 'ledger.jsonl'), 'utf8')).split('\n').filter(Boolean);
    return lines.some((line) => {
      const e = JSON.parse(line) as { action?: string; key?: string; phase?: string };
      return e.action === action && e.key === key && e.phase === 'done';
    });
  } catch {
    return false;
  }
}

/** Switches `current` to `engine`, remembering what it was. */
export async function deploy(dir: string, engine: Engine, key?: string, holdMs = 0): Promise<EnvironmentState> {
  await ensureEnvironment(dir);
  if (await done(dir, 'deploy', key)) return readState(dir);
  const before = await readState(dir);
  if (!before.releases.includes(engine)) throw new Error(`release ${engine} is not installed in ${dir}`);
  await ledger(dir, { action: 'deploy', key, phase: 'start', from: before.current, to: engine });
  if (holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs));
  if (before.current !== engine) {
    await writeFile(path.join(dir, 'previous'), before.current + '\n');
    await switchTo(dir, engine);
  }
  await ledger(dir, { action: 'deploy', key, phase: 'done', from: before.current, to: engine });
  return readState(dir);
}

/** Switches back to the previous release (V1 if none is recorded). */
export async function undo(dir: string, key?: string): Promise<EnvironmentState> {
  await ensureEnvironment(dir);
  if (await done(dir, 'undo', key)) return readState(dir);
  const before = await readState(dir);
  const target: Engine = before.previous && before.previous !== before.current ? before.previous : 'v1';
  await ledger(dir, { action: 'undo', key, phase: 'start', from: before.current, to: target });
  if (before.current !== target) await switchTo(dir, target);
  await rm(path.join(dir, 'previous'), { force: true });
  await ledger(dir, { action: 'undo', key, phase: 'done', from: before.current, to: target });
  return readState(dir);
}

/** Removes a release that is not current. */
export async function decommission(dir: string, engine: Engine, key?: string): Promise<EnvironmentState> {
  if (await done(dir, 'decommission', key)) return readState(dir);
  const before = await readState(dir);
  if (before.current === engine) throw new Error(`refusing to decommission ${engine}: it is the current release`);
  await ledger(dir, { action: 'decommission', key, phase: 'start', release: engine });
  await rm(path.join(dir, 'releases', engine), { recursive: true, force: true });
  await writeFile(path.join(dir, 'releases', `${engine}.decommissioned`), new Date().toISOString() + '\n');
  await ledger(dir, { action: 'decommission', key, phase: 'done', release: engine });
  return readState(dir);
}
