/**
 * Attested sign-offs on the real time-skipping server, with workers that trust one attester and require
 * attested sign-offs: a raw signal (as `temporal workflow signal` sends it) is refused as unattested and
 * changes no gate; attested updates count, with the login's issuer and subject in the audit trail and the
 * report; a plan cannot bring its own attester keys.
 */
import { ed25519 } from '@noble/curves/ed25519';
import { attestSignOff } from '../../lib/api';
import { markdownReport } from '../../lib/format';
import { cutoverWorkflow } from '../../workflows';
import { signOffSignal, statusQuery, submitSignOffUpdate } from '../../workflows/messages';
import { timeSkippingWorker, uniqueId, waitForStatus, recordHistory } from '../helpers/harness';
import { makePlan, makePlanInput } from '../helpers/plans';

const appKey = ed25519.utils.randomPrivateKey();
const intruderKey = ed25519.utils.randomPrivateKey();
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const t = timeSkippingWorker({
  attestation: { keys: { 'app-1': hex(ed25519.getPublicKey(appKey)) }, require: true, maxAge: '10m' },
});
const ISSUER = 'https://login.example';

test('with attestation required: a raw signal is refused as unattested; attested updates count, with who signed', async () => {
  const base = makePlanInput();
  // A plan that names its own attester (the intruder's key): dropped by the workers' plan check.
  const plan = makePlan({
    signoff: { ...base.signoff, attesters: { 'app-1': hex(ed25519.getPublicKey(intruderKey)) } },
  });
  const handle = await t.env.client.workflow.start(cutoverWorkflow, {
    taskQueue: t.taskQueue,
    workflowId: uniqueId(),
    args: [plan],
  });
  const gate = await waitForStatus(handle, (s) => s.state === 'awaiting-signoff');
  const digest = gate.evidenceDigest as string;

  await handle.signal(signOffSignal, { role: 'business', approver: 'ed', decision: 'approve' });
  const afterSignal = await waitForStatus(handle, (s) => s.audit.some((a) => a.rule === 'unattested'));
  expect(afterSignal.gate.roles.find((r) => r.role === 'business')?.approvedBy).toEqual([]);

  // Attested with the intruder's key under the plan's claimed key id: not the workers' key, refused.
  const forged = { role: 'business', approver: 'ed', decision: 'approve' as const };
  const forgedAnswer = await handle.executeUpdate(submitSignOffUpdate, {
    args: [
      {
        ...forged,
        attestation: attestSignOff(
          { keyId: 'app-1', privateKey: intruderKey },
          { workflowId: handle.workflowId, digest },
          forged,
          {
            issuer: ISSUER,
            subject: 'sub-ed',
          },
        ),
      },
    ],
  });
  expect(forgedAnswer).toMatchObject({ accepted: false, rule: 'bad-attestation' });

  const approvers = { engineering: 'ana', qa: 'bo', architecture: 'cy', operations: 'di', business: 'ed' };
  for (const [role, approver] of Object.entries(approvers)) {
    const signOff = { role, approver, decision: 'approve' as const };
    const attestation = attestSignOff(
      { keyId: 'app-1', privateKey: appKey },
      { workflowId: handle.workflowId, digest },
      signOff,
      {
        issuer: ISSUER,
        subject: `sub-${approver}`,
      },
    );
    const answer = await handle.executeUpdate(submitSignOffUpdate, { args: [{ ...signOff, attestation }] });
    expect(answer).toMatchObject({ accepted: true });
  }
  expect((await handle.result()).state).toBe('completed');
  await recordHistory(handle, 'attested-signoffs');
  const status = await handle.query(statusQuery);
  const counted = status.audit.filter((a) => a.kind === 'signoff' && a.accepted === true);
  expect(counted.map((a) => [a.actor, a.identity])).toEqual(
    Object.values(approvers).map((name) => [name, { issuer: ISSUER, subject: `sub-${name}` }]),
  );
  const report = markdownReport(status);
  expect(report).toContain(`ed: attested: subject sub-ed at ${ISSUER}`);
}, 120_000);
