/**
 * Datasets stay on disk, in the cutover's working folder; history only carries their paths and sizes.
 * Generation is idempotent: the same rows and seed give the same file, written once (atomically).
 */
import { mkdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import type { CutoverPlan, Dataset } from '../plan/schema';
import { ActionError } from './errors';
import { runAction, type ActionGuard } from './runner';
import { FailureType } from '../plan/failures';

export interface DatasetRef {
  label: string;
  path: string;
  rows?: number;
}

/** The cutover's working folder under the worker's data folder. */
export function workdirFor(dataDir: string, workflowId: string): string {
  return path.join(dataDir, 'work', workflowId.replace(/[^A-Za-z0-9._-]/g, '_'));
}

/** How a phase activity makes its datasets: its plan, working folder, idempotency key, signal and guard. */
export interface DatasetRun {
  plan: CutoverPlan;
  workdir: string;
  /** The prefix of the generator's idempotency key. */
  key: string;
  signal?: AbortSignal;
  onTick?: () => void;
  guard?: ActionGuard;
}

/** Makes sure `dataset` exists on disk and returns where. */
export async function materialise(dataset: Dataset, run: DatasetRun): Promise<DatasetRef> {
  const { plan } = run;
  if ('file' in dataset) {
    const file = path.resolve(plan.baseDir ?? process.cwd(), dataset.file);
    try {
      await stat(file);
    } catch {
      throw new ActionError(`dataset not found: ${file}`, FailureType.InvalidPlan, false, { file });
    }
    return { label: path.basename(file), path: file };
  }
  return generate(dataset.generate, run);
}

/** The plan's generator's dataset of `rows` rows from `seed`: made once, then found on disk. */
export async function generate(
  { rows, seed }: { rows: number; seed: number },
  { plan, workdir, key, signal, onTick, guard }: DatasetRun,
): Promise<DatasetRef> {
  if (!plan.generator) throw new ActionError('the plan has no generator action', FailureType.InvalidPlan, false);
  const dir = path.join(workdir, 'datasets');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `rows-${rows}-seed-${seed}.csv`);
  const ref = { label: `${rows} rows (seed ${seed})`, path: file, rows };
  try {
    await stat(file);
    return ref;
  } catch {
    // Not there yet: generate it.
  }
  const partial = `${file}.partial-${process.pid}`;
  await runAction({
    action: plan.generator,
    idempotencyKey: `${key}/generate-${rows}-${seed}`,
    placeholders: { rows, seed, dataset: partial, release: plan.release, workdir },
    ...(plan.baseDir ? { baseDir: plan.baseDir } : {}),
    ...(signal ? { signal } : {}),
    ...(onTick ? { onTick } : {}),
    ...(guard ? { guard } : {}),
  });
  await rename(partial, file);
  return ref;
}
