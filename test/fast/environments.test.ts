/**
 * Environments: a plan's queues are the workers' (the policy's, else `<queue>-<name>`), production's queue is
 * its own, and a worker serves what CUTOVER_ENVIRONMENT / --environment says.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ed25519 } from '@noble/curves/ed25519';
import { ApplicationFailure } from '@temporalio/common';
import { stringify } from 'yaml';
import { createCheckPlan } from '../../activities/plan-check';
import { FailureType } from '../../plan/failures';
import { bindEnvironments, environmentQueues } from '../../plan/environments';
import { loadPolicy } from '../../policy/load';
import { signPlan } from '../../plan/signing';
import { validatePlan } from '../../plan/schema';
import { ConfigError, loadConfig } from '../../worker/config';
import { makePlan, makePlanInput } from '../helpers/plans';

const DIR = mkdtempSync(path.join(tmpdir(), 'environments-'));
const queues = environmentQueues('tq');
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

function policyFile(name: string, policy: unknown): string {
  const file = path.join(DIR, `${name}.yaml`);
  writeFileSync(file, stringify(policy));
  return file;
}

/** The refusal of `check(plan)`: its type and the problems it lists. */
async function refusal(promise: Promise<unknown>): Promise<{ type?: string; message: string }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  const failure = err as ApplicationFailure;
  return { type: failure.type ?? undefined, message: failure.message };
}

describe('the plan', () => {
  test("production's queue may not be staging's or compute's", () => {
    const result = validatePlan(
      makePlanInput({
        environments: {
          staging: { taskQueue: 'q-prod' },
          production: { taskQueue: 'q-prod' },
          compute: { taskQueue: 'q-prod' },
        },
      }),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => p.path)).toEqual([
      'environments.staging.taskQueue',
      'environments.compute.taskQueue',
    ]);
    expect(result.problems[0]?.message).toBe('"q-prod" is production\'s queue: staging work needs a queue of its own');
  });

  test('a queue name and noWorkerAlert are checked', () => {
    const result = validatePlan(
      makePlanInput({ environments: { production: { taskQueue: 'bad queue', noWorkerAlert: 'soon' } } }),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect([...new Set(result.problems.map((p) => p.path))]).toEqual([
      'environments.production.taskQueue',
      'environments.production.noWorkerAlert',
    ]);
  });
});

describe("the workers' plan check", () => {
  test("a queue other than the workers' for that environment is refused by path, before anything runs", async () => {
    const check = createCheckPlan({ queues });
    const plan = makePlan({ environments: { production: { taskQueue: 'anyone-can-poll-this' } } });
    expect(await refusal(check(plan))).toEqual({
      type: FailureType.PolicyViolation,
      message:
        'refused by the workers\' task queues: environments.production.taskQueue: "anyone-can-poll-this" is not the queue the workers give production ("tq-production")',
    });
  });

  test("the workers' own queues pass, and a plan without environments stays on the one queue", async () => {
    const check = createCheckPlan({ queues });
    const routed = makePlan({ environments: { production: { taskQueue: 'tq-production', noWorkerAlert: '10m' } } });
    expect((await check(routed)).environments).toEqual({
      production: { taskQueue: 'tq-production', noWorkerAlert: '10m' },
    });
    expect((await check(makePlan())).environments).toBeUndefined();
  });

  test("a policy's environments name the queues, and route a plan that leaves them out", async () => {
    const file = policyFile('routed', {
      version: 1,
      environments: { production: { taskQueue: 'prod-only' }, compute: { taskQueue: 'compute-farm' } },
      default: { commands: { default: [[process.execPath]] }, folders: ['/'] },
    });
    const policy = loadPolicy(file);
    const policyQueues = environmentQueues('tq', policy.policy.environments);
    expect(policyQueues).toEqual({ staging: 'tq-staging', production: 'prod-only', compute: 'compute-farm' });
    const check = createCheckPlan({ policy, queues: policyQueues });
    const effective = await check(makePlan());
    expect(effective.environments).toEqual({
      production: { taskQueue: 'prod-only' },
      compute: { taskQueue: 'compute-farm' },
    });
    const wrong = makePlan({ environments: { production: { taskQueue: 'tq-production' } } });
    expect((await refusal(check(wrong))).message).toContain(
      'environments.production.taskQueue: "tq-production" is not the queue the workers give production ("prod-only")',
    );
  });

  test('bindEnvironments keeps a plan without environments as it is when nothing is routed', () => {
    const plan: { release: string; environments?: undefined } = { release: 'x' };
    expect(bindEnvironments(plan, queues)).toEqual({ problems: [], plan });
  });
});

