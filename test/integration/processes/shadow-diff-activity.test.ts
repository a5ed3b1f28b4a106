/**
 * The shadow activity's keyed diff in MockActivityEnvironment: a cancellation of the activity (a rollback
 * request cancels whatever phase is running) interrupts DuckDB's query instead of waiting for it to finish.
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../../activities';
import { workdirFor } from '../../../activities/datasets';
import type { ShadowResult } from '../../../shapes/phases';
import { tempDir } from '../../helpers/harness';
import { makePlan, nodeRun } from '../../helpers/plans';

const ROWS = 2_000_000;
const dir = tempDir('shadow-diff-');
const dataDir = path.join(dir, 'data');
mkdirSync(dataDir, { recursive: true });
const tables = { v1: path.join(dir, 'v1.csv'), v2: path.join(dir, 'v2.csv') };

beforeAll(async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  for (const [side, file] of Object.entries(tables)) {
    const amount = side === 'v2' ? 'CASE WHEN i % 100 = 0 THEN i * 1.5 + 1 ELSE i * 1.5 END' : 'i * 1.5';
    await connection.run(
      `COPY (SELECT 'L' || i AS loan_id, ${amount} AS amount, 'seg' || (i % 7) AS segment FROM range(${ROWS}) t(i)) TO '${file}' (HEADER)`,
    );
  }
  connection.closeSync();
  instance.closeSync();
}, 120_000);

/** A pipeline that "writes" its output table by copying a prepared one, and prints its KPIs. */
function pipeline(table: string) {
  const script = `require('fs').copyFileSync(${JSON.stringify(table)}, process.argv[1]); process.stdout.write(JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, rows: 10 }))`;
  return { run: [...nodeRun(script), '{output:loans}'] };
}

const plan = makePlan({
  baseline: pipeline(tables.v1),
  candidate: pipeline(tables.v2),
  shadow: {
    datasets: [{ generate: { rows: 10, seed: 1 } }],
    noiseRuns: 0,
    tolerances: { PAR30: { relative: 0.05 } },
    outputs: { loans: { key: ['loan_id'], maxDifferingRows: ROWS } },
  },
});

test('a cancellation interrupts the diff in DuckDB and removes its spill folder', async () => {
  const workflowId = 'shadow-diff-cancel';
  const spill = path.join(workdirFor(dataDir, workflowId), 'outputs', 'dataset-0', 'duckdb-spill');
  // A tight memory limit makes DuckDB spill: the spill folder appearing shows the diff is under way.
  const activities = createActivities({ dataDir, diff: { memoryLimit: '160MB', threads: 2 } });
  const env = new MockActivityEnvironment();
  let cancelledWhileSpilling = false;
  const watcher = setInterval(() => {
    if (!cancelledWhileSpilling && existsSync(spill) && readdirSync(spill).length > 0) {
      cancelledWhileSpilling = true;
      env.cancel();
    }
  }, 10);
  const outcome = await env
    .run(activities.runShadow, { workflowId, release: plan.release, key: `${workflowId}/shadow`, plan })
    .then(
      () => 'completed',
      (err: Error) => `${err.name}: ${err.message}`,
    );
  clearInterval(watcher);
  expect(cancelledWhileSpilling).toBe(true);
  // Interrupted, not run to its end (which would have returned the diff).
  expect(outcome).toBe('DiffCancelledError: diff cancelled: the query was interrupted');
  expect(existsSync(spill)).toBe(false);
}, 120_000);

test('without a cancellation the same diff completes: every differing row counted', async () => {
  const workflowId = 'shadow-diff-complete';
  const activities = createActivities({ dataDir, diff: { memoryLimit: '160MB', threads: 2 } });
  const env = new MockActivityEnvironment();
  const result: ShadowResult = await env.run(activities.runShadow, {
    workflowId,
    release: plan.release,
    key: `${workflowId}/shadow`,
    plan,
  });
  const loans = result.datasets[0]?.outputs?.[0];
  expect(loans).toMatchObject({ verdict: 'pass', rows: { both: ROWS, differing: ROWS / 100 } });
  expect(loans?.columns.find((c) => c.column === 'amount')).toMatchObject({ differing: ROWS / 100, maxAbsolute: 1 });
}, 120_000);
