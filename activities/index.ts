/**
 * The activities of a cutover, built from their dependencies so tests can pass their own.
 */
import { planOrFailure, type CutoverPlan } from '../plan/schema';
import { createProbe, createReconcile } from './production';
import { createRehearseRollback } from './rehearsal';
import { createShadow } from './shadow';
import { createCheckHealth, createRunStep } from './staging';
import { createStress } from './stress';

export interface ActivityDeps {
  /** Where datasets and working files live (one folder per cutover under `work/`). */
  dataDir: string;
}

/**
 * Checks a plan as the workflow received it, with the schema the CLI uses, and returns it with its defaults.
 * An activity rather than workflow code: the zod schema then lives once in the worker, not in every cutover.
 */
export async function checkPlan(input: unknown): Promise<CutoverPlan> {
  return planOrFailure(input);
}

export function createActivities(deps: ActivityDeps) {
  return {
    checkPlan,
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
