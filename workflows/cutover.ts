/**
 * cutoverWorkflow: one durable run that takes a release from V1 to V2 through every phase, with evidence.
 *
 * This file is the entry point, the message handlers and the run loop. The phases are modules in ./phases
 * (one ordered table); the record people see is ./bookkeeping.ts, the undo list ./compensations.ts and the
 * sign-off gate ./gate-wait.ts. Deterministic code only: activities are imported by type, time comes from
 * the workflow clock, and all waiting is done with timers, conditions, signals and updates.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
  patched,
  proxySinks,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { StepIdentity, StepResult } from '../shapes/evidence';
import { FailureType } from '../plan/failures';
import { actionTimeoutMs } from '../plan/helpers';
import type { Action, CutoverPlan } from '../plan/schema';
import { Bookkeeping, describeError, errorMessage } from './bookkeeping';
import { Compensations } from './compensations';
import { GateRejected, RollbackNeeded } from './endings';
import { gateRules } from './gate';
import { actorOf, SignOffGate } from './gate-wait';
import { BreakGlassDesk } from './break-glass-desk';
import { initialStatus, startingStatus } from './starting';
import { checkRollbackRequest } from './message-checks';
import {
  appRefusalSignal,
  breakGlassSignal,
  requestRollbackSignal,
  signOffSignal,
  recordQuery,
  statusQuery,
  submitBreakGlassUpdate,
  submitSignOffUpdate,
  type RollbackRequest,
  type SignOffAnswer,
} from './messages';
import { Notifier } from './notify';
import { PHASE_ENVIRONMENT, PhaseRouter } from './queue-watch';
import { PHASE_TABLE, type PhaseContext, type PhaseModule } from './phases';
import { checks, stepOptions, steps } from './proxies';
import type { CutoverSinks } from './sinks';
import { isFinal, type CutoverResult, type CutoverState, type CutoverStatus } from '../shapes/status';
import { PHASES, type Phase, type PhaseResults } from '../shapes/phases';

const { metrics } = proxySinks<CutoverSinks>();

/** The largest sign-off an update may carry (a comment is at most 2,000 characters). */
const MAX_SIGNOFF_CHARS = 16_384;

/**
 * Takes `plan` through staging → shadow → stress → rollback-rehearsal → signoff → production → monitoring →
 * reconciliation → decommission. Returns when the cutover completes, is rolled back or is rejected; fails
 * (after running its compensations) when a phase fails; ends cancelled when cancelled.
 */
export async function cutoverWorkflow(input: CutoverPlan): Promise<CutoverResult> {
  // The client validated the plan; a start from elsewhere (the temporal CLI, another SDK) is checked too, by the
  // checkPlan activity below.
  setHandler(statusQuery, () => startingStatus(input));
  // A sign-off sent as an update while the plan is checked waits for the cutover, then meets its gate (not
  // open yet: refused, answered and audited like any other). Without a handler the SDK would reject it
  // unanswered and unaudited; signals need nothing, they are kept until their handler is set.
  const ready: { cutover?: Cutover } = {};
  setHandler(
    submitSignOffUpdate,
    async (payload: unknown) => {
      await condition(() => ready.cutover !== undefined);
      return (ready.cutover as Cutover).receiveSignOff(payload, 'update');
    },
    { validator: refuseOversizedSignOff },
  );
  let plan: CutoverPlan;
  try {
    plan = await checks.checkPlan(input);
  } catch (err) {
    // The plan's own problems, not the activity's, are why this cutover failed; status says so too.
    const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? err.cause : err;
    setHandler(statusQuery, () => ({
      ...startingStatus(input),
      state: 'failed' as const,
      error: describeError(cause),
    }));
    throw cause;
  }
  ready.cutover = new Cutover(plan);
  return ready.cutover.run();
}

/**
 * The update's validator: only a payload too large to keep in history is refused here, before anything is
 * written. Everything else reaches the gate, and a refusal is answered and kept in the audit trail.
 */
function refuseOversizedSignOff(payload: unknown): void {
  const size = JSON.stringify(payload ?? null).length;
  if (size > MAX_SIGNOFF_CHARS) {
    throw ApplicationFailure.create({
      type: FailureType.MalformedSignOff,
      nonRetryable: true,
      message: `a sign-off of ${size} characters is refused (at most ${MAX_SIGNOFF_CHARS})`,
    });
  }
}

/** One cutover: its handlers, the run loop over the phase table, and how it ends. */
class Cutover {
  private readonly info = workflowInfo();
  private readonly books: Bookkeeping;
  private readonly gate: SignOffGate;
  private readonly breakGlass: BreakGlassDesk;
  private readonly compensations: Compensations;
  private readonly notifier: Notifier;
  private readonly router: PhaseRouter;
  private readonly results: Partial<PhaseResults> = {};
  private readonly evidence: Record<string, unknown> = {};
  private rollbackRequest?: RollbackRequest & { automatic: boolean };
  private decommissioned = false;
  private compensating = false;

