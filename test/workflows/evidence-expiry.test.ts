/**
 * The approved evidence expiring while the deploy waits for its window, on the real time-skipping server
 * (signoff.evidenceValidFor, workflows/change-window.ts): a cutover approved on a Friday evening waits for
 * Monday 09:00 London time; its evidence, good for 48 h, expires on Sunday evening and the gate reopens for a
 * review on new evidence (the old sign-offs stop counting, a sign-off on the old evidence is refused); the
 * approvers sign again, and the deploy goes at Monday's opening. The auditor's record recounts both rounds.
 */
import { statusQuery, submitBreakGlassUpdate, submitSignOffUpdate } from '../../workflows/messages';
import { approveAll, recordHistory, timeSkippingWorker, waitForStatus } from '../helpers/harness';
import { exportVerified, recordKeys } from '../helpers/records';
import { useReceiver } from '../helpers/receiver';
import { approvedAndWaiting, auditEntry, skipTo, windowPlan } from '../helpers/windows';

const keys = recordKeys();
const t = timeSkippingWorker();
const hook = useReceiver();

test('evidence good for 48 h expires over the weekend: the gate reopens for a review, the approvers sign again, the deploy goes on Monday', async () => {
  // Friday 4 June 2027, 16:00 UTC (17:00 BST): the window closed at 15:00.
  await skipTo(t.env, '2027-06-04T16:00:00Z');
  const base = windowPlan({ notify: hook.url });
  const plan = {
    ...base,
    signoff: { ...base.signoff, evidenceValidFor: '48h' },
    notify: [{ name: 'ops', http: hook.url, events: ['gate-open' as const] }],
  };
  const { handle, waiting } = await approvedAndWaiting(t, plan);
  expect(waiting.waitingForWindow?.opensAt).toBe('2027-06-07T08:00:00.000Z');
  const first = waiting.evidenceDigest as string;

  // Sunday 16:00 UTC and a little: 48 h after the approval.
  await skipTo(t.env, '2027-06-06T16:00:30Z');
  const review = await waitForStatus(handle, (s) => s.state === 'awaiting-signoff');
  expect(review.phase).toBe('production');
  expect(review.waitingForWindow).toBeUndefined();
  expect(review.evidenceDigest).not.toBe(first);
  expect(review.gate.status).toBe('open');
  expect(review.gate.roles.every((r) => r.approvedBy.length === 0)).toBe(true);
  expect(auditEntry(review, 'the evidence approved for the production deploy expired')?.message).toMatch(
    /^the evidence approved for the production deploy expired at 2027-06-06T16:00:0\d\.\d{3}Z \(signoff\.evidenceValidFor 48h\) while it waited for the change window: the gate reopens for a review$/,
  );
  // A sign-off made on the evidence as it was before the review does not count.
  const stale = await handle.executeUpdate(submitSignOffUpdate, {
    args: [{ role: 'qa', approver: 'bo', decision: 'approve', evidenceDigest: first }],
  });
  expect(stale).toMatchObject({ accepted: false, rule: 'stale-evidence' });
  // Nothing waits for the window while the gate reviews: there is no glass to break.
  const glass = await handle.executeUpdate(submitBreakGlassUpdate, {
    args: [{ role: 'operations', approver: 'di', reason: 'the weekend' }],
  });
  expect(glass).toMatchObject({ accepted: false, rule: 'not-waiting' });

  await approveAll(handle);
  expect((await handle.result()).state).toBe('completed');
  const status = await handle.query(statusQuery);
  expect(auditEntry(status, 'the review approved the evidence again')?.message).toBe(
    'the review approved the evidence again: the production deploy waits for its window',
  );
  expect(status.phases.find((p) => p.phase === 'production')?.endedAt?.startsWith('2027-06-07T08:00')).toBe(true);
  const opened = hook.receiver.requests.filter((r) => r.body.event === 'gate-open');
  expect(new Set(opened.map((r) => r.key)).size).toBe(2);

  // The record: ten counted sign-offs in two rounds, the second on the reviewed evidence; every check holds.
  const { checks } = await exportVerified(t.env.client, handle.workflowId, keys);
  expect(checks.find((c) => c.check === 'sign-offs')?.detail).toBe('11 sign-off(s) recounted: gate approved');
  await recordHistory(handle, 'evidence-review');
}, 180_000);
