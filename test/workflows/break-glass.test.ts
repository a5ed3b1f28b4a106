/**
 * Break-glass on the real time-skipping server (workflows/break-glass.ts, workflows/change-window.ts): workers
 * whose policy freezes month-end and names an incident-commander. A cutover approved inside the freeze waits;
 * an unattested break-glass, the commander twice and a stranger are refused (in the audit, nothing moves); the
 * commander and a second person, attested by the app's key, let the production deploy go at once, marked as
 * break-glass in status, report, audit and notifications. The decommission, later and still inside the freeze,
 * waits again: a break-glass lets one change through.
 */
import { ed25519 } from '@noble/curves/ed25519';
import { attestBreakGlass } from '../../lib/api';
import { signRecord, verifyRecord, type Statement } from '../../lib/record';
import { markdownReport, renderStatus } from '../../lib/format';
import { breakGlassSignal, recordQuery, statusQuery, submitBreakGlassUpdate } from '../../workflows/messages';
import { recordHistory, tempDir, timeSkippingWorker, waitForStatus } from '../helpers/harness';
import { pollUntil } from '../helpers/poll';
import { exportVerified, recordKeys } from '../helpers/records';
import { useReceiver } from '../helpers/receiver';
import {
  approvedAndWaiting,
  auditEntry,
  LONDON_WEEKDAYS,
  skipTo,
  windowPolicy,
  windowPolicyPlan,
} from '../helpers/windows';

const DIR = tempDir('break-glass-');
const policy = windowPolicy(DIR, 'policy', {
  ...LONDON_WEEKDAYS,
  freezes: [{ name: 'month-end close', lastBusinessDays: 2, firstBusinessDays: 3 }],
  breakGlass: { role: 'incident-commander', approvers: ['ivy', 'ike'] },
});
const appKey = ed25519.utils.randomPrivateKey();
const attesters = { 'app-1': Buffer.from(ed25519.getPublicKey(appKey)).toString('hex') };
const keys = recordKeys(attesters);
const t = timeSkippingWorker({
  policy,
  attestation: {
    keys: attesters,
    require: false,
    maxAge: '10m',
  },
});
const hook = useReceiver();

const ISSUER = 'https://login.example';
const REASON = 'INC-4711: V1 double-counts PAR90 since the rate change; V2 is the fix';