describe('the worker', () => {
  test('serves everything by default, or what CUTOVER_ENVIRONMENT lists', () => {
    expect(loadConfig({})).toMatchObject({
      orchestrator: true,
      environments: ['staging', 'production', 'compute'],
      queues: { staging: 'cutover-staging', production: 'cutover-production', compute: 'cutover-compute' },
    });
    expect(loadConfig({ CUTOVER_ENVIRONMENT: 'production' })).toMatchObject({
      orchestrator: false,
      environments: ['production'],
    });
    expect(loadConfig({ CUTOVER_ENVIRONMENT: 'orchestrator,compute', CUTOVER_TASK_QUEUE: 'x' })).toMatchObject({
      orchestrator: true,
      environments: ['compute'],
      queues: { compute: 'x-compute' },
    });
  });

  test('an unknown environment is refused, naming the variable', () => {
    expect(() => loadConfig({ CUTOVER_ENVIRONMENT: 'prod' })).toThrow(ConfigError);
    expect(() => loadConfig({ CUTOVER_ENVIRONMENT: 'prod' })).toThrow(
      /^CUTOVER_ENVIRONMENT="prod": expected all, or a comma-separated list of orchestrator, staging, production, compute/,
    );
  });

  test("a policy that gives an environment the orchestrator's queue, or production's queue to another, is refused", () => {
    const same = policyFile('same', { version: 1, environments: { compute: { taskQueue: 'cutover' } } });
    expect(() => loadConfig({ CUTOVER_POLICY: same })).toThrow(
      /environments\.compute\.taskQueue is CUTOVER_TASK_QUEUE \("cutover"\)/,
    );
    const shared = policyFile('shared', {
      version: 1,
      environments: { production: { taskQueue: 'p' }, staging: { taskQueue: 'p' } },
    });
    expect(() => loadConfig({ CUTOVER_POLICY: shared })).toThrow(
      /environments: production's queue must be production's alone/,
    );
  });
});

test('a signed plan still verifies when the workers route its environments and add their attesters', async () => {
  const rmKey = ed25519.utils.randomPrivateKey();
  const file = policyFile('signed', {
    version: 1,
    releaseManagers: { 'rm-2026': { signer: 'rm', publicKey: hex(ed25519.getPublicKey(rmKey)) } },
    environments: { production: { taskQueue: 'prod-only' } },
    default: { requireSignedPlans: true, commands: { default: [[process.execPath]] }, folders: ['/'] },
  });
  const policy = loadPolicy(file);
  const attester = hex(ed25519.getPublicKey(ed25519.utils.randomPrivateKey()));
  const check = createCheckPlan({
    policy,
    queues: environmentQueues('tq', policy.policy.environments),
    attestation: {
      keys: { 'app-1': attester },
      require: true,
      maxAge: '5m',
    },
  });
  const signed = signPlan(makePlan(), rmKey, {
    keyId: 'rm-2026',
    signer: 'rm',
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  });
  const effective = await check(signed);
  expect(effective.initiator).toBe('rm');
  expect(effective.environments).toEqual({ production: { taskQueue: 'prod-only' } });
  expect(effective.signoff).toMatchObject({
    attesters: { 'app-1': attester },
    attestationMaxAge: '5m',
    requireAttested: true,
  });
});

describe("a plan's own approver keys where sign-offs must be attested", () => {
  const initiatorKey = hex(ed25519.getPublicKey(ed25519.utils.randomPrivateKey()));
  const everyone = { ana: initiatorKey, bo: initiatorKey, cy: initiatorKey, di: initiatorKey, ed: initiatorKey };
  const planWithKeys = (requireAttested?: boolean) => {
    const base = makePlanInput();
    return makePlan({ signoff: { ...base.signoff, keys: everyone, ...(requireAttested ? { requireAttested } : {}) } });
  };
  const refusal = async (promise: Promise<unknown>) => {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe(FailureType.PolicyViolation);
    return (err as ApplicationFailure).message;
  };

  test('are refused by path when the workers require attestation (CUTOVER_REQUIRE_ATTESTED)', async () => {
    const check = createCheckPlan({ queues, attestation: { keys: {}, require: true, maxAge: '5m' } });
    expect(await refusal(check(planWithKeys()))).toMatch(/signoff\.keys: sign-offs must be attested here/);
  });

  test('are refused by path when the plan itself requires attestation', async () => {
    const check = createCheckPlan({ queues, attestation: { keys: {}, require: false, maxAge: '5m' } });
    expect(await refusal(check(planWithKeys(true)))).toMatch(/signoff\.keys: /);
  });

  test("still count where attestation is not required, recorded as the plan author's (a plan's own claim dropped)", async () => {
    const check = createCheckPlan({ queues, attestation: { keys: {}, require: false, maxAge: '5m' } });
    const effective = await check(planWithKeys());
    expect(effective.signoff.keys).toEqual(everyone);
    expect(effective.signoff.keysBy).toBe('plan');
    const claimed = planWithKeys();
    const claiming = { ...claimed, signoff: { ...claimed.signoff, keysBy: 'policy' as const } };
    expect((await check(claiming)).signoff.keysBy).toBe('plan');
  });
});
