/**
 * The workers' seal on a checked plan (plan/seal.ts, activities/seal.ts): what it covers, and each way an action
 * without the workers' word for it is refused, before anything starts.
 */
import { ed25519 } from '@noble/curves/ed25519';
import { sealPlan, sealProblem, type ExecutingRun, type SealKeys } from '../../activities/seal';
import { actionsOf } from '../../policy/actions';
import { sealFor } from '../../plan/seal';
import type { Action } from '../../plan/schema';
import { makePlan } from '../helpers/plans';

const keyPair = (keyId: string): SealKeys => {
  const privateKey = ed25519.utils.randomPrivateKey();
  return { signer: { keyId, privateKey }, trusted: { [keyId]: ed25519.getPublicKey(privateKey) } };
};
const KEYS = keyPair('workers-2026');
const CUTOVER = { workflowId: 'cutover-a', runId: 'run-1' };
const DIGEST = 'a'.repeat(64);
const plan = { ...makePlan(), policyDigest: DIGEST };
const seal = sealPlan(KEYS, plan, CUTOVER)!;
const deploy = plan.staging.deploy[0] as Action;
const run = (workflowId: string, runId: string, parent?: { workflowId: string; runId: string }): ExecutingRun => ({
  workflowId,
  runId,
  parent: () => Promise.resolve(parent),
});
const inCutover = run(CUTOVER.workflowId, CUTOVER.runId);

