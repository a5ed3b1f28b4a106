/**
 * The activities of a cutover, built from their dependencies so tests can pass their own.
 */
import { createChangeWindow } from './change-window';
import { PHASE_DECLARATIONS, PHASES, type PhaseActivity } from '../shapes/phases';
import { ENVIRONMENTS, type Environment, type EnvironmentQueues } from '../plan/environments';
import { type ResolvedPolicy } from '../policy/schema';
import { createDeployProduction, createProbe } from './production';
import { createReconcile } from './reconciliation';
import { createNotify } from './notify';
import { describeQueue } from './queues';
import { createRehearseRollback } from './rollback-rehearsal';
import { createShadow } from './shadow';
import { createCheckHealth, createRunStep } from './staging';
import { createStress } from './stress';
import { type SealKeys } from './seal';

import { createCheckPlan, type AttestationSettings } from './plan-check';

export type { AttestationSettings };

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

export function createActivities(deps: ActivityDeps) {
  return {
    checkPlan: createCheckPlan(deps),
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
