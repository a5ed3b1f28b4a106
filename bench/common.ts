/**
 * What every bench shares: where results go, and how a sample is summarised (medians and spread, never a
 * single run: the machines are shared and noisy).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { max, min, quantile } from 'simple-statistics';
import { projectRoot } from '../toolchain/tools';

export const RESULTS = path.join(projectRoot(), 'bench', 'results');

/** Writes bench/results/<name>.json with the time it was measured. */
export async function save(name: string, data: object): Promise<void> {
  await mkdir(RESULTS, { recursive: true });
  await writeFile(
    path.join(RESULTS, `${name}.json`),
    JSON.stringify({ at: new Date().toISOString(), ...data }, null, 2),
  );
}

export interface Spread {
  n: number;
  min: number;
  p50: number;
  p95: number;
  max: number;
}

export function spread(values: number[]): Spread {
  if (values.length === 0) throw new Error('no samples');
  return {
    n: values.length,
    min: min(values),
    p50: quantile(values, 0.5),
    p95: quantile(values, 0.95),
    max: max(values),
  };
}
