/**
 * The change calendar in the workers' policy: a plan's `production.window` may narrow it, never widen it (refused
 * by path at the plan check), and the workers' answer reads the policy they hold now, so a freeze added to it while
 * a cutover waits extends the wait at the next answer.
 */
import { createChangeWindow } from '../../activities/change-window';
import { check, planInput, writePolicy } from '../helpers/policy-fixture';
import type { makePlanInput } from '../helpers/plans';

const calendar = {
  zone: 'Europe/London',
  windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '15:00' }],
};
const withWindow = (window: unknown) => ({
  production: { ...planInput().production, window } as ReturnType<typeof makePlanInput>['production'],
});

test('a plan whose window reaches outside the policy’s, or names another zone, is refused by path', () => {
  const policy = writePolicy({ calendar });
  const problems = check(
    withWindow({
      zone: 'America/New_York',
      windows: [
        { days: ['tue'], from: '10:00', to: '12:00' },
        { days: ['sat'], from: '10:00', to: '12:00' },
      ],
    }),
    policy,
  ).problems;
  expect(problems).toEqual([
    {
      path: 'production.window.zone',
      message: "America/New_York: the plan's windows are in the policy's zone, Europe/London; leave zone out",
    },
    {
      path: 'production.window.windows[1]',
      message:
        "sat 10:00–12:00 is outside the policy's change windows (mon,tue,wed,thu,fri 09:00–15:00 Europe/London): a plan may narrow them, never widen them",
    },
  ]);
  // Narrower windows and freezes of its own pass.
  const narrower = withWindow({
    windows: [{ days: ['tue', 'wed'], from: '10:00', to: '12:00' }],
    freezes: [{ name: 'launch', dates: ['2027-06-01'] }],
  });
  expect(check(narrower, policy).problems).toEqual([]);
});

test('the workers answer with the policy they hold now: a freeze added to it moves the opening', async () => {
  const at = Date.parse('2027-06-01T07:00:00Z');
  const before = await createChangeWindow({ policy: writePolicy({ calendar }) })({ release: 'test-release', at });
  expect(before).toMatchObject({ open: false, opensAt: '2027-06-01T08:00:00.000Z' });
  const frozen = writePolicy({ calendar: { ...calendar, freezes: [{ name: 'audit', dates: ['2027-06-01'] }] } });
  const after = await createChangeWindow({ policy: frozen })({ release: 'test-release', at });
  expect(after).toMatchObject({
    open: false,
    reason: 'the freeze "audit" (2027-06-01)',
    opensAt: '2027-06-02T08:00:00.000Z',
  });
  // A release no calendar covers, and a worker without a policy: production may change at any time.
  expect(await createChangeWindow({})({ release: 'test-release', at })).toEqual({ open: true });
  // The plan's own window narrows the policy's answer.
  const narrowed = await createChangeWindow({ policy: writePolicy({ calendar }) })({
    release: 'test-release',
    at,
    window: { windows: [{ days: ['tue'], from: '13:00', to: '14:00' }], freezes: [] },
  });
  expect(narrowed).toMatchObject({ opensAt: '2027-06-01T12:00:00.000Z' });
});

test('a bad calendar in the policy file names where it is', () => {
  expect(() => writePolicy({ calendar: { zone: 'Mars/Olympus', windows: [] } })).toThrow(
    /pipelines\.0\.calendar\.zone|pipelines\[0\]\.calendar\.zone/,
  );
});