  constructor(private readonly plan: CutoverPlan) {
    const status = initialStatus(plan, this.info.workflowId);
    // The rules it ran under are part of what approvers sign. Plans checked without a policy (and every
    // cutover recorded before policies) have no digest, and their evidence is what it always was.
    if (plan.policyDigest !== undefined) this.evidence.policy = plan.policyDigest;
    this.books = new Bookkeeping(status, () => this.gate.view());
    this.gate = new SignOffGate(gateRules(plan, this.info.workflowId), this.books);
    this.breakGlass = new BreakGlassDesk(gateRules(plan, this.info.workflowId), this.books);
    status.gate = this.gate.view();
    this.compensations = new Compensations(this.books);
    this.notifier = new Notifier(plan, this.books, (step) => this.identity(step));
    this.books.notify = (event, text) => this.notifier.emit(event, text);
    this.router = new PhaseRouter({
      plan,
      books: this.books,
      status,
      escalate: async (environment) => {
        const escalate = plan.signoff.escalate;
        if (!escalate) return;
        await this.step('signoff', `escalate no worker on ${environment}`, escalate).catch((err: unknown) =>
          this.books.audit({ kind: 'note', message: `the no-worker escalation failed: ${errorMessage(err)}` }),
        );
      },
    });
    this.installHandlers();
  }

  private get status(): CutoverStatus {
    return this.books.status;
  }

  private installHandlers(): void {
    setHandler(statusQuery, () => ({ ...this.status, gate: this.gate.view() }));
    setHandler(recordQuery, () => {
      const breakGlass = this.breakGlass.received();
      return {
        plan: this.plan,
        evidence: this.evidence,
        received: this.gate.received(),
        ...(breakGlass.length > 0 ? { breakGlass } : {}),
      };
    });
    // A signal cannot answer: its refusal is told in the audit trail, like every refusal.
    setHandler(signOffSignal, (payload: unknown) => void this.receiveSignOff(payload, 'signal'));
    setHandler(submitSignOffUpdate, (payload: unknown) => this.receiveSignOff(payload, 'update'), {
      validator: refuseOversizedSignOff,
    });
    setHandler(requestRollbackSignal, (payload: unknown) => this.receiveRollbackRequest(payload));
    setHandler(appRefusalSignal, (payload: unknown) => this.gate.receiveAppRefusal(payload));
    setHandler(breakGlassSignal, (payload: unknown) => void this.breakGlass.receive(payload, 'signal'));
    setHandler(submitBreakGlassUpdate, (payload: unknown) => this.breakGlass.receive(payload, 'update'), {
      validator: refuseOversizedSignOff,
    });
  }

  /** A sign-off from a signal or an update, handed to the gate. */
  receiveSignOff(payload: unknown, via: 'signal' | 'update'): SignOffAnswer {
    return this.gate.receive(payload, via);
  }

  private receiveRollbackRequest(payload: unknown): void {
    const parsed = checkRollbackRequest(payload);
    if (!parsed.ok) {
      this.books.audit({
        kind: 'rollback',
        accepted: false,
        rule: 'malformed',
        actor: actorOf(payload),
        message: 'malformed rollback request refused',
      });
      return;
    }
    const request = parsed.value;
    if (this.decommissioned) {
      this.books.audit({
        kind: 'rollback',
        accepted: false,
        actor: request.requestedBy,
        rule: 'decommissioned',
        message: 'V1 is decommissioned: nothing to roll back to',
      });
      return;
    }
    if (this.rollbackRequest || this.compensating || isFinal(this.status.state)) {
      this.books.audit({
        kind: 'rollback',
        accepted: false,
        actor: request.requestedBy,
        rule: 'already-ending',
        message: `the cutover is already ending (${this.status.state})`,
      });
      return;
    }
    this.rollbackRequest = { ...request, automatic: false };
    this.books.audit({
      kind: 'rollback',
      accepted: true,
      actor: request.requestedBy,
      message: `rollback requested: ${request.reason}`,
    });
  }

