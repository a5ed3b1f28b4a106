/**
 * What activities take and return. Results are small, JSON-serialisable evidence: datasets stay on disk and
 * history carries references and figures only.
 */
import type { SignoffCondition } from '../plan/conditions';
import type { Action, ColumnTolerance, CutoverPlan, OutputFormat, Tolerance, Triggers } from '../plan/schema';
import type { Placeholders } from '../plan/placeholders';
import type { PlanSeal } from '../plan/seal';
import type { Environment } from '../plan/environments';
import type { PairedSamples, RelativeComparison, RelativeVerdict } from './relative';

export type Metrics = Record<string, number>;

/** Identifies a step for idempotency: stable across retries of that step. */
export interface StepIdentity {
  workflowId: string;
  release: string;
  /** `<workflowId>/<firstRunId>/<phase>/<step>`: given to the action as CUTOVER_IDEMPOTENCY_KEY. */
  key: string;
  /** The workers' seal on the cutover's checked plan: no action runs that it does not cover (plan/seal.ts). */
  seal?: PlanSeal;
}

export interface StepInput extends StepIdentity {
  label: string;
  /**
   * The environment whose worker runs the step (its phase's): the policy's `commands.<environment>` bound it.
   * Absent: the orchestrator's own (an escalation), bound by `commands.default`.
   */
  environment?: Environment;
  /** The digest of the policy the cutover was checked against: a worker holding another refuses the step. */
  policyDigest?: string;
  action: Action;
  baseDir?: string;
  placeholders?: Placeholders;
}

export interface StepResult {
  label: string;
  kind: 'run' | 'http';
  exitCode?: number;
  status?: number;
  durationMs: number;
  /** The last part of the output, for the record. */
  outputTail: string;
  /** The checks the step reported (`"checks"` on its last line of JSON): a dbt build's tests, each by its id. */
  checks?: StepCheck[];
  attempt: number;
}

/** One check a step ran and reported: a dbt test by its unique id, say. */
export interface StepCheck {
  id: string;
  ok: boolean;
  /** The check's own word for its result (dbt's: pass, fail, warn, error, skipped). */
  status?: string;
  message?: string;
}

export interface HealthInput extends StepIdentity {
  policyDigest?: string;
  checks: Action[];
  timeoutMs: number;
  baseDir?: string;
}

export interface HealthResult {
  healthy: boolean;
  durationMs: number;
  checks: { label: string; ok: boolean; polls: number; lastError?: string }[];
  attempt: number;
}

/** Input of the phase activities that need the plan. */
export interface PhaseInput extends StepIdentity {
  plan: CutoverPlan;
}

export interface MetricComparison {
  metric: string;
  v1?: number;
  v2?: number;
  /** v2 - v1 */
  difference?: number;
  /** |v2 - v1| / |v1| (absent when v1 is 0) */
  relative?: number;
  tolerance?: Tolerance;
  /** The largest |difference| between V1 runs on the same data. */
  noise: number;
  verdict: 'pass' | 'fail';
  reason?: string;
  /** A dry-run tolerance: a failing verdict only "would have failed". */
  dryRun?: boolean;
}

export interface DatasetComparison {
  dataset: string;
  rows?: number;
  v1Ms: number;
  v2Ms: number;
  metrics: MetricComparison[];
  /** The keyed diff of each output table (absent when the plan declares none). */
  outputs?: OutputDiff[];
  /** A dbt cutover's models (plan `dbt`): what changed in each selected model, diffed where it lives. */
  models?: ModelReport[];
}

/** Where a dbt model's key came from, as dbt/manifest.ts reads it: a constraint, `unique` + `not_null` tests, `unique_key`. */
export type KeySource = 'primary-key' | 'unique+not_null' | 'unique_key';

/** What changed in one dbt model between V1's and V2's builds, and its diff: what the approvers read. */
export interface ModelReport {
  model: string;
  /** Why it was diffed: V2 changes it, or it is downstream of a change (or `select: all`). */
  reason: 'modified' | 'downstream' | 'all';
  key?: string[];
  keySource?: KeySource;
  unkeyed: boolean;
  columns: { added: string[]; removed: string[]; retyped: { column: string; v1: string; v2: string }[] };
  /** An enforced contract V2 breaks: columns removed or retyped. */
  contractBroken: string[];
  downstream: { models: string[]; exposures: string[] };
  /** The keyed diff, where the model has a key. */
  diff?: OutputDiff;
  /** An unkeyed model: its rows as multisets (EXCEPT ALL both ways), and the numeric columns whose sums differ. */
  unkeyedRows?: { v1: number; v2: number; onlyV1: number; onlyV2: number; sumsDiffer: string[] };
  /** Where its rows read the clock (or chance): `itself`, and the upstream models whose code does. */
  clock?: string[];
  /** Its own noise, where the shadow built V1 twice (an A/A build): what V1 differs from itself in, beside V2. */
  noise?: ModelNoise;
  verdict: 'pass' | 'fail';
  failures: string[];
}

