/**
 * What each phase is, declared once: its name and order, what it returns (its result's shape: the parts it shares
 * with other phases are in ./evidence.ts), the environment whose queue runs its activities, the activities it
 * schedules, and the plan's actions it runs, each with the policy's list of commands that binds it. The workflow's
 * routing (workflows/queue-watch.ts), the environments' workers (activities/index.ts `ENVIRONMENT_ACTIVITIES`),
 * the policy's view of a plan (policy/actions.ts `actionsOf`, `environmentOfPath`) and the seal's queue binding
 * (activities/seal.ts) are all read from here, so a new phase is declared in this table and nowhere else of theirs.
 *
 * Pure data and plan types only: the workflow sandbox loads it too.
 */
import type { Environment } from '../plan/environments';
import type { Action, CutoverPlan } from '../plan/schema';
import type {
  DatasetComparison,
  GateView,
  HealthResult,
  MetricComparison,
  Metrics,
  ModelReport,
  MonitorOutcome,
  OutputDiff,
  ProbeResult,
  ShadowReference,
  SizeResult,
  StepResult,
  StressReference,
  SustainedResult,
  TriggerCheck,
} from './evidence';
import type { CompareSettings, RelativeVerdict } from './relative';

/** The phases, in the order they run: where a phase's name and order are written. */
export const PHASES = [
  'staging',
  'shadow',
  'stress',
  'rollback-rehearsal',
  'signoff',
  'production',
  'monitoring',
  'reconciliation',
  'decommission',
] as const;

export type Phase = (typeof PHASES)[number];

/** The shadow's evidence: V1 and V2 on each dataset, their KPIs, their outputs and a dbt plan's models. */
export interface ShadowResult {
  verdict: 'pass' | 'fail';
  datasets: DatasetComparison[];
  /** The change against a reference run, beside V1. */
  reference?: ShadowReference;
  failures: string[];
  /** Dry-run checks that would have failed (they never fail the phase). */
  wouldFail?: string[];
  attempt: number;
}

/** The stress phase's evidence: V2 at each size and under sustained load, and against V1 where the plan asks. */
export interface StressResult {
  verdict: 'pass' | 'fail';
  sizes: SizeResult[];
  sustained?: SustainedResult;
  /** Time per row of the largest size against the smallest (1 = linear). */
  scaling?: { fromRows: number; toRows: number; ratio: number; note: string };
  failures: string[];
  /** Dry-run thresholds and comparisons that would have failed (they never fail the phase). */
  wouldFail?: string[];
  /** The change against a reference run, beside V1. */
  reference?: StressReference;
  attempt: number;
  /** With `stress.compare`: the settings, how many decisions shared the confidence, and the overall verdict. */
  compare?: { settings: CompareSettings; family: number; verdict: RelativeVerdict };
  /** How peak memory was measured: the process group (everything a run starts) or the leader alone. */
  memoryMethod?: string;
}

/** The rollback rehearsal's evidence: the undo on staging, timed against its target, and staging healthy after. */
export interface RehearsalResult {
  verdict: 'pass' | 'fail';
  durationMs: number;
  targetMs: number;
  healthy: boolean;
  redeployed: boolean;
  triggers: TriggerCheck[];
  failures: string[];
  attempt: number;
}

/** One reconciliation day's evidence: V1 and V2 on the day's data, their KPIs, outputs and models. */
export interface ReconcileResult {
  day: number;
  clean: boolean;
  comparisons: MetricComparison[];
  /** The outputs whose both sides are tables in databases, diffed where they are (files are scratch here). */
  outputs?: OutputDiff[];
  /** A dbt cutover's models, V1 rebuilt beside production and diffed in place. */
  models?: ModelReport[];
  failures: string[];
  /** Dry-run tolerances that would have failed the day. */
  wouldFail?: string[];
}

/** What each phase returns as its evidence when it ends. */
export interface PhaseResults {
  staging: { deployed: StepResult[]; tests?: StepResult; health?: HealthResult };
  shadow: ShadowResult;
  stress: StressResult;
  'rollback-rehearsal': RehearsalResult;
  signoff: GateView;
  production: { reference: Metrics; deployed: StepResult };
  monitoring: MonitorOutcome;
  reconciliation: {
    days: { day: number; clean: boolean; failures: string[]; wouldFail?: string[]; outputs?: OutputDiff[] }[];
  };
  decommission: StepResult | { skipped: true };
}

/** The activities a phase may schedule on its environment's queue (activities/index.ts makes each of them). */
export type PhaseActivity =
  | 'runStep'
  | 'checkHealth'
  | 'runShadow'
  | 'runStress'
  | 'rehearseRollback'
  | 'probe'
  | 'deployProduction'
  | 'reconcile';

/**
 * The policy's `commands` lists: `default` serves every environment a policy does not name; `probe` is the
 * monitoring probe's own within production (policy/schema.ts `POLICY_ENVIRONMENTS`, the policy file's keys).
 */
