/**
 * The activities of a cutover, built from their dependencies so tests can pass their own.
 */
import { createChangeWindow } from './change-window';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../plan/failures';
import { DEFAULT_TASK_QUEUE } from '../shapes/queues';
import { PHASE_DECLARATIONS, type PhaseActivity } from '../shapes/phases';
import { PHASES } from '../shapes/status';
import {
  bindEnvironments,
  ENVIRONMENTS,
  environmentQueues,
  type Environment,
  type EnvironmentQueues,
} from '../plan/environments';
import { checkPlanAgainstPolicy } from '../policy/check';
import { rulesFor, type ResolvedPolicy } from '../policy/schema';
import { type Reach } from '../policy/reach';
import { workdirFor } from './datasets';
import { fileSystemResolver } from '../policy/load';
import { planOrFailure, type CutoverPlan } from '../plan/schema';
import { createDeployProduction, createProbe, createReconcile } from './production';
import { createNotify } from './notify';
import { describeQueue } from './queues';
import { createRehearseRollback } from './rehearsal';
import { createShadow } from './shadow';
import { createCheckHealth, createRunStep } from './staging';
import { createStress } from './stress';
import { sealPlan, type SealKeys } from './seal';

export interface ActivityDeps {
  /** Where datasets and working files live (one folder per cutover under `work/`). */
  dataDir: string;
  /** The organisation policy the worker holds (`CUTOVER_POLICY`); without one, plans are their own judge. */
  policy?: ResolvedPolicy;
  /** The workers' task queue per environment, which a plan's `environments` must name. @default `cutover-<name>` */
  queues?: EnvironmentQueues;
  /** The attestation settings of the workers (CUTOVER_ATTESTER_KEYS, CUTOVER_REQUIRE_ATTESTED, …). */
  attestation?: AttestationSettings;
  /** Where the approval app serves a cutover's page (CUTOVER_APPROVAL_URL): the link notifications carry. */
  approvalUrl?: string;
  /** DuckDB's bounds for output diffs (CUTOVER_DIFF_MEMORY, CUTOVER_DIFF_THREADS). @default DuckDB's own */
  diff?: { memoryLimit?: string; threads?: number };
  /** The databases output tables may live in, by the name plans use: their URLs (CUTOVER_DATABASE_<NAME>). */
  databases?: Record<string, string>;
  /**
   * The workers' keys (CUTOVER_WORKER_KEY_FILE, CUTOVER_WORKER_KEYS): the plan check seals what it accepts, and
   * no action runs without that seal. @default none: actions are checked against the policy only
   */
  seals?: SealKeys;
}

/**
 * The plan check of the workers: the schema first, then the policy and the environments' queues. Every
 * violation is listed by its path in one non-retryable `PolicyViolation` (nothing has run yet); a plan within
 * the policy comes back as the policy tightens it (the stricter of the two), and that is the plan the
 * cutover runs.
 */
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

export function createCheckPlan(
  policy: ResolvedPolicy | undefined,
  queues: EnvironmentQueues,
  attestation?: AttestationSettings,
  approvalUrl?: string,
  dataDir?: string,
  seals?: SealKeys,
) {
  const routed = ENVIRONMENTS.filter((environment) => policy?.policy.environments[environment] !== undefined);
  return async function checkPlan(input: unknown): Promise<CutoverPlan> {
    // A digest only the workers' plan check sets: a plan's own claim is never taken.
    const { policyDigest: _claimed, approvalUrl: _claimedUrl, seal: _claimedSeal, ...plan } = planOrFailure(input);
    // The policy sees the plan as it was written (its signature covers exactly that); what the workers add
    // (routes, attesters, the digest) comes after.
    const bound = bindEnvironments(plan, queues, routed);
    const run = askingRun();
    const reach = dataDir !== undefined && run ? reachOf(dataDir, run.workflowId) : undefined;
    const checked = policy ? checkPlanAgainstPolicy(plan, policy, fileSystemResolver, new Date(), reach) : undefined;
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

/**
 * Checks a plan as the workflow received it, with the schema the CLI uses, and returns it with its defaults;
 * environments must name the default queues of the `cutover` task queue.
 * An activity rather than workflow code: the zod schema then lives once in the worker, not in every cutover.
 */
export const checkPlan = createCheckPlan(undefined, environmentQueues(DEFAULT_TASK_QUEUE));

export function createActivities(deps: ActivityDeps) {
  return {
    checkPlan: createCheckPlan(
      deps.policy,
      deps.queues ?? environmentQueues(DEFAULT_TASK_QUEUE),
      deps.attestation,
      deps.approvalUrl,
      deps.dataDir,
      deps.seals,
    ),
    runStep: createRunStep(deps),
    checkHealth: createCheckHealth(deps),
    runShadow: createShadow(deps),
    runStress: createStress(deps),
    rehearseRollback: createRehearseRollback(deps),
    probe: createProbe(deps),
    deployProduction: createDeployProduction(deps),
    reconcile: createReconcile(deps),
    describeQueue,
    notify: createNotify(deps),
    changeWindow: createChangeWindow(deps),
  };
}

/**
 * The activities each environment's workers register: only the work of that environment, the activities of the
 * phases that declare it (shapes/phases.ts).
 */
export const ENVIRONMENT_ACTIVITIES: Readonly<Record<Environment, readonly (PhaseActivity & keyof Activities)[]>> =
  Object.fromEntries(
    ENVIRONMENTS.map((environment) => [
      environment,
      [
        ...new Set(
          PHASES.flatMap((phase) =>
            PHASE_DECLARATIONS[phase].environment === environment ? PHASE_DECLARATIONS[phase].activities : [],
          ),
        ),
      ],
    ]),
  ) as Record<Environment, PhaseActivity[]>;

export type Activities = ReturnType<typeof createActivities>;
