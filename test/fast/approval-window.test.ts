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

test('the break-glass form is gone for whoever has signed it; everyone sees who has', () => {
  const glass: CutoverStatus = {
    ...waiting,
    evidenceDigest: 'a'.repeat(64),
    waitingForWindow: {
      ...(waiting.waitingForWindow as NonNullable<CutoverStatus['waitingForWindow']>),
      change: 'production',
      breakGlass: 'incident-commander',
      breakGlassBy: { approvers: ['ivy'], groups: ['incidents'] },
      glassGiven: [{ role: 'incident-commander', approver: 'ivy', at: '2027-03-26T16:00:00.000Z' }],
    },
    gate: {
      status: 'approved',
      roles: [{ role: 'qa', required: 1, approvers: ['bo'], approvedBy: ['bo'], missing: 0 }],
    },
    roleGroups: { qa: ['qa-team'] },
  } as CutoverStatus;
  const groups: Record<string, string[]> = { ivy: ['incidents'], bo: ['qa-team'] };
  const page = (user: string) =>
    cutoverPage(
      glass,
      { login: { ...login, subject: `sub-${user}`, user, groups: groups[user] ?? [] }, csrf: 'csrf' },
      { roles: [] },
    );
  const ivy = page('ivy');
  expect(ivy).not.toContain('id="break-glass"');
  expect(ivy).toContain('<p id="glass-signed">You broke the glass as incident-commander:');
  expect(ivy).toContain('Broken so far by <b>ivy</b> (incident-commander, 2027-03-26T16:00:00.000Z).');
  // The second person, who may sign, still has the form, and sees who signed first.
  const bo = page('bo');
  expect(bo).toContain('id="break-glass"');
  expect(bo).toContain('Broken so far by <b>ivy</b>');
});
