/**
 * The workers' plan check, an activity rather than workflow code (the zod schema then lives once in the worker,
 * not in every cutover): the plan's schema, the workers' policy, the environments' queues, the approvers' own
 * keys and the workers' attestation settings; a plan it accepts is sealed (activities/seal.ts).
 */
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../plan/failures';
import { bindEnvironments, ENVIRONMENTS, environmentQueues, type EnvironmentQueues } from '../plan/environments';
import { DEFAULT_TASK_QUEUE } from '../shapes/queues';
import { checkPlanAgainstPolicy } from '../policy/check';
import { rulesFor, type ResolvedPolicy } from '../policy/schema';
import { type Reach } from '../policy/reach';
import { workdirFor } from './datasets';
import { fileSystemResolver } from '../policy/load';
import { planOrFailure, type CutoverPlan } from '../plan/schema';
import { sealPlan, type SealKeys } from './seal';

/** Which attesters the workers trust, and whether every sign-off must be attested or signed. */
export interface AttestationSettings {
  /** Public keys by key id. */
  keys: Record<string, string>;
  require: boolean;
  /** How old an attestation may be (a duration such as 10m). */
  maxAge: string;
  /** Which groups hold which role, for the approval app (CUTOVER_ROLE_GROUPS; the policy's groups win). */
  roleGroups?: Record<string, string[]>;
}

/** What the plan check holds a plan to, from the worker's settings (activities/index.ts `ActivityDeps`). */
export interface PlanCheckDeps {
  /** The organisation policy (`CUTOVER_POLICY`); without one, plans are their own judge. */
  policy?: ResolvedPolicy;
  /** The workers' task queue per environment. @default `cutover-<name>` */
  queues?: EnvironmentQueues;
  attestation?: AttestationSettings;
  /** Where the approval app serves a cutover's page: the link notifications carry. */
  approvalUrl?: string;
  /** Where the cutovers' working folders are: the reach the policy bounds paths to. */
  dataDir?: string;
  /** The workers' keys: what the check accepts, it seals. */
  seals?: SealKeys;
}

/**
 * The plan check of the workers: the schema first, then the policy and the environments' queues. Every
 * violation is listed by its path in one non-retryable `PolicyViolation` (nothing has run yet); a plan within
 * the policy comes back as the policy tightens it (the stricter of the two), and that is the plan the
 * cutover runs.
 */
