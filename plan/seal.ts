/**
 * The workers' seal on a checked plan: their plan check signs each action of the plan it accepted, for the one
 * cutover run that asked, with the workers' ed25519 key; the runner verifies the seal before it starts anything.
 * Whoever can start a workflow (or run a worker on the orchestrator's queue beside the real ones) can put any
 * action, queue or work folder into an activity's input, but cannot make the workers' signature over it.
 *
 * Pure and free of Node built-ins: the workflow picks the signatures an activity needs (`sealFor`); signing and
 * verifying happen in the activities (`activities/seal.ts`).
 */
import { sha256 } from '@noble/hashes/sha256';
import { bytesToHex } from '@noble/hashes/utils';
import { canonicalJson, utf8 } from './canonical';

/** The seal the workers' plan check returns with the effective plan (the plan's `seal` field). */
export interface PlanSeal {
  /** Which of the workers' keys signed (CUTOVER_WORKER_KEY_ID). */
  keyId: string;
  /** The cutover whose plan check sealed it: its work folder is the one the actions may use. */
  workflowId: string;
  /** The run of that cutover that asked: an action runs only in that run or in one of its children. */
  runId: string;
  /** The policy the plan was checked against: a worker holding another refuses the action. */
  policyDigest?: string;
  /** Per action of the effective plan, by its path (`staging.deploy[0]`, `production.monitor.probe`): hex ed25519. */
  actions: Record<string, string>;
}

/** What one signature in a seal covers. */
export interface SealedAction {
  workflowId: string;
  runId: string;
  policyDigest?: string;
  path: string;
  action: unknown;
}

/** The exact bytes the workers sign for one action of a checked plan. */
export function sealMessage(sealed: SealedAction): Uint8Array {
  return utf8(
    [
      'cutover-seal/v1',
      sealed.workflowId,
      sealed.runId,
      sealed.policyDigest ?? '',
      sealed.path,
      actionDigest(sealed.action),
    ].join('\n'),
  );
}

/**
 * The plan's fields beside an action that say when or how long, not what runs (`rollback.target`,
 * `decommission.afterCleanDays`): the workflow passes the action with or without them.
 */
const SCHEDULING = ['target', 'afterCleanDays'];

/** Hex SHA-256 of an action's canonical JSON (without its scheduling fields): what a seal's signature names of it. */
export function actionDigest(action: unknown): string {
  const runnable =
    action !== null && typeof action === 'object'
      ? Object.fromEntries(Object.entries(action).filter(([key]) => !SCHEDULING.includes(key)))
      : action;
  return bytesToHex(sha256(utf8(canonicalJson(runnable))));
}

/**
 * The part of `seal` an activity needs: the signatures of the actions at `paths` only (a seal with every
 * action's signature would ride in every activity's input). Undefined when the plan carries no seal.
 */
export function sealFor(seal: PlanSeal | undefined, ...paths: string[]): PlanSeal | undefined {
  if (!seal) return undefined;
  const actions: Record<string, string> = {};
  for (const [path, signature] of Object.entries(seal.actions)) {
    if (paths.some((wanted) => path === wanted || path.startsWith(`${wanted}[`))) actions[path] = signature;
  }
  return { ...seal, actions };
}
