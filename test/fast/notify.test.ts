/**
 * Notification targets: their events are checked by the plan schema, and they are actions like any other, so
 * the workers' policy bounds where they reach (URL prefixes, commands).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { stringify } from 'yaml';
import { createCheckPlan } from '../../activities/plan-check';
import { approvalLink } from '../../activities/notify';
import { environmentQueues } from '../../plan/environments';
import { loadPolicy } from '../../policy/load';
import { validatePlan } from '../../plan/schema';
import { makePlan, makePlanInput } from '../helpers/plans';

test('an unknown event and a target without events are refused by path', () => {
  const result = validatePlan(
    makePlanInput({
      notify: [
        { http: 'https://hooks.example/x', events: ['gate-open', 'lunch' as 'gate-open'] },
        { run: ['notify.sh'], events: [] },
      ],
    }),
  );
  expect(result.ok).toBe(false);
  if (result.ok) return;
  const paths = result.problems.map((p) => p.path);
  expect(paths.some((p) => p.startsWith('notify[0]'))).toBe(true);
  expect(paths.some((p) => p.startsWith('notify[1]'))).toBe(true);
});

test("the workers' policy bounds a target's URL and command like any action's", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'notify-policy-'));
  const file = path.join(dir, 'policy.yaml');
  writeFileSync(
    file,
    stringify({
      version: 1,
      default: { commands: { default: [[process.execPath]] }, folders: ['/'], urls: ['https://hooks.example/'] },
    }),
  );
  const check = createCheckPlan({ policy: loadPolicy(file), queues: environmentQueues('tq') });
  const allowed = makePlan({ notify: [{ http: 'https://hooks.example/chat', events: ['gate-open'] }] });
  await expect(check(allowed)).resolves.toMatchObject({ notify: allowed.notify });
  const outside = makePlan({
    notify: [
      { http: 'https://evil.example/collect', events: ['gate-open'] },
      { run: ['curl', 'https://evil.example'], events: ['completed'] },
    ],
  });
  const err = await check(outside).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  const message = (err as ApplicationFailure).message;
  expect(message).toContain('notify[0].http: https://evil.example/collect is not under a URL prefix the policy allows');
  expect(message).toContain('notify[1].run: "curl" "https://evil.example" is not a command the policy allows');
});

test('the approval link is the app’s cutover page, or none without an app', () => {
  expect(approvalLink('https://approve.example/', 'cutover-a b')).toBe(
    'https://approve.example/cutovers/cutover-a%20b',
  );
  expect(approvalLink(undefined, 'cutover-x')).toBeUndefined();
});
