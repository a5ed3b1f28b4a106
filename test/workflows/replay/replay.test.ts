/**
 * Recorded histories of real cutovers (happy path, rejection, expiry, a failure in each phase, manual and
 * automatic rollback, policies, windows, break-glass) must replay on today's workflow code: a change that would
 * break running cutovers fails here. 1.0.0 is the baseline (`<name>.1.0.json`, docs/operating.md): record a new
 * generation beside it with `RECORD_HISTORIES=<tag>` after a change behind `patched()`; every generation replays.
 */
import { quietRuntime } from '../../helpers/harness';
import { recordedHistories, replayAll } from '../../helpers/histories';
import { quietLogger } from '../../helpers/temporal';

const files = recordedHistories().map((r) => r.file);

beforeAll(() => quietRuntime());

test('there are recorded histories to replay', () => {
  expect(files.length).toBeGreaterThanOrEqual(10);
});

test('every recorded cutover replays without nondeterminism', async () => {
  const { replayed, failures } = await replayAll({
    workflowsPath: require.resolve('../../../workflows'),
    bundlerOptions: { logger: quietLogger },
  } as never);
  expect(failures).toEqual([]);
  expect(replayed).toBe(files.length);
}, 120_000);
