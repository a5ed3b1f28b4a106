/**
 * The change calendar's answer for a cutover (plan/calendar.ts): the workers' current policy's calendar for the
 * release, narrowed by the plan's `production.window`, at the instant the workflow gives (its own clock). An
 * activity because the policy lives with the workers and may change while a cutover waits: each answer reads it
 * again, and the workflow records the answer, so a replay never computes it.
 */
import { decideWindow, effectiveCalendar, type PlanWindow, type WindowDecision } from '../plan/calendar';
import { rulesFor, type ResolvedPolicy } from '../policy/schema';

export interface ChangeWindowInput {
  release: string;
  /** The workflow's time, ms since the epoch. */
  at: number;
  /** When the gate approved, ms since the epoch: the calendar's notice counts from it. */
  approvedAt?: number;
  window?: PlanWindow;
}

export function createChangeWindow(deps: { policy?: ResolvedPolicy }) {
  return async function changeWindow(input: ChangeWindowInput): Promise<WindowDecision> {
    const calendar = deps.policy ? rulesFor(deps.policy.policy, input.release)?.calendar : undefined;
    return decideWindow(effectiveCalendar(calendar, input.window), input.at, input.approvedAt);
  };
}
