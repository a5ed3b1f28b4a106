/**
 * The approval page of a cutover whose production deploy waits for the change window: it says when the window
 * opens, in the calendar's zone, and its live refresh notices the wait start and end.
 */
import { cutoverPage, liveVersion } from '../../approval/pages';
import type { CutoverStatus } from '../../shapes/status';

const status = {
  workflowId: 'cutover-portfolio-kpi-v2',
  release: 'portfolio-kpi-v2',
  phase: 'production',
  state: 'deploying',
  startedAt: '2027-03-26T15:00:00.000Z',
  phases: [],
  gate: { status: 'approved', roles: [] },
  audit: [],
  auditDropped: 0,
} as unknown as CutoverStatus;
const waiting: CutoverStatus = {
  ...status,
  waitingForWindow: {
    what: 'the production deploy',
    since: '2027-03-26T15:30:00.000Z',
    reason: 'outside the change windows (mon,tue,wed,thu,fri 09:00–15:00 Europe/London)',
    opensAt: '2027-03-29T08:00:00.000Z',
    local: 'Mon 29 Mar 2027, 09:00',
    zone: 'Europe/London',
  },
};
const login = { issuer: 'https://login.example', subject: 'sub-ana', user: 'ana', groups: [] };

test('the page says the deploy waits for the window and when it opens; without a wait, nothing', () => {
  expect(cutoverPage(waiting, { login, csrf: 'csrf' }, { roles: [] })).toContain(
    '<p class="waiting" id="window">the production deploy is waiting for the change window: opens Mon 29 Mar 2027, 09:00 (Europe/London), 2027-03-29T08:00:00.000Z (outside the change windows (mon,tue,wed,thu,fri 09:00–15:00 Europe/London))</p>',
  );
  expect(cutoverPage(status, { login, csrf: 'csrf' }, { roles: [] })).not.toContain('id="window"');
});

test('the live refresh sees the wait begin and end', () => {
  expect(liveVersion(waiting)).not.toBe(liveVersion(status));
});
