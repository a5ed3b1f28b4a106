/**
 * What every bench shares: where results go, and how a sample is summarised (medians and spread, never a
 * single run: the machines are shared and noisy).
 */
import { spawn } from 'node:child_process';
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

export const TIME = '/usr/bin/time';

export interface Measured {
  wallMs: number;
  peakRssMb: number;
  stdout: string;
}

/** Runs a command under /usr/bin/time (GNU): wall time measured here, peak RSS from the kernel via time. */
export function measure(argv: string[]): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(TIME, ['-f', '%M', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) return reject(new Error(`${argv.join(' ')} exited ${code}: ${stderr.slice(-500)}`));
      const kb = Number(stderr.trim().split('\n').pop());
      resolve({ wallMs, peakRssMb: kb / 1024, stdout });
    });
  });
}