/**
 * What two builds of V1 on the same data differ in (a model's noise), V2's difference beside it: a column that
 * differs between V1's builds is noise, and V2's differences there do not fail the model; where V2 differs more
 * than V1 from itself, the noise may hide a change, and the model is named for the approvers to decide.
 */
export interface ModelNoise {
  /** The columns V1's two builds disagree on: rows differing there between them (`aa`), and between V1 and V2. */
  columns: { column: string; aa: number; v2: number }[];
  /**
   * Rows: keyed, those one of V1's builds has and the other not; unkeyed, the rows of the two multisets that differ.
   * Noise in rows is the whole model's: V2's row differences then fail nothing, up to the approvers.
   */
  rows: { aa: number; v2: number };
  /** Where V2 differs more than V1 from itself (columns, or `rows`): the noise may hide a change there. */
  mayHide: string[];
}

/** A value of an output cell as evidence: JSON (DuckDB's big integers and decimals come as text). */
export type SampleValue = string | number | boolean | null | SampleValue[] | { [key: string]: SampleValue };

/** One compared column of an output: how many rows fall in each class, and the largest differences. */
export interface ColumnDiff {
  column: string;
  /** DuckDB's type, or `V1's / V2's` where they differ. */
  type: string;
  equal: number;
  withinTolerance: number;
  differing: number;
  nullOneSide: number;
  /** Largest |V2 − V1| (numbers). */
  maxAbsolute?: number;
  /** Largest |V2 − V1| / |V1| where V1 ≠ 0 (numbers); equal values differ by 0 in both, NULL and NULL too. */
  maxRelative?: number;
  tolerance?: ColumnTolerance;
}

/** A differing or missing row, V1's and V2's values side by side. */
export interface DiffSample {
  key: Record<string, SampleValue>;
  /** Where the key is: on both sides (values differ), or on one side only. */
  presence: 'both' | 'v1' | 'v2';
  v1?: Record<string, SampleValue>;
  v2?: Record<string, SampleValue>;
  /** Columns out of tolerance in this row (presence both). */
  differs: string[];
}

/** The keyed diff of one output table on one dataset: the evidence approvers sign. */
export interface OutputDiff {
  output: string;
  dataset: string;
  /** Where the two sides were read: files of a format, tables of one PostgreSQL database (`postgres`), or tables of DuckDB databases (`duckdb`: dbt models where they live). */
  format: OutputFormat | 'postgres' | 'duckdb';
  files: { v1: string; v2: string };
  key: string[];
  rows: { v1: number; v2: number; both: number; onlyV1: number; onlyV2: number; differing: number };
  limits: { maxDifferingRows: number; maxMissingRows: number };
  columns: ColumnDiff[];
  /** Columns in one file only (not ignored): reported; they fail only when the plan names them. */
  onlyInV1: string[];
  onlyInV2: string[];
  ignored: string[];
  /** Keys present more than once (groups per side) and a few of them: a join would fan out, so it fails. */
  duplicates: { v1: number; v2: number; examples: Record<string, SampleValue>[] };
  samples: DiffSample[];
  verdict: 'pass' | 'fail';
  failures: string[];
  /** A dry-run output: a failing verdict only "would have failed". */
  dryRun?: boolean;
  /**
   * Across two places (activities/cross-diff.ts): the rows brought over from a database to be compared, of all the
   * rows of both sides; the segments checksummed, the leaf segments whose rows were compared, the levels descended.
   */
  transfer?: {
    rows: number;
    of: number;
    segments: number;
    leaves: number;
    levels: number;
    /** How rows fell into segments: by a whole-number key's range, or by md5 of the key's text (absent before). */
    segmentedBy?: 'range' | 'md5';
  };
  durationMs: number;
}

/** The reference run a phase compared with (the plan's or the pinned one), or why it did not. */
export interface ReferenceNote {
  workflowId: string;
  source: 'plan' | 'pinned';
  refused?: string;
}

/** This V2's KPIs against the reference run's V2, per dataset the two share. */
export interface ShadowReference extends ReferenceNote {
  metrics: { dataset: string; metric: string; reference: number; v2: number; relative?: number }[];
}

/** This V2's figures against the reference run's V2, per size the two share. */
export interface StressReference extends ReferenceNote {
  sizes: {
    rows: number;
    p50: number;
    referenceP50: number;
    change: number;
    peakRssMb: number;
    referencePeakRssMb: number;
  }[];
}

export interface LatencyStats {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
  sd: number;
}