export function createCheckPlan({
  policy,
  queues = environmentQueues(DEFAULT_TASK_QUEUE),
  attestation,
  approvalUrl,
  dataDir,
  seals,
}: PlanCheckDeps) {
  const routed = ENVIRONMENTS.filter((environment) => policy?.policy.environments[environment] !== undefined);
  return async function checkPlan(input: unknown): Promise<CutoverPlan> {
    // A digest only the workers' plan check sets: a plan's own claim is never taken.
    const { policyDigest: _claimed, approvalUrl: _claimedUrl, seal: _claimedSeal, ...plan } = planOrFailure(input);
    // The policy sees the plan as it was written (its signature covers exactly that); what the workers add
    // (routes, attesters, the digest) comes after.
    const bound = bindEnvironments(plan, queues, routed);
    const run = askingRun();
    const reach = dataDir !== undefined && run ? reachOf(dataDir, run.workflowId) : undefined;
    const checked = policy ? checkPlanAgainstPolicy(plan, policy, fileSystemResolver, { reach }) : undefined;
    const problems = [...bound.problems, ...(checked?.problems ?? []), ...ownKeysProblems(plan, attestation, policy)];
    if (problems.length === 0) {
      const effective = policy && checked ? { ...checked.effective, policyDigest: policy.digest } : plan;
      const routedPlan = bound.plan.environments ? { ...effective, environments: bound.plan.environments } : effective;
      const attested = withAttestation(routedPlan, attestation, policy);
      const linked = approvalUrl ? { ...attested, approvalUrl } : attested;
      const seal = run ? sealPlan(seals, linked, run) : undefined;
      return seal ? { ...linked, seal } : linked;
    }
    const whose = policy ? `the workers' policy (${policy.digest.slice(0, 12)})` : "the workers' task queues";
    throw ApplicationFailure.create({
      type: FailureType.PolicyViolation,
      nonRetryable: true,
      message: `refused by ${whose}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      details: [problems],
    });
  };
}

/** The cutover run this plan check runs for; undefined outside an activity (a unit test's call). */
function askingRun(): { workflowId: string; runId: string } | undefined {
  try {
    const execution = Context.current().info.workflowExecution;
    return execution ? { workflowId: execution.workflowId, runId: execution.runId } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The folders the checked cutover's actions may reach: its own work folder (of the workflow this activity
 * runs for) and nothing else of the workers' work root.
 */
function reachOf(dataDir: string, workflowId: string): Reach {
  return { workdir: workdirFor(dataDir, workflowId), workRoot: path.join(dataDir, 'work') };
}

/**
 * Where sign-offs must be attested, a key the plan names proves nothing about who signed: whoever wrote the plan
 * could list their own key for every approver. Only the policy's `approverKeys` count there, so a plan's own
 * `signoff.keys` are refused (the policy's, which the policy check put in their place, are not the plan's).
 */
function ownKeysProblems(
  plan: CutoverPlan,
  attestation: AttestationSettings | undefined,
  policy: ResolvedPolicy | undefined,
): { path: string; message: string }[] {
  const required = plan.signoff.requireAttested === true || attestation?.require === true;
  const pinned = policy ? rulesFor(policy.policy, plan.release)?.approverKeys : undefined;
  if (!required || pinned !== undefined || Object.keys(plan.signoff.keys ?? {}).length === 0) return [];
  return [
    {
      path: 'signoff.keys',
      message:
        "sign-offs must be attested here: a plan's own approver keys do not count (the workers' policy pins approvers' keys as approverKeys)",
    },
  ];
}

/**
 * The workers' attestation settings in the plan the cutover runs: their attesters and maximum age (a plan's
 * own attesters are dropped), and attested sign-offs required if either the workers or the plan say so.
 */
function withAttestation(
  plan: CutoverPlan,
  attestation: AttestationSettings | undefined,
  policy: ResolvedPolicy | undefined,
): CutoverPlan {
  const {
    attesters: _attesters,
    attestationMaxAge: _maxAge,
    roleGroups: _claimedGroups,
    keysBy: _claimedKeysBy,
    ...signoff
  } = plan.signoff;
  // The groups of the plan's roles: the policy's where it names some, else the workers' CUTOVER_ROLE_GROUPS.
  const roleGroups: Record<string, string[]> = {};
  const rules = policy ? rulesFor(policy.policy, plan.release) : undefined;
  for (const role of Object.keys(signoff.roles)) {
    const fromPolicy = rules?.roles[role]?.groups ?? [];
    const groups = fromPolicy.length > 0 ? fromPolicy : attestation?.roleGroups?.[role];
    if (groups?.length) roleGroups[role] = groups;
  }
  // Whose word the approvers' keys are: the policy's pins them; otherwise they are the plan author's, which the
  // audit and the report say (a signature then proves the key, not who holds it).
  const keysBy = rules?.approverKeys !== undefined ? 'policy' : 'plan';
  return {
    ...plan,
    signoff: {
      ...signoff,
      ...(Object.keys(signoff.keys ?? {}).length > 0 ? { keysBy } : {}),
      ...(attestation && Object.keys(attestation.keys).length > 0 ? { attesters: attestation.keys } : {}),
      ...(attestation ? { attestationMaxAge: attestation.maxAge } : {}),
      ...(signoff.requireAttested || attestation?.require ? { requireAttested: true } : {}),
      ...(Object.keys(roleGroups).length > 0 ? { roleGroups } : {}),
    },
  };
}
