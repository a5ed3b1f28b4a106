/**
 * The policy's view of a plan's actions: every place a plan holds one, read from the phases' declarations
 * (shapes/phases.ts), and which of the policy's `commands` lists binds each.
 */
import type { Action, CutoverPlan } from '../plan/schema';
import { CUTOVER_ACTIONS, PHASE_DECLARATIONS, PHASES, type ActionSlot } from '../shapes/phases';
import type { PolicyEnvironment, PolicyRules } from './schema';

/** Every place a plan holds actions: the phases' own, in the order of the phases, then the cutover's. */
const ACTION_SLOTS: readonly ActionSlot[] = [
  ...PHASES.flatMap((phase) => PHASE_DECLARATIONS[phase].actions),
  ...CUTOVER_ACTIONS,
];
const SLOT_BY_PATH = new Map(ACTION_SLOTS.map((slot) => [slot.path, slot]));

/**
 * Which of the policy's `commands` lists binds the action at a plan path, as its phase declares it
 * (shapes/phases.ts): the pipelines compute's, the staging steps and the rehearsed rollback staging's,
 * production's steps production's, the probe its own; escalations and notifications (the orchestrator's) `default`.
 */
export function environmentOfPath(path: string): PolicyEnvironment {
  return SLOT_BY_PATH.get(path.replace(/\[\d+\]$/, ''))?.commands ?? 'default';
}

/** The command prefixes the policy allows in `environment`: its own list, else (a probe) production's, else `default`'s. */
export function commandsFor(rules: PolicyRules, environment: PolicyEnvironment): readonly (readonly string[])[] {
  const probe = environment === 'probe' ? rules.commands.production : undefined;
  return rules.commands[environment] ?? probe ?? rules.commands.default ?? [];
}

/** Every action of a plan with its path, so a violation names where it is (a list's items as `path[i]`). */
export function actionsOf(plan: CutoverPlan): { path: string; action: Action }[] {
  return ACTION_SLOTS.flatMap((slot) => {
    const found = slot.of(plan);
    if (found === undefined) return [];
    if (Array.isArray(found)) return found.map((action: Action, i) => ({ path: `${slot.path}[${i}]`, action }));
    return [{ path: slot.path, action: found as Action }];
  });
}
