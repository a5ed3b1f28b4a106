/**
 * Notifications on the real time-skipping server, delivered to real HTTP receivers on loopback: each event a
 * target asked for arrives once per idempotency key, a receiver that fails twice gets the third attempt, a
 * target that never answers is audited and the cutover completes anyway, and a process target gets the
 * event in its environment.
 */
import { Receiver } from '../helpers/receiver';
import { cutoverWorkflow } from '../../workflows';
import { requestRollbackSignal, statusQuery, submitSignOffUpdate } from '../../workflows/messages';
import { approveAll, Ledger, timeSkippingWorker, uniqueId, waitForStatus, recordHistory } from '../helpers/harness';
import { makePlan, makePlanInput, nodeRun } from '../helpers/plans';

const t = timeSkippingWorker({ approvalUrl: 'https://approve.example/' });

const receivers: Receiver[] = [];
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.stop()));
});

async function receiver(failFirst = 0): Promise<{ receiver: Receiver; url: string }> {
  const r = new Receiver(failFirst);
  receivers.push(r);
  return { receiver: r, url: await r.start() };
}

test('each event reaches the targets that asked for it once per key; retried deliveries keep their key; a dead target is audited, never fatal', async () => {
  const chat = await receiver();
  const flaky = await receiver(2);
  const pager = new Ledger();
  const plan = makePlan({
    notify: [
      { name: 'chat', http: chat.url, events: ['gate-open', 'signoff', 'signoff-refused', 'completed'] },
      { name: 'flaky', http: flaky.url, events: ['gate-open'] },
      // Nothing listens there: every attempt fails.
      { name: 'dead', http: 'http://127.0.0.1:9/hook', events: ['completed'] },
      { ...pager.action('pager'), events: ['signoff-refused'] },
    ],
  });
  const handle = await t.env.client.workflow.start(cutoverWorkflow, {
    taskQueue: t.taskQueue,
    workflowId: uniqueId(),
    args: [plan],
  });
  await waitForStatus(handle, (s) => s.state === 'awaiting-signoff');
  // Someone who is not an approver: refused, and told as such.
  const refused = await handle.executeUpdate(submitSignOffUpdate, {
    args: [{ role: 'qa', approver: 'mallory', decision: 'approve' }],
  });
  expect(refused.accepted).toBe(false);
  await approveAll(handle);
  expect((await handle.result()).state).toBe('completed');
  await recordHistory(handle, 'notify');

  expect(chat.receiver.events()).toEqual([
    'gate-open',
    'signoff-refused',
    'signoff',
    'signoff',
    'signoff',
    'signoff',
    'signoff',
    'completed',
  ]);
  // Every request to the chat went through at the first attempt: one request per key.
  expect(chat.receiver.requests).toHaveLength(8);
  // The flaky receiver answered 503 twice: three requests, one key, one event counted.
  expect(flaky.receiver.requests).toHaveLength(3);
  expect(new Set(flaky.receiver.requests.map((r) => r.key)).size).toBe(1);
  expect(flaky.receiver.events()).toEqual(['gate-open']);
  // The default body: Slack-compatible text with the release, the state and the approval link.
  const gateOpen = chat.receiver.requests[0]!.body;
  expect(gateOpen).toMatchObject({
    event: 'gate-open',
    release: plan.release,
    state: 'awaiting-signoff',
    workflowId: handle.workflowId,
    link: `https://approve.example/cutovers/${handle.workflowId}`,
  });
  expect(gateOpen.text).toMatch(new RegExp(`^${plan.release}: sign-off open \\(engineering \\(1\\), qa \\(1\\)`));
  expect(gateOpen.text).toContain(`https://approve.example/cutovers/${handle.workflowId}`);
  expect(chat.receiver.requests[1]!.body.text).toMatch(/approve by mallory for qa refused \(unknown-approver\)/);
  // The process target ran once for the refusal, with the event's key.
  expect(pager.entries()).toHaveLength(1);
  expect(pager.entries()[0]).toMatch(/^pager .*\/notify\/signoff-refused-1\/pager$/);
  // The dead target is in the audit trail; the cutover completed regardless.
  const status = await handle.query(statusQuery);
  const failed = status.audit.filter((a) => a.rule === 'notify-failed');
  expect(failed).toHaveLength(1);
  expect(failed[0]?.message).toMatch(/^notification dead of completed failed: /);
}, 180_000);

test('a rollback is told, with a body from the target’s template', async () => {
  const hook = await receiver();
  const plan = makePlan({
    notify: [
      {
        name: 'ops',
        http: hook.url,
        body: '{"event": "{event}", "summary": "{text}", "state": "{state}"}',
        events: ['rollback', 'failed', 'completed'],
      },
    ],
  });
  const handle = await t.env.client.workflow.start(cutoverWorkflow, {
    taskQueue: t.taskQueue,
    workflowId: uniqueId(),
    args: [plan],
  });
  await waitForStatus(handle, (s) => s.state === 'awaiting-signoff');
  await approveAll(handle);
  await waitForStatus(handle, (s) => s.state === 'monitoring');
  await handle.signal(requestRollbackSignal, { requestedBy: 'di', reason: 'PAR90 "looks" off' });
  expect((await handle.result()).state).toBe('rolled-back');
  // The template's placeholders are JSON-escaped: the quotes in the reason keep the body valid JSON.
  expect(hook.receiver.requests.map((r) => r.body)).toEqual([
    {
      event: 'rollback',
      summary: `${plan.release}: rolling back (by di): PAR90 "looks" off`,
      state: 'monitoring',
    },
  ]);
}, 180_000);

test('a failed cutover tells its failure before it ends', async () => {
  const hook = await receiver();
  const base = makePlanInput();
  const plan = makePlan({
    staging: { ...base.staging, deploy: [{ name: 'switch-staging', run: nodeRun('process.exit(2)') }] },
    notify: [{ name: 'ops', http: hook.url, events: ['failed', 'completed'] }],
  });
  const handle = await t.env.client.workflow.start(cutoverWorkflow, {
    taskQueue: t.taskQueue,
    workflowId: uniqueId(),
    args: [plan],
  });
  await expect(handle.result()).rejects.toThrow();
  expect(hook.receiver.events()).toEqual(['failed']);
  expect(hook.receiver.requests[0]?.body).toMatchObject({ state: 'failed', release: plan.release });
  expect(String(hook.receiver.requests[0]?.body.text)).toMatch(new RegExp(`^${plan.release}: cutover failed: `));
}, 120_000);
