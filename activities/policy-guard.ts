/**
 * The policy's check at run time: each action's argv, cwd, env keys and URL as they are after placeholders
 * expand, just before the runner starts it. The plan check already refused what it could see; this is what
 * catches a placeholder that expands into something else, or a file swapped after the check.
 */
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { allowedPrefix, allowedUrl, outOfReach, pathArguments, reachedPath, type PathResolver } from '../policy/reach';
import { commandsFor } from '../policy/actions';
import { rulesFor, type PolicyEnvironment, type ResolvedPolicy } from '../policy/schema';
import { FailureType } from '../plan/failures';
import type { PlanSeal } from '../plan/seal';
import type { CutoverPlan } from '../plan/schema';
import { fileSystemResolver } from '../policy/load';
import { ActionError } from './errors';
import { workdirFor } from './datasets';
import type { ActionGuard } from './runner';
import { sealProblem, type SealKeys } from './seal';
import type { EnvironmentQueues } from '../plan/environments';

/** Whose actions a guard watches: the cutover (its work folder) and the release (its pipeline's rules). */
export interface GuardedCutover {
  workflowId: string;
  release: string;
  /** The workers' seal on the cutover's checked plan (the part the step needs). */
  seal?: PlanSeal;
}

/** What the guard knows of the worker: its policy, its data folder and the keys of the workers' seals. */
export interface GuardDeps {
  policy?: ResolvedPolicy;
  dataDir: string;
  seals?: SealKeys;
  /** The environments' queues: on one of them, only that environment's actions run. */
  queues?: EnvironmentQueues;
}

/**
 * The guard for one cutover's actions, or none when the worker has no policy. Besides the policy's commands,
 * env and URLs, it bounds the folders an action reaches (its cwd and every argument that names a file, after
 * placeholders, `..` and symlinks): its own work folder and the policy's folders, never another cutover's.
 */
export function actionGuard(
  deps: GuardDeps,
  cutover: GuardedCutover,
  environment: PolicyEnvironment = 'default',
  resolver: PathResolver = fileSystemResolver,
): ActionGuard | undefined {
  const { policy, dataDir, seals } = deps;
  if (!policy && !seals) return undefined;
  const { release } = cutover;
  const rules = policy ? rulesFor(policy.policy, release) : undefined;
  const reach = { workdir: workdirFor(dataDir, cutover.workflowId), workRoot: path.join(dataDir, 'work') };
  return {
    async sealed(action) {
      return seals
        ? sealProblem(
            seals,
            action,
            { seal: cutover.seal, workflowId: cutover.workflowId, policyDigest: policy?.digest },
            { queues: deps.queues },
          )
        : undefined;
    },
    run(argv, cwd, envKeys) {
      if (!policy) return undefined;
      if (!rules) return `no rules for release "${release}"`;
      const real = resolver.real(cwd, policy.policyDir);
      const cwdReach =
        real === undefined
          ? 'it does not exist'
          : outOfReach(real, reach, rules, { policyDir: policy.policyDir, resolver });
      if (cwdReach !== undefined) return `cwd ${cwd} is outside the folders the policy allows: ${cwdReach}`;
      const prefix = allowedPrefix(argv, cwd, commandsFor(rules, environment), {
        policyDir: policy.policyDir,
        resolver,
      });
      if (prefix === undefined) {
        return `${JSON.stringify(argv.slice(0, 3))} is not a command the policy allows in ${environment}`;
      }
      for (const file of pathArguments(argv, prefix)) {
        const why = outOfReach(reachedPath(file, cwd, resolver), reach, rules, {
          policyDir: policy.policyDir,
          resolver,
        });
        if (why !== undefined) return `${JSON.stringify(file)}: ${why}`;
      }
      const refused = envKeys.filter((key) => !rules.env.includes(key));
      if (refused.length > 0) return `the policy does not allow actions to set ${refused.join(', ')}`;
      return undefined;
    },
    http(url) {
      if (!policy) return undefined;
      if (!rules) return `no rules for release "${release}"`;
      return allowedUrl(url, rules) ? undefined : `${url} is not under a URL prefix the policy allows`;
    },
  };
}

/**
 * Refuses to act for a cutover checked against another policy than this worker's (none counts as one): a
 * `PolicyMismatch` at once, which the workflow answers by waiting for a worker with the cutover's policy.
 */
export function assertSamePolicy(policy: ResolvedPolicy | undefined, cutoverDigest: string | undefined): void {
  if (policy?.digest === cutoverDigest) return;
  const short = (digest: string | undefined) => (digest ? `${digest.slice(0, 12)}…` : 'none');
  throw ApplicationFailure.create({
    type: FailureType.PolicyMismatch,
    nonRetryable: true,
    message: `this worker holds policy ${short(policy?.digest)}, the cutover was checked against ${short(cutoverDigest)}`,
  });
}

/** `{ guard }` for runAction's options, or nothing when the worker has no policy. */
export function guarded(
  deps: GuardDeps,
  cutover: GuardedCutover,
  environment: PolicyEnvironment = 'default',
): { guard?: ActionGuard } {
  const guard = actionGuard(deps, cutover, environment);
  return guard ? { guard } : {};
}

/** Whether `err` is the policy refusing an action: never a sample, an error run or a retry, always final. */
export function isPolicyRefusal(err: unknown): boolean {
  return err instanceof ActionError && err.type === FailureType.PolicyViolation;
}

/**
 * What a phase activity opens with: the refusal of a worker whose policy is not the one the cutover was checked
 * under, then its context, its plan, its own work folder, its heartbeat and the guard its actions run under.
 */
export function openPhase<T extends GuardedCutover & { plan: CutoverPlan }>(
  deps: GuardDeps,
  input: T,
  environment: PolicyEnvironment = 'compute',
) {
  assertSamePolicy(deps.policy, input.plan.policyDigest);
  const ctx = Context.current();
  return {
    ctx,
    plan: input.plan,
    workdir: workdirFor(deps.dataDir, input.workflowId),
    tick: () => ctx.heartbeat(),
    /** Computed when asked for: the rehearsal guards its actions its own way (`guarded`). */
    get guard() {
      return actionGuard(deps, input, environment);
    },
  };
}
