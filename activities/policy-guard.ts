/**
 * The policy's check at run time: each action's argv, cwd, env keys and URL as they are after placeholders
 * expand, just before the runner starts it. The plan check already refused what it could see; this is what
 * catches a placeholder that expands into something else, or a file swapped after the check.
 */
import { ApplicationFailure } from '@temporalio/common';
import {
  allowedCommand,
  allowedUrl,
  insideFolders,
  rulesFor,
  type PathResolver,
  type ResolvedPolicy,
} from '../plan/policy';
import { FailureType } from '../plan/failures';
import { fileSystemResolver } from '../plan/policy-load';
import { ActionError } from './errors';

/** Says why an action may not run, or nothing when it may. */
export interface ActionGuard {
  run(argv: readonly string[], cwd: string, envKeys: readonly string[]): string | undefined;
  http(url: string): string | undefined;
}

/** The guard for one release's actions, or none when the worker has no policy. */
export function actionGuard(
  policy: ResolvedPolicy | undefined,
  release: string,
  resolver: PathResolver = fileSystemResolver,
): ActionGuard | undefined {
  if (!policy) return undefined;
  const rules = rulesFor(policy.policy, release);
  return {
    run(argv, cwd, envKeys) {
      if (!rules) return `no rules for release "${release}"`;
      const real = resolver.real(cwd, policy.policyDir);
      if (real === undefined || !insideFolders(real, rules, policy.policyDir, resolver)) {
        return `cwd ${cwd} is outside the folders the policy allows`;
      }
      if (!allowedCommand(argv, cwd, rules.commands.default ?? [], policy.policyDir, resolver)) {
        return `${JSON.stringify(argv.slice(0, 3))} is not a command the policy allows`;
      }
      const refused = envKeys.filter((key) => !rules.env.includes(key));
      if (refused.length > 0) return `the policy does not allow actions to set ${refused.join(', ')}`;
      return undefined;
    },
    http(url) {
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
export function guarded(policy: ResolvedPolicy | undefined, release: string): { guard?: ActionGuard } {
  const guard = actionGuard(policy, release);
  return guard ? { guard } : {};
}

/** Whether `err` is the policy refusing an action: never a sample, an error run or a retry, always final. */
export function isPolicyRefusal(err: unknown): boolean {
  return err instanceof ActionError && err.type === FailureType.PolicyViolation;
}
