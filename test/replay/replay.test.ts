/**
 * Recorded histories of real cutovers (happy path, rejection, expiry, a failure in each phase, manual and
 * automatic rollback) must replay on today's workflow code: a change that would break running cutovers
 * fails here. Record new ones with `RECORD_HISTORIES=1 npx jest test/workflows`, or with
 * `RECORD_HISTORIES=<tag>` a new generation beside the old (`<name>.<tag>.json`); put an incompatible change
 * behind `patched()`. The `.2026-11` generation takes the plan check by activity and the local reference probe;
 * `.2026-11-policy` holds cutovers under a workers' policy: one refused at the plan check, and one whose policy
 * was swapped mid-cutover (refusals, the waits after them, the reference probe's fall-back to an activity).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { quietRuntime } from '../helpers/harness';
import { quietLogger } from '../helpers/temporal';

const DIR = path.join(__dirname, 'histories');
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

beforeAll(() => quietRuntime());

test('there are recorded histories to replay', () => {
  expect(files.length).toBeGreaterThanOrEqual(10);
});

test('every recorded cutover replays without nondeterminism', async () => {
  const histories = files.map((file) => {
    const recorded = JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as { workflowId: string; history: unknown };
    return { workflowId: recorded.workflowId, history: historyFromJSON(recorded.history) };
  });
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories(
    { workflowsPath: require.resolve('../../workflows'), bundlerOptions: { logger: quietLogger } } as never,
    histories,
  )) {
    replayed++;
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  expect(failures).toEqual([]);
  expect(replayed).toBe(files.length);
}, 120_000);
