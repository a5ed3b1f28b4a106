/**
 * The activities of a cutover, built from their dependencies so tests can pass their own.
 */
import { createProbe, createReconcile } from './production';
import { createRehearseRollback } from './rehearsal';
import { createShadow } from './shadow';
import { createCheckHealth, createRunStep } from './staging';
import { createStress } from './stress';

export interface ActivityDeps {
  /** Where datasets and working files live (one folder per cutover under `work/`). */
  dataDir: string;
}

export function createActivities(deps: ActivityDeps) {
  return {
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
