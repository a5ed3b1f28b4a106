/**
 * Sealing and checking the workers' seal (plan/seal.ts): the plan check signs every action of the plan it
 * accepted for the run that asked; before anything starts, the runner checks that the action carries such a
 * signature by a key the workers trust, for the cutover whose work folder it names, under the policy this
 * worker holds, and that the workflow asking is that cutover's run or a child of it (the server says which,
 * not the input).
 */
import { Context } from '@temporalio/activity';
import { curve } from '../plan/keys';
import { ENVIRONMENTS, type Environment, type EnvironmentQueues } from '../plan/environments';
import { actionsOf, environmentOfPath } from '../policy/actions';
import { sealMessage, type PlanSeal } from '../plan/seal';
import type { Action, CutoverPlan } from '../plan/schema';

/** The workers' keys: the one their plan check signs with, and every key whose seals they accept. */
export interface SealKeys {
  /** Present on a worker that checks plans (the orchestrator): CUTOVER_WORKER_KEY_FILE, CUTOVER_WORKER_KEY_ID. */
  signer?: { keyId: string; privateKey: Uint8Array };
  /** Public keys by key id: the signer's own and CUTOVER_WORKER_KEYS (other workers', or the previous key). */
  trusted: Record<string, Uint8Array>;
}

/** The seal over every action of `plan`, for `workflowId`'s run `runId`; nothing without a signing key. */
export function sealPlan(
  keys: SealKeys | undefined,
  plan: CutoverPlan,
  cutover: { workflowId: string; runId: string },
): PlanSeal | undefined {
  if (!keys?.signer) return undefined;
  const ed25519 = curve();
  const actions: Record<string, string> = {};
  for (const { path, action } of actionsOf(plan)) {
    const message = sealMessage({ ...cutover, policyDigest: plan.policyDigest, path, action });
    actions[path] = Buffer.from(ed25519.sign(message, keys.signer.privateKey)).toString('hex');
  }
  return {
    keyId: keys.signer.keyId,
    ...cutover,
    ...(plan.policyDigest !== undefined ? { policyDigest: plan.policyDigest } : {}),
    actions,
  };
}

/** The run an activity was scheduled by, as the server tells it. */
export interface ExecutingRun {
  workflowId: string;
  runId: string;
  /** The task queue the activity came from. */
  taskQueue?: string;
  /** The run's parent, asked of the server only when the run is not the sealed one. */
  parent(): Promise<{ workflowId: string; runId: string } | undefined>;
}

/** What an activity's input claims for an action: the seal it carries, the cutover and the policy it names. */
export interface SealClaim {
  seal: PlanSeal | undefined;
  workflowId: string;
  policyDigest: string | undefined;
}

/**
 * Why `action` may not run for `cutover` under `seal`, or nothing when the workers sealed it: the seal's key is
 * trusted, it is this cutover's and this policy's, one of its signatures covers exactly this action, on an
 * environment's queue the action is that environment's, and the workflow asking is the sealed run or its child
 * (a seal copied into another workflow's input is refused).
 */
export async function sealProblem(
  keys: SealKeys,
  action: Action,
  claim: SealClaim,
  where: { executing?: ExecutingRun | undefined; queues?: EnvironmentQueues | undefined } = {},
): Promise<string | undefined> {
  const { seal, policyDigest } = claim;
  const cutover = { workflowId: claim.workflowId };
  const { executing = executingRun(), queues } = where;
  if (!seal) return "it carries no seal of the workers' plan check: only a checked cutover's actions run";
  const key = keys.trusted[seal.keyId];
  if (!key) return `its seal is by key "${String(seal.keyId)}", which these workers do not trust`;
  if (seal.workflowId !== cutover.workflowId) {
    return `its seal is cutover ${String(seal.workflowId)}'s, the step names ${cutover.workflowId}'s work folder`;
  }
  if ((seal.policyDigest ?? '') !== (policyDigest ?? '')) {
    return `it was sealed under policy ${short(seal.policyDigest)}, this worker holds ${short(policyDigest)}`;
  }
  const ed25519 = curve();
  const covered = Object.entries(seal.actions ?? {}).flatMap(([path, signature]) => {
    try {
      const message = sealMessage({ workflowId: seal.workflowId, runId: seal.runId, policyDigest, path, action });
      return ed25519.verify(signature, message, key) ? [path] : [];
    } catch {
      return [];
    }
  });
  if (covered.length === 0) {
    return 'it is not an action of the plan the workers checked for this cutover (no seal covers it)';
  }
  // On an environment's queue, only that environment's actions: a staging step handed to production's worker
  // (or a pipeline run to staging's) is refused, whatever environment the input claims.
  const taskQueue = executing?.taskQueue;
  const queueOf =
    queues && taskQueue !== undefined
      ? ENVIRONMENTS.find((environment) => queues[environment] === taskQueue)
      : undefined;
  if (queueOf !== undefined && !covered.some((path) => environmentOf(path) === queueOf)) {
    const where = environmentOf(covered[0] as string);
    return `it is the plan's ${covered.join(', ')}, which runs on ${where ? `${where}'s` : "the orchestrator's"} queue, not on ${queueOf}'s (${taskQueue})`;
  }
  if (!executing || (executing.workflowId === seal.workflowId && executing.runId === seal.runId)) return undefined;
  const parent = await executing.parent();
  if (parent?.workflowId === seal.workflowId && parent.runId === seal.runId) return undefined;
  return `its seal is run ${seal.runId} of ${seal.workflowId}'s, and ${executing.workflowId} (run ${executing.runId}) is neither that run nor its child: a seal copied from another workflow`;
}

/** The environment whose queue runs the action at `path` (a probe is production's); none: the orchestrator's. */
function environmentOf(path: string): Environment | undefined {
  const environment = environmentOfPath(path);
  if (environment === 'probe') return 'production';
  return environment === 'default' ? undefined : environment;
}

const short = (digest: string | undefined) => (digest ? `${digest.slice(0, 12)}…` : 'none');

/** Children's parents by run id: a monitor asks for hundreds of probes, and its parent never changes. */
const parents = new Map<string, { workflowId: string; runId: string } | undefined>();
const PARENTS_KEPT = 1000;

/** The run the current activity was scheduled by; undefined outside an activity (a unit test's call). */
function executingRun(): ExecutingRun | undefined {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return undefined;
  }
  const { workflowExecution, workflowNamespace } = context.info;
  if (!workflowExecution) return undefined;
  const { workflowId, runId } = workflowExecution;
  return {
    workflowId,
    runId,
    taskQueue: context.info.taskQueue,
    async parent() {
      if (parents.has(runId)) return parents.get(runId);
      const described = await context.client.workflowService.describeWorkflowExecution({
        namespace: workflowNamespace,
        execution: { workflowId, runId },
      });
      const found = described.workflowExecutionInfo?.parentExecution;
      const parent =
        found?.workflowId && found.runId ? { workflowId: found.workflowId, runId: found.runId } : undefined;
      if (parents.size >= PARENTS_KEPT) parents.delete(parents.keys().next().value as string);
      parents.set(runId, parent);
      return parent;
    },
  };
}
