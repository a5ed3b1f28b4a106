/**
 * Recorded histories of real cutovers (happy path, rejection, expiry, a failure in each phase, manual and
 * automatic rollback) must replay on today's workflow code: a change that would break running cutovers
 * fails here. Record new ones with `RECORD_HISTORIES=1 npx jest test/workflows`, or with
 * `RECORD_HISTORIES=<tag>` a new generation beside the old (`<name>.<tag>.json`); put an incompatible change
 * behind `patched()`. The `.2026-11` generation takes the plan check by activity and the local reference probe;
 * `.2026-11-policy` holds cutovers under a workers' policy: one refused at the plan check, and one whose policy
 * was swapped mid-cutover (refusals, the waits after them, the reference probe's fall-back to an activity).
 * `.2026-11-26-deploy` takes the reference reading inside the deploy's activity (deployProduction) on one queue.
 * `.2026-12-01` is recorded with the monitor's parent check and fixed cadence, the app's refusal signal and the
 * approvers' keys marked as whose word they are.
 */
import { quietRuntime } from '../helpers/harness';
import { recordedHistories, replayAll } from '../helpers/histories';
import { quietLogger } from '../helpers/temporal';

const files = recordedHistories().map((r) => r.file);

beforeAll(() => quietRuntime());

test('there are recorded histories to replay', () => {
  expect(files.length).toBeGreaterThanOrEqual(10);
});

test('every recorded cutover replays without nondeterminism', async () => {
  const { replayed, failures } = await replayAll({
    workflowsPath: require.resolve('../../workflows'),
    bundlerOptions: { logger: quietLogger },
  } as never);
  expect(failures).toEqual([]);
  expect(replayed).toBe(files.length);
}, 120_000);
