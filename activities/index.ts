/**
 * The activities of a cutover, built from their dependencies so tests can pass their own.
 */
import { createReconcile, probe } from './production';
import { rehearseRollback } from './rehearsal';
import { createShadow } from './shadow';
import { checkHealth, runStep } from './staging';
import { createStress } from './stress';

export interface ActivityDeps {
  /** Where datasets and working files live (one folder per cutover under `work/`). */
  dataDir: string;
}

export function createActivities(deps: ActivityDeps) {
  return {
    runStep,
    checkHealth,
    runShadow: createShadow(deps),
    runStress: createStress(deps),
    rehearseRollback,
    probe,
    reconcile: createReconcile(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