export interface SizeResult {
  rows: number;
  iterations: number;
  errors: number;
  latencyMs: LatencyStats;
  rowsPerSecond: number;
  /** Mean time per row, in microseconds. */
  usPerRow: number;
  peakRssMb: number;
  /** (max - min) / max of the per-run peak RSS. */
  rssVariation: number;
  /** The runs' median CPU time (user + system) of the whole process tree, from the kernel's account. */
  cpuMs?: number;
  /** With `stress.compare`: V2 against V1 on the same data. */
  relative?: RelativeResult;
  /** A dbt pipeline's models (its `timings`), each model's build time V2 against V1 over the size's pairs. */
  models?: ModelTiming[];
}

/** One dbt model's build time at a size, from each build's run results: V2 against V1, judged by the same judge. */
export interface ModelTiming {
  model: string;
  /** The median build time of each version, ms. */
  v1Ms: number;
  v2Ms: number;
  /** V2's median time against V1's, its interval, and the verdict (the family is the size's models). */
  comparison: RelativeComparison;
  /** Every run's build time of the model, ms: what-if judges them again under another plan's comparison. */
  samples?: { v1: number[]; v2: number[] };
}

/** V1 against V2 at one size (or the sustained run), pair by pair: every sample, the comparisons, the verdict. */
export interface RelativeResult {
  /** Pairs measured (each a V1 and a V2 run, in ABBA order). */
  pairs: number;
  /** Every sample, so the verdict can be recomputed from the evidence: wall times in ms, peak RSS in MB. */
  samples: PairedSamples;
  /** Per measure and statistic, at the last look taken. */
  comparisons: RelativeComparison[];
  verdict: RelativeVerdict;
  /** V1's own figures, beside V2's in the size result. */
  v1: { latencyMs: LatencyStats; peakRssMb: number };
}

export interface SustainedResult {
  durationMs: number;
  rows: number;
  runs: number;
  errors: number;
  errorRate: number;
  latencyMs: LatencyStats;
  rowsPerSecond: number;
  peakRssMb: number;
  /** Variation of per-run peak RSS across the run: a leak shows here. */
  rssVariation: number;
  /** With `stress.compare`: V1 and V2 alternated through the run. */
  relative?: RelativeResult;
}

/** Progress a stress attempt heartbeats, so a retried attempt resumes instead of starting over. */
export interface StressProgress {
  completedSizes: SizeResult[];
  /** With `stress.compare`: the pairs measured so far at the size in progress. */
  current?: { rows: number; v1: StressRun[]; v2: StressRun[] };
}

/** One measured run of a version: its wall time, peak RSS, CPU time (from the kernel), and why it failed if it did. */
export interface StressRun {
  ok: boolean;
  durationMs: number;
  peakBytes: number;
  /** The process tree's CPU time, user and system, as the kernel accounts it (where the machine has GNU time). */
  cpuMs?: number;
  error?: string;
}

export interface TriggerCheck {
  trigger: keyof Triggers;
  fired: boolean;
  detail: string;
}

export interface Breach {
  trigger: keyof Triggers;
  detail: string;
}

export interface ProbeInput extends StepIdentity {
  policyDigest?: string;
  probe: Action;
  triggers: Triggers;
  reference?: Metrics;
  consecutiveFailures: number;
  baseDir?: string;
}

export interface ProbeResult {
  ok: boolean;
  at: string;
  metrics?: Metrics;
  errorRate?: number;
  maxDrift?: number;
  error?: string;
  consecutiveFailures: number;
  breach?: Breach;
  /** A dry-run trigger this sample breached: it would have rolled back. */
  wouldBreach?: Breach;
}

export interface ReconcileInput extends PhaseInput {
  day: number;
}

/** How the monitoring child workflow ended: the window passed clean, or a trigger fired. */
export interface MonitorOutcome {
  outcome: 'clean' | 'breach';
  samples: number;
  runs: number;
  breach?: Breach;
  last?: ProbeResult;
  /** A dry-run trigger's first breach: it would have rolled back at probe number `probe`. */
  wouldBreach?: Breach & { probe: number };
}

export type GateStatus = 'closed' | 'open' | 'approved' | 'rejected' | 'expired';

export interface RoleView {
  role: string;
  required: number;
  approvers: string[];
  approvedBy: string[];
  missing: number;
  /** A role needed only when the evidence shows one of `conditions`: why it is needed now (none: it is not). */
  onlyWhen?: { conditions: SignoffCondition[]; because: string[] };
}

/** The gate as people read it: per role, who signed and how many are still missing. */
export interface GateView {
  status: GateStatus;
  evidenceDigest?: string;
  deadline?: string;
  escalatedAt?: string;
  expiresAt?: string;
  roles: RoleView[];
  rejectedBy?: { role: string; approver: string; comment?: string };
}
