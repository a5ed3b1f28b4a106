/**
 * A month-end freeze on the real time-skipping server (plan/calendar.ts, workflows/change-window.ts): a cutover
 * approved on the second-last business day of April waits out the last 2 business days and the first 3 of May,
 * then deploys at the next window's opening. The server's clock is moved to that day first.
 */
import { statusQuery } from '../../workflows/messages';
import { timeSkippingWorker } from '../helpers/harness';
import { approvedAndWaiting, auditEntry, skipTo, windowPlan } from '../helpers/windows';

const t = timeSkippingWorker();

test('approved at month end, the deploy waits out the month-end freeze: the last 2 business days and the first 3', async () => {
  await skipTo(t.env, '2027-04-29T10:00:00Z');
  const { handle, waiting } = await approvedAndWaiting(
    t,
    windowPlan({ freezes: [{ name: 'month-end close', lastBusinessDays: 2, firstBusinessDays: 3 }] }),
  );
  // Thu 29 and Fri 30 April, then Mon 3, Tue 4 and Wed 5 May: Thursday 6 May at 09:00 BST.
  expect(waiting.waitingForWindow).toMatchObject({
    reason: 'the freeze "month-end close" (2027-04-29)',
    opensAt: '2027-05-06T08:00:00.000Z',
    local: 'Thu 6 May 2027, 09:00',
  });
  const result = await handle.result();
  expect(result.state).toBe('completed');
  const status = await handle.query(statusQuery);
  const opened = auditEntry(status, 'the change window is open: the production deploy goes ahead');
  // When the timer fired: the opening, and the few milliseconds of the workers' answer.
  expect(opened?.at).toMatch(/^2027-05-06T08:00:0/);
}, 180_000);
