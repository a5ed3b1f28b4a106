/**
 * Plan helpers without zod: what the workflow needs of the plan at run time (time limits, quorums). The
 * workflow sandbox evaluates a bundle's modules once per workflow, so keeping the zod schemas out of these
 * keeps every running cutover small. Keys live in keys.ts, problem paths in problems.ts.
 */
import { toMs } from './duration';
import type { Action, CutoverPlan } from './schema';

/** An action's time limit when it names none. */
export const DEFAULT_RUN_TIMEOUT_MS = 600_000;
export const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

/** The time an action may take: its own `timeout`, or the default for its kind. */
export function actionTimeoutMs(action: Action): number {
  if (action.timeout) return toMs(action.timeout);
  return 'http' in action ? DEFAULT_HTTP_TIMEOUT_MS : DEFAULT_RUN_TIMEOUT_MS;
}

/** Approvals needed for `role`. */
export function quorumFor(plan: CutoverPlan, role: string): number {
  const { quorum } = plan.signoff;
  return typeof quorum === 'number' ? quorum : (quorum[role] ?? 1);
}
