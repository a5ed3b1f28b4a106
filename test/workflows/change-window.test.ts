/**
 * Change windows on the real time-skipping server (plan/calendar.ts, workflows/change-window.ts): a cutover
 * approved early on a Sunday waits for Monday's 09:00 Europe/London window across the spring clock change
 * (08:00 UTC), says so in its status, audit and a `window-wait` notification to a real HTTP receiver, and deploys
 * when the window opens although its worker was down at that moment. The server's clock is moved to that Sunday
 * first (this file's server only). The month-end freeze: change-window-freeze.test.ts.
 */
import { renderStatus } from '../../lib/format';
import { statusQuery } from '../../workflows/messages';
import { makeWorker, recordHistory, timeSkippingWorker } from '../helpers/harness';
import { pollUntil } from '../helpers/poll';
import { useReceiver } from '../helpers/receiver';
import { approvedAndWaiting, auditEntry, skipTo, windowPlan } from '../helpers/windows';

// No sticky cache: a workflow task the stopped worker's sticky queue held would wait for it on this server.
const t = timeSkippingWorker({ maxCachedWorkflows: 0 });
const hook = useReceiver();

test('approved in the small hours of the Sunday the clocks go forward, the deploy waits over the change for Monday 09:00 BST and goes ahead then, its worker down at the opening', async () => {
  // Sunday 28 March 2027, 00:30 UTC (00:30 GMT): clocks go forward at 01:00 UTC.
  await skipTo(t.env, '2027-03-28T00:30:00Z');
  const { handle, waiting } = await approvedAndWaiting(t, windowPlan({ notify: hook.url }));
  expect(waiting.waitingForWindow).toMatchObject({
    what: 'the production deploy',
    opensAt: '2027-03-29T08:00:00.000Z',
    local: 'Mon 29 Mar 2027, 09:00',
    zone: 'Europe/London',
    reason: 'outside the change windows (mon,tue,wed,thu,fri 09:00–15:00 Europe/London)',
  });
  expect(renderStatus(waiting)).toContain(
    'the production deploy is waiting for the change window: opens Mon 29 Mar 2027, 09:00 (Europe/London)',
  );
  expect(auditEntry(waiting, 'the production deploy waits for the change window')?.message).toBe(
    'the production deploy waits for the change window: opens Mon 29 Mar 2027, 09:00 (Europe/London); outside the change windows (mon,tue,wed,thu,fri 09:00–15:00 Europe/London)',
  );
  const told = await pollUntil(
    async () => hook.receiver.requests.map((r) => r.body),
    (bodies) => bodies.some((b) => b.event === 'window-wait'),
    { what: 'the window-wait notification' },
  );
  expect(String(told.find((b) => b.event === 'window-wait')?.text)).toMatch(
    /waits for the change window: opens Mon 29 Mar 2027, 09:00/,
  );
  // Nothing deployed yet: production runs, waiting.
  expect(waiting.phases.find((p) => p.phase === 'production')?.outcome).toBe('running');

  // The worker goes down before the window opens, and the window opens while it is down. The server's clock moves
  // to 07:45 with the worker answering the hourly checks (the last at 07:30, which set the timer for 08:00), then,
  // the worker stopped, to just before the opening, and on in real time past it: a time-skipping server does not
  // skip while a workflow task waits for a worker.
  await skipTo(t.env, '2027-03-29T07:45:00Z');
  t.worker.shutdown();
  await pollUntil(
    async () => t.worker.getState(),
    (state) => state === 'STOPPED',
    { what: 'the worker stopped' },
  );
  await skipTo(t.env, '2027-03-29T07:59:58Z');
  await pollUntil(
    () => t.env.currentTimeMs(),
    (ms) => ms > Date.parse('2027-03-29T08:00:02Z'),
    { what: "the server's clock past the opening", timeoutMs: 60_000, everyMs: 500 },
  );
  ({ worker: t.worker } = await makeWorker(t.env, { taskQueue: t.taskQueue, maxCachedWorkflows: 0 }));
  void t.worker.run();

  const result = await handle.result();
  expect(result.state).toBe('completed');
  const status = await handle.query(statusQuery);
  expect(status.waitingForWindow).toBeUndefined();
  const opened = auditEntry(status, 'the change window is open: the production deploy goes ahead');
  // When the worker came back, a few seconds into the window.
  expect(opened?.at).toMatch(/^2027-03-29T08:00:/);
  const production = status.phases.find((p) => p.phase === 'production');
  expect(production?.endedAt && production.endedAt >= '2027-03-29T08:00:00.000Z').toBe(true);
  // The decommission, seven clean days later on a Monday morning, found its window open.
  expect(status.phases.find((p) => p.phase === 'decommission')?.outcome).toBe('passed');
  await recordHistory(handle, 'change-window');
}, 180_000);
