/**
 * The built `portfolio-kpi` CLI (what plans and the bench run): V2's parallel path (a worker thread over the
 * last part of the file; by default on tapes of 128 MiB and more, here forced with `--parallel-min-mb 1`)
 * must give exactly the sequential answer, and an error in the worker's part must still name its exact row.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, copyFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../toolchain/tools';
import { tempDir } from '../helpers/harness';

const run = promisify(execFile);
const KPI = path.join(projectRoot(), 'dist', 'examples', 'portfolio-kpi', 'cli.js');
const dir = tempDir('kpi-cli-');
const tape = path.join(dir, 'tape.csv');

const kpi = async (...args: string[]) => JSON.parse((await run(process.execPath, [KPI, ...args])).stdout) as unknown;

beforeAll(async () => {
  await run(process.execPath, [KPI, 'generate', '--rows', '300000', '--seed', '11', '--out', tape]);
}, 60_000);

test('V2 on two threads gives exactly what one thread gives, on a tape big enough to split', async () => {
  expect(statSync(tape).size).toBeGreaterThan(2 ** 20);
  const one = await kpi('--engine', 'v2', '--threads', '1', '--input', tape);
  const two = await kpi('--engine', 'v2', '--parallel-min-mb', '1', '--input', tape);
  expect(two).toEqual(one);
  expect(one).toMatchObject({ rows: 300_000 });
});

test('a bad value in the worker thread’s part names its exact row', async () => {
  const bad = path.join(dir, 'bad.csv');
  copyFileSync(tape, bad);
  // The generator's columns: loan_id,borrower,segment,outstanding_principal,…; row 300,002 is the bad one.
  appendFileSync(bad, 'LBAD,"Okafor, N.",retail,12x.50,0,10.00,10.00,1,2024-01-01\n');
  const failed = await run(process.execPath, [KPI, '--engine', 'v2', '--parallel-min-mb', '1', '--input', bad]).then(
    () => undefined,
    (e: { code: number; stderr: string }) => e,
  );
  expect(failed?.code).toBe(1);
  expect(failed?.stderr.trim()).toBe('portfolio-kpi: row 300002, column outstanding_principal: not a number: "12x.50"');
});
