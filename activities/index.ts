/**
 * The activities of a cutover, built from their dependencies so tests can pass their own.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../plan/failures';
import { checkPlanAgainstPolicy, type ResolvedPolicy } from '../plan/policy';
import { fileSystemResolver } from '../plan/policy-load';
import { planOrFailure, type CutoverPlan } from '../plan/schema';
import { createProbe, createReconcile } from './production';
import { createRehearseRollback } from './rehearsal';
import { createShadow } from './shadow';
import { createCheckHealth, createRunStep } from './staging';
import { createStress } from './stress';

export interface ActivityDeps {
  /** Where datasets and working files live (one folder per cutover under `work/`). */
  dataDir: string;
  /** The organisation policy the worker holds (`CUTOVER_POLICY`); without one, plans are their own judge. */
  policy?: ResolvedPolicy;
  /** DuckDB's bounds for output diffs (CUTOVER_DIFF_MEMORY, CUTOVER_DIFF_THREADS). @default DuckDB's own */
  diff?: { memoryLimit?: string; threads?: number };
}

/**
 * The plan check of a worker with a policy: the schema first, then the policy. Every violation is listed by
 * its path in one non-retryable `PolicyViolation` (nothing has run yet); a plan within the policy comes back
 * as the policy tightens it (the stricter of the two), and that is the plan the cutover runs.
 */
export function createCheckPlan(policy: ResolvedPolicy | undefined) {
  return async function checkPlan(input: unknown): Promise<CutoverPlan> {
    // A digest only the workers' plan check sets: a plan's own claim is never taken.
    const { policyDigest: _claimed, ...plan } = planOrFailure(input);
    if (!policy) return plan;
    const { problems, effective } = checkPlanAgainstPolicy(plan, policy, fileSystemResolver);
    if (problems.length === 0) return { ...effective, policyDigest: policy.digest };
    throw ApplicationFailure.create({
      type: FailureType.PolicyViolation,
      nonRetryable: true,
      message: `refused by the workers' policy (${policy.digest.slice(0, 12)}): ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      details: [problems],
    });
  };
}

/**
 * Checks a plan as the workflow received it, with the schema the CLI uses, and returns it with its defaults.
 * An activity rather than workflow code: the zod schema then lives once in the worker, not in every cutover.
 */
export const checkPlan = createCheckPlan(undefined);

export function createActivities(deps: ActivityDeps) {
  return {
    checkPlan: createCheckPlan(deps.policy),
    runStep: createRunStep(deps),
    checkHealth: createCheckHealth(deps),
    runShadow: createShadow(deps),
    runStress: createStress(deps),
    rehearseRollback: createRehearseRollback(deps),
    probe: createProbe(deps),
    reconcile: createReconcile(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