test('inside the month-end freeze, the commander and a second person break the glass: the deploy goes at once, marked; the decommission waits again', async () => {
  // Thursday 29 April 2027, the second-last business day: frozen until Thursday 6 May.
  await skipTo(t.env, '2027-04-29T10:00:00Z');
  const plan = windowPolicyPlan(DIR, hook.url, ['window-wait', 'break-glass', 'signoff-refused']);
  const { handle, waiting } = await approvedAndWaiting(t, plan);
  expect(waiting.waitingForWindow).toMatchObject({
    what: 'the production deploy',
    change: 'production',
    reason: 'the freeze "month-end close" (2027-04-29)',
    opensAt: '2027-05-06T08:00:00.000Z',
    breakGlass: 'incident-commander',
  });
  expect(renderStatus(waiting)).toContain('break-glass: the incident-commander and a second person may let it go now');
  const target = { workflowId: handle.workflowId, change: 'production', digest: waiting.evidenceDigest as string };
  // As the approval app attests after its login, at the time of the workflows' clock (the server's, skipped ahead).
  const attested = async (role: string, approver: string) => {
    const request = { role, approver, reason: REASON };
    const login = { issuer: ISSUER, subject: `sub-${approver}` };
    const now = new Date(await t.env.currentTimeMs());
    const attestation = attestBreakGlass({ keyId: 'app-1', privateKey: appKey }, target, request, {
      ...login,
      issuedAt: now,
    });
    return { ...request, evidenceDigest: target.digest, attestation };
  };

  // Refused, each by its rule, in the audit; nothing moves.
  await handle.signal(breakGlassSignal, { role: 'incident-commander', approver: 'ivy', reason: REASON });
  const commander = await handle.executeUpdate(submitBreakGlassUpdate, {
    args: [await attested('incident-commander', 'ivy')],
  });
  expect(commander).toEqual({ accepted: true, broken: false });
  const twice = await handle.executeUpdate(submitBreakGlassUpdate, {
    args: [await attested('incident-commander', 'ivy')],
  });
  expect(twice).toMatchObject({ accepted: false, rule: 'second-person', broken: false });
  const stranger = await handle.executeUpdate(submitBreakGlassUpdate, {
    args: [await attested('incident-commander', 'mal')],
  });
  expect(stranger).toMatchObject({
    accepted: false,
    rule: 'wrong-role',
    reason: '"mal" does not hold incident-commander',
  });
  const still = await handle.query(statusQuery);
  expect(still.waitingForWindow).toBeDefined();
  // The counted one is in the status (the approval page shows it, and no form to ivy); the refused ones are not.
  expect(still.waitingForWindow?.glassGiven).toEqual([
    { role: 'incident-commander', approver: 'ivy', at: expect.stringMatching(/^\d{4}-/) },
  ]);
  expect(still.phases.find((p) => p.phase === 'production')?.outcome).toBe('running');
  expect(still.audit.filter((a) => a.kind === 'break-glass').map((a) => [a.actor, a.accepted, a.rule ?? ''])).toEqual([
    ['ivy', false, 'unattested'],
    ['ivy', true, ''],
    ['ivy', false, 'second-person'],
    ['mal', false, 'wrong-role'],
  ]);

  // The second person: operations' approver. The glass breaks; the deploy goes now, inside the freeze.
  const second = await handle.executeUpdate(submitBreakGlassUpdate, { args: [await attested('operations', 'di')] });
  expect(second).toEqual({ accepted: true, broken: true });
  const deployed = await waitForStatus(handle, (s) => s.phase !== 'production' || s.state !== 'running', 60_000);
  const production = deployed.phases.find((p) => p.phase === 'production');
  expect(production?.outcome).toBe('passed');
  expect(production?.endedAt && production.endedAt < '2027-04-30T00:00:00Z').toBe(true);
  expect(deployed.breakGlass).toEqual([
    {
      what: 'the production deploy',
      at: expect.stringMatching(/^2027-04-29T10:/),
      closed: 'the freeze "month-end close" (2027-04-29)',
      by: [
        {
          role: 'incident-commander',
          approver: 'ivy',
          reason: REASON,
          attested: { issuer: ISSUER, subject: 'sub-ivy' },
        },
        { role: 'operations', approver: 'di', reason: REASON, attested: { issuer: ISSUER, subject: 'sub-di' } },
      ],
    },
  ]);
  expect(auditEntry(deployed, 'break-glass: the production deploy goes ahead')?.message).toBe(
    'break-glass: the production deploy goes ahead inside the freeze "month-end close" (2027-04-29), by ivy (incident-commander) and di (operations)',
  );
  expect(renderStatus(deployed)).toContain('BREAK-GLASS: the production deploy went ahead by break-glass');
  // The Temporal UI's details say it as the docs and the status do.
  const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  expect(metadata.currentDetails).toContain('**BREAK-GLASS**: the production deploy went ahead by break-glass');
  expect(markdownReport(deployed)).toContain(
    '- **break-glass**: the production deploy went ahead by break-glass at 2027-04-29T10:',
  );
  // Each is delivered by an activity of its own: in any order.
  const told = await pollUntil(
    async () => hook.receiver.requests.map((r) => r.body),
    (bodies) => bodies.filter((b) => b.event === 'break-glass').length >= 3,
    { what: 'the three break-glass notifications' },
  );
  expect(told.filter((b) => b.event === 'break-glass').map((b) => String(b.text).replace(/^[^:]+: /, ''))).toEqual(
    expect.arrayContaining([
      `break-glass by ivy (incident-commander) for the production deploy: ${REASON}`,
      `break-glass by di (operations) for the production deploy: ${REASON}`,
      'break-glass: the production deploy goes ahead inside the freeze "month-end close" (2027-04-29), by ivy (incident-commander) and di (operations)',
    ]),
  );
  expect(told.filter((b) => b.event === 'signoff-refused')).toHaveLength(3);

  // The decommission, days later and still inside the freeze, waits for Thursday's window: the glass was for the deploy.
  const result = await handle.result();
  expect(result.state).toBe('completed');
  const status = await handle.query(statusQuery);
  expect(auditEntry(status, 'the decommission waits for the change window')?.message).toMatch(
    /^the decommission waits for the change window: opens Thu 6 May 2027, 09:00 \(Europe\/London\); /,
  );
  expect(status.phases.find((p) => p.phase === 'decommission')?.endedAt?.startsWith('2027-05-06T08:00')).toBe(true);
  expect(status.breakGlass).toHaveLength(1);
  // The record keeps every well-formed break-glass as it was sent, counted or not.
  const record = await handle.query(recordQuery);
  expect(record.breakGlass?.map((b) => [b.breakGlass.approver, b.change, b.accepted, b.rule ?? ''])).toEqual([
    ['ivy', 'production', false, 'unattested'],
    ['ivy', 'production', true, ''],
    ['ivy', 'production', false, 'second-person'],
    ['mal', 'production', false, 'wrong-role'],
    ['di', 'production', true, ''],
  ]);
  await recordHistory(handle, 'break-glass');

  // The auditor's record: the two counted break-glass sign-offs verify with the app's key, offline; a reason
  // changed after the fact (and the record signed again by a worker holding its key) does not.
  const { envelope, checks } = await exportVerified(t.env.client, handle.workflowId, keys);
  expect(checks.find((c) => c.check === 'break-glass')?.detail).toBe(
    '2 break-glass sign-off(s) verified; 1 change(s) let through by them',
  );
  const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as Statement;
  const forged = structuredClone(statement.predicate);
  const ivys = forged.breakGlass?.received.find((g) => g.accepted && g.breakGlass.approver === 'ivy');
  if (ivys) ivys.breakGlass.reason = 'a quieter reason';
  expect(
    verifyRecord(signRecord(forged, keys.signer), keys.trust).find((c) => c.check === 'break-glass'),
  ).toMatchObject({
    ok: false,
    detail: expect.stringMatching(
      /^predicate\.breakGlass\.received\[1\] \(incident-commander, ivy\): the attestation does not verify/,
    ),
  });
}, 180_000);