test('the seal covers every action of the checked plan, each as the plan wrote it', async () => {
  expect(Object.keys(seal.actions).sort()).toEqual(
    actionsOf(plan)
      .map((a) => a.path)
      .sort(),
  );
  expect(seal).toMatchObject({ keyId: 'workers-2026', ...CUTOVER, policyDigest: DIGEST });
  for (const { action } of actionsOf(plan)) {
    expect(
      await sealProblem(
        KEYS,
        action,
        { seal, workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
        { executing: inCutover },
      ),
    ).toBeUndefined();
  }
  // The rollback runs without its target and the decommission without afterCleanDays: the same action.
  const { target: _target, ...rollback } = plan.rollback;
  expect(
    await sealProblem(
      KEYS,
      rollback,
      { seal, workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
      { executing: inCutover },
    ),
  ).toBeUndefined();
});

test('a worker without a signing key seals nothing', () => {
  expect(sealPlan({ trusted: KEYS.trusted }, plan, CUTOVER)).toBeUndefined();
  expect(sealPlan(undefined, plan, CUTOVER)).toBeUndefined();
});

describe('refused, naming why', () => {
  test.each<[string, () => Promise<string | undefined>, RegExp]>([
    [
      'no seal at all',
      () =>
        sealProblem(
          KEYS,
          deploy,
          { seal: undefined, workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
          { executing: inCutover },
        ),
      /carries no seal of the workers' plan check/,
    ],
    [
      'an action the plan does not have (its argv changed)',
      () =>
        sealProblem(
          KEYS,
          { ...deploy, run: ['node', 'deploy.js', '--evil'] },
          { seal, workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
          { executing: inCutover },
        ),
      /not an action of the plan the workers checked/,
    ],
    [
      "another action's signature (the probe's, for a deploy)",
      () =>
        sealProblem(
          KEYS,
          deploy,
          { seal: sealFor(seal, 'production.monitor.probe'), workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
          { executing: inCutover },
        ),
      /not an action of the plan the workers checked/,
    ],
    [
      'a forged signature by a key under the same key id',
      () =>
        sealProblem(
          KEYS,
          deploy,
          {
            seal: sealPlan(keyPair('workers-2026'), plan, CUTOVER),
            workflowId: CUTOVER.workflowId,
            policyDigest: DIGEST,
          },
          { executing: inCutover },
        ),
      /not an action of the plan the workers checked/,
    ],
    [
      'a key these workers do not trust',
      () =>
        sealProblem(
          KEYS,
          deploy,
          { seal: sealPlan(keyPair('rogue'), plan, CUTOVER), workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
          { executing: inCutover },
        ),
      /by key "rogue", which these workers do not trust/,
    ],
    [
      "another cutover's work folder",
      () =>
        sealProblem(
          KEYS,
          deploy,
          { seal, workflowId: 'cutover-b', policyDigest: DIGEST },
          { executing: run('cutover-b', 'r') },
        ),
      /its seal is cutover cutover-a's, the step names cutover-b's work folder/,
    ],
    [
      'another policy than the worker holds',
      () =>
        sealProblem(
          KEYS,
          deploy,
          { seal, workflowId: CUTOVER.workflowId, policyDigest: 'b'.repeat(64) },
          { executing: inCutover },
        ),
      /sealed under policy aaaaaaaaaaaa…, this worker holds bbbbbbbbbbbb…/,
    ],
    [
      'a seal copied into another workflow (no parent)',
      () =>
        sealProblem(
          KEYS,
          deploy,
          { seal, workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
          { executing: run('rogue-monitor', 'r9') },
        ),
      /rogue-monitor \(run r9\) is neither that run nor its child: a seal copied from another workflow/,
    ],
    [
      "a seal copied into the child of another run of the same cutover's id",
      () =>
        sealProblem(
          KEYS,
          deploy,
          { seal, workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
          { executing: run('m', 'r2', { workflowId: 'cutover-a', runId: 'run-0' }) },
        ),
      /neither that run nor its child/,
    ],
    [
      'a seal whose fields were edited (the run id)',
      () =>
        sealProblem(
          KEYS,
          deploy,
          { seal: { ...seal, runId: 'run-2' }, workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
          { executing: run('cutover-a', 'run-2') },
        ),
      /not an action of the plan the workers checked/,
    ],
  ])('%s', async (_name, check, why) => {
    expect(await check()).toMatch(why);
  });
});

test("the cutover's own child (its monitor) runs the probe its parent's seal covers", async () => {
  const probe = plan.production.monitor.probe;
  const child = run('cutover-a/monitor', 'run-7', CUTOVER);
  expect(
    await sealProblem(
      KEYS,
      probe,
      { seal: sealFor(seal, 'production.monitor.probe'), workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
      { executing: child },
    ),
  ).toBe(undefined);
});

test('after a key rotation, the previous key still verifies while it is trusted, and not after', async () => {
  const next = keyPair('workers-2027');
  const both: SealKeys = { ...next, trusted: { ...next.trusted, ...KEYS.trusted } };
  expect(
    await sealProblem(
      both,
      deploy,
      { seal, workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
      { executing: inCutover },
    ),
  ).toBeUndefined();
  expect(
    await sealProblem(
      next,
      deploy,
      { seal, workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
      { executing: inCutover },
    ),
  ).toMatch(/do not trust/);
});

test("on an environment's queue only that environment's actions run; the workers' one queue runs them all", async () => {
  const queues = { staging: 'q-staging', production: 'q-production', compute: 'q-compute' };
  const on = (taskQueue: string): ExecutingRun => ({ ...inCutover, taskQueue });
  const probe = plan.production.monitor.probe;
  expect(
    await sealProblem(
      KEYS,
      deploy,
      { seal, workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
      { executing: on('q-staging'), queues: queues },
    ),
  ).toBeUndefined();
  expect(
    await sealProblem(
      KEYS,
      probe,
      { seal, workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
      { executing: on('q-production'), queues: queues },
    ),
  ).toBeUndefined();
  expect(
    await sealProblem(
      KEYS,
      plan.candidate,
      { seal, workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
      { executing: on('q-compute'), queues: queues },
    ),
  ).toBeUndefined();
  expect(
    await sealProblem(
      KEYS,
      deploy,
      { seal, workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
      { executing: on('q-production'), queues: queues },
    ),
  ).toMatch(
    /it is the plan's staging\.deploy\[0\], which runs on staging's queue, not on production's \(q-production\)/,
  );
  expect(
    await sealProblem(
      KEYS,
      plan.candidate,
      { seal, workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
      { executing: on('q-staging'), queues: queues },
    ),
  ).toMatch(/which runs on compute's queue, not on staging's/);
  for (const action of [deploy, probe, plan.candidate]) {
    expect(
      await sealProblem(
        KEYS,
        action,
        { seal, workflowId: CUTOVER.workflowId, policyDigest: DIGEST },
        { executing: on('cutover'), queues: queues },
      ),
    ).toBeUndefined();
  }
});
