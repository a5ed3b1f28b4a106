/**
 * What a phase module gets from the cutover it runs in, and what it is. A phase is one entry of the ordered
 * table in ./index.ts: `{ phase, run(ctx) }`, returning its typed evidence and a one-line verdict.
 */
import type { StepIdentity, StepResult } from '../../shapes/evidence';
import type { Action, CutoverPlan } from '../../plan/schema';
import type { Bookkeeping, PhaseEnd } from '../bookkeeping';
import type { Compensations } from '../compensations';
import type { BreakGlassDesk } from '../break-glass-desk';
import type { SignOffGate } from '../gate-wait';
import type { RollbackRequest } from '../messages';
import type { PatchId } from '../patches';
import type { Phase, PhaseResults } from '../../shapes/phases';

export interface PhaseContext {
  readonly plan: CutoverPlan;
  readonly books: Bookkeeping;
  readonly gate: SignOffGate;
  /** Where break-glass sign-offs arrive while a change to production waits for the calendar. */
  readonly breakGlass: BreakGlassDesk;
  readonly compensations: Compensations;
  /** The results of the phases that have passed so far. */
  readonly results: Partial<PhaseResults>;
  /** What the approvers sign: the results of the phases before the gate, under their `evidenceKey`s. */
  readonly evidence: Record<string, unknown>;
  /** The phase this context is for: `step` and `routed` run in it. */
  readonly phase: Phase;
  /** Runs a user's action as one activity of the phase, with an idempotency key stable across its retries. */
  step(label: string, action: Action): Promise<StepResult>;
  /** The workflow id, the release and the idempotency key of `step` (`<workflowId>/<firstRunId>/<step>`). */
  identity(step: string): StepIdentity;
  /** `<workflowId>/<firstRunId>`: the prefix of every idempotency key of this cutover. */
  keyPrefix(): string;
  /**
   * Runs one activity of the phase until a worker with the cutover's policy takes it (see policy-wait.ts), on
   * the task queue of the phase's environment when the plan has one: spread `route` into the activity's
   * options. A missing worker there is watched for (queue-watch.ts).
   */
  routed<T>(what: string, call: (route: { taskQueue?: string }) => Promise<T>): Promise<T>;
  /** Asks for a rollback on the cutover's own account (a trigger fired). */
  requestAutomaticRollback(request: RollbackRequest): void;
  /** From now on nothing can roll back to V1: rollback requests are refused. */
  markDecommissioning(): void;
}

export interface PhaseModule<P extends Phase> {
  readonly phase: P;
  /** Where this phase's result enters the evidence the approvers sign; only phases before the gate have one. */
  readonly evidenceKey?: string;
  /** A measuring phase fails with its own evidence (the figures that missed), kept as the phase's result. */
  readonly keepsEvidenceOnFailure?: boolean;
  /**
   * For a phase added after the 1.0 baseline: its patch id (workflows/patches.ts). The run
   * loop asks `patched(since)` before the phase starts, so a cutover started earlier skips it on replay
   * without a single new command (not even the phase's search attribute upsert).
   */
  readonly since?: PatchId;
  run(ctx: PhaseContext): Promise<PhaseEnd<PhaseResults[P]>>;
}