  async run(): Promise<CutoverResult> {
    this.books.setPhase(PHASES[0]);
    const body = new CancellationScope();
    const done = body.run(() => this.phases());
    // A rollback request interrupts whatever is running: the catch below runs the compensations. When the
    // workflow itself is cancelled this condition rejects with that cancellation, which the catch below
    // handles through `done`; swallowing it here keeps it from failing the workflow task as unhandled.
    condition(() => this.rollbackRequest !== undefined).then(
      () => body.cancel(),
      () => undefined,
    );
    try {
      await done;
      this.books.setState('completed');
      this.books.audit({ kind: 'state', message: 'cutover completed' });
      this.books.notify('completed', `${this.plan.release}: cutover completed`);
    } catch (err) {
      let outcome: CutoverState;
      if (this.rollbackRequest || err instanceof RollbackNeeded) outcome = 'rolled-back';
      else if (err instanceof GateRejected) outcome = 'rejected';
      else if (isCancellation(err)) outcome = 'cancelled';
      else outcome = 'failed';
      if (outcome === 'failed') this.status.error = describeError(err);
      this.books.markRunningPhase(
        outcome === 'failed' || outcome === 'rejected' ? 'failed' : 'cancelled',
        errorMessage(err),
      );
      await this.compensate(outcome);
      this.books.setState(outcome);
      this.books.audit({
        kind: 'state',
        message: `cutover ${outcome}${outcome === 'failed' ? `: ${errorMessage(err)}` : ''}`,
      });
      if (outcome === 'failed' || outcome === 'rejected') {
        this.books.notify(outcome, `${this.plan.release}: cutover ${outcome}: ${errorMessage(err)}`);
      }
      if (outcome === 'failed' || outcome === 'cancelled') {
        await this.notifier.settled();
        await condition(allHandlersFinished);
        throw err;
      }
    }
    // The last events are told before the cutover ends.
    await this.notifier.settled();
    // Let an update that is mid-flight answer before the workflow closes.
    await condition(allHandlersFinished);
    return {
      workflowId: this.info.workflowId,
      release: this.plan.release,
      state: this.status.state,
      phases: this.status.phases,
      ...(this.status.evidenceDigest !== undefined ? { evidenceDigest: this.status.evidenceDigest } : {}),
    };
  }

  /** The run loop: every phase of the table in order, each result kept for the phases after it. */
  private async phases(): Promise<void> {
    for (const module of PHASE_TABLE) {
      if (module.since !== undefined && !patched(module.since)) continue;
      await this.runPhase(module, this.context(module.phase));
    }
  }

  private async runPhase<P extends Phase>(module: PhaseModule<P>, ctx: PhaseContext): Promise<void> {
    const result = await this.books.runPhase(module.phase, () => module.run(ctx), {
      keepsEvidenceOnFailure: module.keepsEvidenceOnFailure ?? false,
    });
    this.results[module.phase] = result;
    if (module.evidenceKey) this.evidence[module.evidenceKey] = result;
  }

  private context(phase: Phase): PhaseContext {
    return {
      phase,
      plan: this.plan,
      books: this.books,
      gate: this.gate,
      breakGlass: this.breakGlass,
      compensations: this.compensations,
      results: this.results,
      evidence: this.evidence,
      step: (label, action) => this.step(phase, label, action),
      identity: (step) => this.identity(step),
      keyPrefix: () => this.keyPrefix(),
      routed: (what, call) => this.router.routed(phase, what, call),
      requestAutomaticRollback: (request) => {
        this.rollbackRequest = { ...request, automatic: true };
      },
      markDecommissioning: () => {
        this.decommissioned = true;
      },
    };
  }

  /** Runs the compensations newest first, after recording why (a rollback's who and why). */
  private async compensate(outcome: CutoverState): Promise<void> {
    this.compensating = true;
    if (this.rollbackRequest) {
      metrics.rollback(this.rollbackRequest.automatic);
      const who = this.rollbackRequest.automatic ? 'automatic' : `by ${this.rollbackRequest.requestedBy}`;
      this.status.rollback = { ...this.rollbackRequest, at: new Date().toISOString() };
      this.books.audit({ kind: 'rollback', message: `rolling back (${who}): ${this.rollbackRequest.reason}` });
      this.books.notify('rollback', `${this.plan.release}: rolling back (${who}): ${this.rollbackRequest.reason}`);
    }
    await this.compensations.runAll((phase, label, action) => this.step(phase, label, action));
    this.books.audit({ kind: 'note', message: `compensations done (${outcome})` });
  }

  /** Runs a user's action as one activity, with an idempotency key stable across its retries. */
  private async step(phase: Phase, label: string, action: Action): Promise<StepResult> {
    const environment = PHASE_ENVIRONMENT[phase];
    const input = {
      ...this.identity(`${phase}/${label.replace(/\s+/g, '-')}`),
      label,
      action,
      ...(environment ? { environment } : {}),
      ...(this.plan.policyDigest !== undefined ? { policyDigest: this.plan.policyDigest } : {}),
    };
    return this.router.routed(phase, `${phase}: ${label}`, (route) =>
      steps.runStep.executeWithOptions(
        { ...stepOptions(actionTimeoutMs(action)), ...route, summary: `${phase}: ${label}` },
        [this.plan.baseDir ? { ...input, baseDir: this.plan.baseDir } : input],
      ),
    );
  }

  private keyPrefix(): string {
    return `${this.info.workflowId}/${this.info.firstExecutionRunId}`;
  }

  private identity(step: string): StepIdentity {
    const { release, seal } = this.plan;
    return { workflowId: this.info.workflowId, release, key: `${this.keyPrefix()}/${step}`, ...(seal ? { seal } : {}) };
  }
}