export type CommandList = 'default' | Environment | 'probe';

/** Where a plan holds actions: one, a list (`path[i]`), or none; and which of the policy's lists binds them. */
export interface ActionSlot {
  /** Its path in the plan, as problems and seals name it (a list's items get `[i]`). */
  path: string;
  /** The policy's `commands` list the action must be in (`probe`: the monitoring probe's own). */
  commands: CommandList;
  /** The action, the list of them, or undefined where the plan has none. */
  of(plan: CutoverPlan): Action | readonly Action[] | undefined;
}

/**
 * What the activity a phase `records` returns, as a history keeps it: one per run of it (a reconciliation day, a
 * monitoring probe). `cutover what-if` and a reference run read a phase's evidence back through these.
 */
export interface RecordedResults {
  shadow: ShadowResult;
  stress: StressResult;
  'rollback-rehearsal': RehearsalResult;
  monitoring: ProbeResult;
  reconciliation: ReconcileResult;
}
export type RecordingPhase = keyof RecordedResults;

export interface PhaseDeclaration {
  /** The environment whose queue runs its activities, compensations included; none: the orchestrator's queue. */
  environment?: Environment;
  /** The activities it schedules there: that environment's workers register them. */
  activities: readonly PhaseActivity[];
  /** The plan's actions it runs (an action other phases run too is declared by the first of them). */
  actions: readonly ActionSlot[];
  /**
   * The activity whose results are its recorded evidence (RecordedResults), each known by a field it has; a
   * measuring phase's verdict failure carries the same result in its details.
   */
  records?: { activity: PhaseActivity; has: string };
}

/** Every phase declared; a phase with RecordedResults must say which activity records them. */
export const PHASE_DECLARATIONS: {
  readonly [P in Phase]: PhaseDeclaration &
    (P extends RecordingPhase ? Required<Pick<PhaseDeclaration, 'records'>> : unknown);
} = {
  staging: {
    environment: 'staging',
    activities: ['runStep', 'checkHealth'],
    actions: [
      { path: 'staging.deploy', commands: 'staging', of: (plan) => plan.staging.deploy },
      { path: 'staging.tests', commands: 'staging', of: (plan) => plan.staging.tests },
      { path: 'staging.healthChecks', commands: 'staging', of: (plan) => plan.staging.healthChecks },
      // Staging's undo: its compensation, and what the rollback rehearsal times.
      { path: 'rollback', commands: 'staging', of: (plan) => plan.rollback as Action },
    ],
  },
  shadow: {
    environment: 'compute',
    activities: ['runShadow'],
    records: { activity: 'runShadow', has: 'datasets' },
    // The pipelines (and the datasets' generator), which stress and reconciliation run too.
    actions: [
      { path: 'generator', commands: 'compute', of: (plan) => plan.generator },
      { path: 'baseline', commands: 'compute', of: (plan) => plan.baseline },
      { path: 'candidate', commands: 'compute', of: (plan) => plan.candidate },
      { path: 'shadow.noiseRun', commands: 'compute', of: (plan) => plan.shadow.noiseRun },
    ],
  },
  stress: {
    environment: 'compute',
    activities: ['runStress'],
    actions: [],
    records: { activity: 'runStress', has: 'sizes' },
  },
  'rollback-rehearsal': {
    environment: 'staging',
    activities: ['rehearseRollback'],
    actions: [],
    records: { activity: 'rehearseRollback', has: 'durationMs' },
  },
  signoff: {
    // The gate is the workflow's own; its escalation runs on the orchestrator's queue.
    activities: [],
    actions: [{ path: 'signoff.escalate', commands: 'default', of: (plan) => plan.signoff.escalate }],
  },
  production: {
    environment: 'production',
    activities: ['deployProduction', 'runStep'],
    actions: [
      { path: 'production.deploy', commands: 'production', of: (plan) => plan.production.deploy },
      { path: 'production.undo', commands: 'production', of: (plan) => plan.production.undo },
    ],
  },
  monitoring: {
    environment: 'production',
    activities: ['probe'],
    records: { activity: 'probe', has: 'consecutiveFailures' },
    actions: [{ path: 'production.monitor.probe', commands: 'probe', of: (plan) => plan.production.monitor.probe }],
  },
  reconciliation: {
    environment: 'compute',
    activities: ['reconcile'],
    actions: [],
    records: { activity: 'reconcile', has: 'comparisons' },
  },
  decommission: {
    environment: 'production',
    activities: ['runStep'],
    actions: [
      { path: 'production.decommission', commands: 'production', of: (plan) => plan.production.decommission as Action },
    ],
  },
};

/** The actions no phase runs: notifications, sent from the orchestrator's queue whatever the phase. */
export const CUTOVER_ACTIONS: readonly ActionSlot[] = [
  {
    path: 'notify',
    commands: 'default',
    of: (plan) => (plan.notify ?? []).map(({ events: _events, ...action }) => action),
  },
];
