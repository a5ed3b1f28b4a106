/**
 * The policy's calendar changing under a waiting cutover, on the real time-skipping server: a cutover approved on
 * a Sunday waits for Monday 09:00 London time; the workers are restarted with a policy that freezes that Monday
 * (the same rules, so the same digest), and at their next answer (within the hour) the wait extends to Tuesday,
 * said in status, audit and a second `window-wait`. Then a rollback asked during a wait ends it at once: a
 * rollback never waits, and nothing of production ran.
 */
import { requestRollbackSignal, statusQuery } from '../../workflows/messages';
import { makeWorker, tempDir, timeSkippingWorker } from '../helpers/harness';
import { pollUntil } from '../helpers/poll';
import { useReceiver } from '../helpers/receiver';
import { approvedAndWaiting, LONDON_WEEKDAYS, skipTo, windowPolicy, windowPolicyPlan } from '../helpers/windows';

const DIR = tempDir('window-policy-');
const before = windowPolicy(DIR, 'before', LONDON_WEEKDAYS);
const after = windowPolicy(DIR, 'after', {
  ...LONDON_WEEKDAYS,
  freezes: [{ name: 'release freeze', dates: ['2027-06-07'] }],
});
// No sticky cache for the worker that is stopped mid-cutover: a task its sticky queue held would wait for it.
const t = timeSkippingWorker({ policy: before, maxCachedWorkflows: 0 });
const hook = useReceiver();

test('a freeze added to the policy while a cutover waits extends the wait at the workers next answer', async () => {
  // The calendar is not in the policy's digest: the restarted workers take the waiting cutover's activities.
  expect(after.digest).toBe(before.digest);
  // Sunday 6 June 2027, 06:00 UTC.
  await skipTo(t.env, '2027-06-06T06:00:00Z');
  const { handle, waiting } = await approvedAndWaiting(t, windowPolicyPlan(DIR, hook.url, ['window-wait']));
  expect(waiting.waitingForWindow).toMatchObject({ opensAt: '2027-06-07T08:00:00.000Z' });

  t.worker.shutdown();
  await pollUntil(
    async () => t.worker.getState(),
    (state) => state === 'STOPPED',
    { what: 'the worker stopped' },
  );
  ({ worker: t.worker } = await makeWorker(t.env, { taskQueue: t.taskQueue, policy: after }));
  void t.worker.run();

  expect((await handle.result()).state).toBe('completed');
  const status = await handle.query(statusQuery);
  const waits = status.audit.filter((a) => a.message.startsWith('the production deploy waits for the change window'));
  expect(waits.map((a) => a.message)).toEqual([
    'the production deploy waits for the change window: opens Mon 7 Jun 2027, 09:00 (Europe/London); outside the change windows (mon,tue,wed,thu,fri 09:00–15:00 Europe/London)',
    'the production deploy waits for the change window: opens Tue 8 Jun 2027, 09:00 (Europe/London); outside the change windows (mon,tue,wed,thu,fri 09:00–15:00 Europe/London)',
  ]);
  // The new answer came at the next hourly question, on Sunday: well before Monday's opening.
  expect(waits[1]?.at.slice(0, 10)).toBe('2027-06-06');
  expect(status.phases.find((p) => p.phase === 'production')?.endedAt?.startsWith('2027-06-08T08:00')).toBe(true);
  const told = await pollUntil(
    async () => hook.receiver.requests.filter((r) => r.body.event === 'window-wait').map((r) => String(r.body.text)),
    (texts) => new Set(texts).size >= 2,
    { what: 'two window-wait notifications' },
  );
  expect([...new Set(told)].map((text) => text.replace(/^[^:]+: /, '').slice(0, 78))).toEqual([
    'the production deploy waits for the change window: opens Mon 7 Jun 2027, 09:00',
    'the production deploy waits for the change window: opens Tue 8 Jun 2027, 09:00',
  ]);
}, 180_000);

test('a rollback asked while the deploy waits for its window ends the wait at once; production never changed', async () => {
  // Whatever the server's clock reads now (it skips on after a test's last workflow): a plan freeze around it.
  const now = new Date(await t.env.currentTimeMs());
  const day = (offset: number) => new Date(now.getTime() + offset * 86_400_000).toISOString().slice(0, 10);
  const base = windowPolicyPlan(DIR, hook.url, ['rollback']);
  const plan = {
    ...base,
    production: { ...base.production, window: { freezes: [{ name: 'test freeze', from: day(-1), to: day(2) }] } },
  };
  const { handle, waiting } = await approvedAndWaiting(t, plan);
  expect(waiting.waitingForWindow?.reason).toMatch(/^the freeze "test freeze"/);
  await handle.signal(requestRollbackSignal, { requestedBy: 'di', reason: 'the freeze will not end in time' });
  const result = await handle.result();
  expect(result.state).toBe('rolled-back');
  const status = await handle.query(statusQuery);
  expect(status.waitingForWindow).toBeUndefined();
  expect(status.audit.map((a) => a.message)).toContain(
    'the production deploy no longer waits for the change window: the cutover is stopping',
  );
  // Production's deploy never started: the phase was cancelled in its wait, and only staging was undone.
  expect(status.phases.find((p) => p.phase === 'production')?.outcome).toBe('cancelled');
  expect(status.audit.some((a) => a.kind === 'compensation' && a.message.startsWith('ran: production'))).toBe(false);
}, 180_000);
