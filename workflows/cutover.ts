/**
 * cutoverWorkflow: one durable run that takes a release from V1 to V2 through every phase, with evidence.
 *
 * Deterministic code only: activities are imported by type, time comes from the workflow clock, and all
 * waiting is done with timers, conditions, signals and updates.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  allHandlersFinished,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  proxySinks,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { HealthResult, Metrics, StepInput, StepResult } from '../activities/types';
import { toMs } from '../plan/duration';
import { FailureType, NON_RETRYABLE_TYPES } from '../plan/failures';
import { actionTimeoutMs, quorumFor } from '../plan/helpers';
import type { Action, CutoverPlan } from '../plan/schema';
import type * as PlanSchemaModule from '../plan/schema';
import { evidenceDigest } from './digest';
import { checkRollbackRequest, checkSignOff } from './message-checks';
import { applySignOff, decideSignOff, gateView, RefusalRule, type GateConfig } from './gate';
import {
  phaseSearchAttribute,
  releaseSearchAttribute,
  requestRollbackSignal,
  signOffSignal,
  stateSearchAttribute,
  statusQuery,
  submitSignOffUpdate,
  type RollbackRequest,
  type SignOff,
  type SignOffAnswer,
} from './messages';
import { monitorWorkflow, type MonitorOutcome } from './monitor';
import type { CutoverSinks } from './sinks';
import {
  PHASES,
  type AuditEntry,
  type CutoverResult,
  type CutoverState,
  type CutoverStatus,
  type GateState,
  type Phase,
  type PhaseRecord,
} from './status';

// Ten attempts: a worker that dies mid-activity costs one each time (the chaos suite kills workers every few
// seconds for minutes); with backoff up to a minute they span several minutes. Plan faults do not retry.
const retry = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 10,
  nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
};

/** Steps that run a user's action: the action's own timeout bounds them; heartbeats catch a dead worker. */
const steps = proxyActivities<Activities>({
  startToCloseTimeout: '1h',
  heartbeatTimeout: '15s',
  retry,
});

/**
 * Long measuring phases: they heartbeat progress and resume from it after a crash. A dead worker is noticed
 * within the heartbeat timeout (the runner heartbeats every 5 s while a process runs).
 */
const long = proxyActivities<Activities>({
  startToCloseTimeout: '4h',
  heartbeatTimeout: '15s',
  // Each attempt resumes from the last heartbeat.
  retry,
});

const { metrics } = proxySinks<CutoverSinks>();

/** The largest sign-off an update may carry (a comment is at most 2,000 characters). */
const MAX_SIGNOFF_CHARS = 16_384;

/** Most audit entries kept in the status; older ones are counted and dropped. */
const MAX_AUDIT = 500;

/** Ends the cutover with a rollback (a trigger fired or someone asked). */
class RollbackNeeded extends Error {
  override readonly name = 'RollbackNeeded';
}

/** Ends the cutover with a rejection at the gate. */
class GateRejected extends Error {
  override readonly name = 'GateRejected';
}

interface Compensation {
  label: string;
  action: Action;
  phase: Phase;
}

/**
 * Takes `plan` through staging → shadow → stress → rollback-rehearsal → signoff → production → monitoring →
 * reconciliation → decommission. Returns when the cutover completes, is rolled back or is rejected; fails
 * (after running its compensations) when a phase fails; ends cancelled when cancelled.
 */
export async function cutoverWorkflow(input: CutoverPlan): Promise<CutoverResult> {
  // The client validated the plan; a start from elsewhere (the temporal CLI, another SDK) is checked too.
  // Cutovers started before this change checked it in workflow code; they replay that way.
  if (!patched(PLAN_CHECKED_BY_ACTIVITY)) return new Cutover(planSchemas().planOrFailure(input)).run();
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
    // The plan's own problems, not the activity's, are why this cutover failed.
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) throw err.cause;
    throw err;
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
      type: 'MalformedSignOff',
      nonRetryable: true,
      message: `a sign-off of ${size} characters is refused (at most ${MAX_SIGNOFF_CHARS})`,
    });
  }
}

const PLAN_CHECKED_BY_ACTIVITY = 'plan-checked-by-activity';

const checks = proxyActivities<Activities>({ startToCloseTimeout: '1m', retry });

/** The zod schemas, loaded only where used: the sandbox evaluates a module once per workflow that loads it. */
function planSchemas(): typeof PlanSchemaModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../plan/schema') as typeof PlanSchemaModule;
}

/** What `status` answers while the plan is being checked, before the cutover proper begins. */
function startingStatus(input: unknown): CutoverStatus {
  const release = (input as { release?: unknown } | null)?.release;
  return {
    workflowId: workflowInfo().workflowId,
    release: typeof release === 'string' ? release : '',
    phase: 'staging',
    state: 'running',
    startedAt: workflowInfo().startTime.toISOString(),
    phases: PHASES.map((phase) => ({ phase, outcome: 'pending', attempts: 0 })),
    gate: { status: 'closed', roles: [] },
    reconciliation: { day: 0, days: 0, cleanDays: 0 },
    audit: [],
    auditDropped: 0,
  };
}

class Cutover {
  private readonly info = workflowInfo();
  private readonly status: CutoverStatus;
  private gate: GateState = { status: 'closed', signoffs: [] };
  private readonly gateConfig: GateConfig;
  private readonly compensations: Compensation[] = [];
  private rollbackRequest?: RollbackRequest & { automatic: boolean };
  private decommissioned = false;
  private compensating = false;

  constructor(private readonly plan: CutoverPlan) {
    const now = new Date().toISOString();
    this.gateConfig = {
      workflowId: this.info.workflowId,
      roles: plan.signoff.roles,
      quorum: Object.fromEntries(Object.keys(plan.signoff.roles).map((role) => [role, quorumFor(plan, role)])),
      separationOfDuties: plan.signoff.separationOfDuties,
      allowInitiator: plan.signoff.allowInitiator,
      ...(plan.initiator !== undefined ? { initiator: plan.initiator } : {}),
      ...(plan.signoff.keys !== undefined ? { keys: plan.signoff.keys } : {}),
    };
    this.status = {
      workflowId: this.info.workflowId,
      release: plan.release,
      phase: 'staging',
      state: 'running',
      startedAt: now,
      phases: PHASES.map((phase) => ({ phase, outcome: 'pending', attempts: 0 })),
      gate: gateView(this.gateConfig, this.gate),
      reconciliation: { day: 0, days: plan.production.reconcile.days, cleanDays: 0 },
      audit: [],
      auditDropped: 0,
      ...(plan.initiator !== undefined ? { initiator: plan.initiator } : {}),
    };
    this.installHandlers();
  }

  private installHandlers(): void {
    setHandler(statusQuery, () => ({ ...this.status, gate: gateView(this.gateConfig, this.gate) }));

    // A signal cannot answer: its refusal is told in the audit trail, like every refusal.
    setHandler(signOffSignal, (payload: unknown) => void this.receiveSignOff(payload, 'signal'));

    setHandler(submitSignOffUpdate, (payload: unknown) => this.receiveSignOff(payload, 'update'), {
      validator: refuseOversizedSignOff,
    });

    setHandler(requestRollbackSignal, (payload: unknown) => {
      const parsed = checkRollbackRequest(payload);
      if (!parsed.ok) {
        this.audit({
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
        this.audit({
          kind: 'rollback',
          accepted: false,
          actor: request.requestedBy,
          rule: 'decommissioned',
          message: 'V1 is decommissioned: nothing to roll back to',
        });
        return;
      }
      if (this.rollbackRequest || this.compensating || isFinal(this.status.state)) {
        this.audit({
          kind: 'rollback',
          accepted: false,
          actor: request.requestedBy,
          rule: 'already-ending',
          message: `the cutover is already ending (${this.status.state})`,
        });
        return;
      }
      this.rollbackRequest = { ...request, automatic: false };
      this.audit({
        kind: 'rollback',
        accepted: true,
        actor: request.requestedBy,
        message: `rollback requested: ${request.reason}`,
      });
    });
  }

  /** A sign-off from a signal or an update: checked, decided by the gate, audited, answered. */
  receiveSignOff(payload: unknown, via: 'signal' | 'update'): SignOffAnswer {
    const parsed = checkSignOff(payload);
    if (parsed.ok) return this.signOff(parsed.value, via);
    const problems = parsed.problems;
    const reason = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
    metrics.signoff('(malformed)', false, RefusalRule.Malformed);
    this.audit({
      kind: 'signoff',
      accepted: false,
      rule: RefusalRule.Malformed,
      actor: actorOf(payload),
      message: `malformed sign-off refused: ${reason}`,
    });
    return { accepted: false, rule: RefusalRule.Malformed, reason, gate: gateView(this.gateConfig, this.gate) };
  }

  private signOff(payload: SignOff, via: 'signal' | 'update'): SignOffAnswer {
    const decision = decideSignOff(this.gateConfig, this.gate, payload);
    metrics.signoff(payload.role, decision.accepted, decision.accepted ? '' : decision.rule);
    if (!decision.accepted) {
      this.audit({
        kind: 'signoff',
        accepted: false,
        actor: payload.approver,
        rule: decision.rule,
        message: `${payload.decision} for ${payload.role} refused (${decision.rule}): ${decision.reason}`,
      });
      this.refreshDetails();
      return {
        accepted: false,
        rule: decision.rule,
        reason: decision.reason,
        gate: gateView(this.gateConfig, this.gate),
      };
    }
    this.gate = applySignOff(this.gateConfig, this.gate, {
      role: payload.role,
      approver: payload.approver,
      decision: payload.decision,
      digest: this.gate.evidenceDigest ?? '',
      signed: decision.signed,
      at: new Date().toISOString(),
      via,
      ...(payload.comment !== undefined ? { comment: payload.comment } : {}),
    });
    this.audit({
      kind: 'signoff',
      accepted: true,
      actor: payload.approver,
      message: `${payload.decision} for ${payload.role} counted${decision.signed ? ' (signed)' : ''}${payload.comment ? `: ${payload.comment}` : ''}`,
    });
    this.refreshDetails();
    return { accepted: true, gate: gateView(this.gateConfig, this.gate) };
  }

  async run(): Promise<CutoverResult> {
    this.setPhase('staging');
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
      this.setState('completed');
      this.audit({ kind: 'state', message: 'cutover completed' });
    } catch (err) {
      let outcome: CutoverState;
      if (this.rollbackRequest || err instanceof RollbackNeeded) outcome = 'rolled-back';
      else if (err instanceof GateRejected) outcome = 'rejected';
      else if (isCancellation(err)) outcome = 'cancelled';
      else outcome = 'failed';
      if (outcome === 'failed') this.status.error = describeError(err);
      this.markRunningPhase(outcome === 'failed' || outcome === 'rejected' ? 'failed' : 'cancelled', errorMessage(err));
      await this.compensate(outcome);
      this.setState(outcome);
      this.audit({
        kind: 'state',
        message: `cutover ${outcome}${outcome === 'failed' ? `: ${errorMessage(err)}` : ''}`,
      });
      if (outcome === 'failed' || outcome === 'cancelled') {
        await condition(allHandlersFinished);
        throw err;
      }
    }
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

  private async phases(): Promise<void> {
    const { plan } = this;
    const baseDir = plan.baseDir;
    const evidence: Record<string, unknown> = {};

    // ---- staging: its undo (the rollback action) is registered before the first deploy step.
    evidence.staging = await this.phase('staging', async () => {
      this.register({ label: 'rollback staging', action: plan.rollback, phase: 'staging' });
      const deployed: StepResult[] = [];
      for (const [index, action] of plan.staging.deploy.entries()) {
        deployed.push(await this.step('staging', `deploy ${action.name ?? index + 1}`, action));
      }
      const tests = plan.staging.tests ? await this.step('staging', 'tests', plan.staging.tests) : undefined;
      let health: HealthResult | undefined;
      if (plan.staging.healthChecks.length > 0) {
        health = await steps.checkHealth.executeWithOptions(
          { ...stepOptions(toMs(plan.staging.healthTimeout)), summary: 'staging health checks' },
          [
            {
              ...this.identity('staging/health'),
              checks: plan.staging.healthChecks,
              timeoutMs: toMs(plan.staging.healthTimeout),
              ...(baseDir ? { baseDir } : {}),
            },
          ],
        );
      }
      const result = { deployed, tests, health };
      return {
        result,
        verdict: `${deployed.length} deploy step(s), tests ${tests ? 'passed' : 'none'}, ${health ? 'healthy' : 'no health checks'}`,
      };
    });

    // ---- shadow: V1 and V2 side by side, KPI by KPI.
    evidence.shadow = await this.phase('shadow', async () => {
      const result = await long.runShadow.executeWithOptions({ summary: 'shadow: V1 vs V2 on every dataset' }, [
        { ...this.identity('shadow'), plan },
      ]);
      const compared = result.datasets.reduce((n: number, d) => n + d.metrics.length, 0);
      return { result, verdict: `${compared} metric comparison(s) within tolerance and noise` };
    });

    // ---- stress
    evidence.stress = await this.phase('stress', async () => {
      const result = await long.runStress.executeWithOptions(
        { summary: `stress: ${plan.stress.sizes.join(', ')} rows` },
        [{ ...this.identity('stress'), plan }],
      );
      const largest = result.sizes[result.sizes.length - 1];
      return {
        result,
        verdict: largest
          ? `p99 ${largest.latencyMs.p99.toFixed(0)} ms at ${largest.rows} rows, ${Math.round(largest.rowsPerSecond)} rows/s`
          : 'measured',
      };
    });

    // ---- rollback rehearsal
    evidence.rehearsal = await this.phase('rollback-rehearsal', async () => {
      const result = await long.rehearseRollback.executeWithOptions({ summary: 'rehearse rollback on staging' }, [
        { ...this.identity('rollback-rehearsal'), plan },
      ]);
      return {
        result,
        verdict: `rollback took ${(result.durationMs / 1000).toFixed(1)} s of ${(result.targetMs / 1000).toFixed(0)} s; every trigger fires`,
      };
    });

    // ---- signoff
    const digest = evidenceDigest(evidence);
    this.status.evidenceDigest = digest;
    await this.phase('signoff', async () => {
      await this.awaitSignOff(digest);
      const approvers = this.gate.signoffs.filter((s) => s.digest === digest).map((s) => `${s.approver} (${s.role})`);
      return { result: gateView(this.gateConfig, this.gate), verdict: `approved by ${approvers.join(', ')}` };
    });

    // ---- production: a reference reading of V1, then V2 with its undo registered first.
    const reference = await this.phase('production', async () => {
      const { monitor } = plan.production;
      const probeInput = {
        ...this.identity('production/reference'),
        probe: monitor.probe,
        triggers: monitor.triggers,
        consecutiveFailures: 0,
        ...(baseDir ? { baseDir } : {}),
      };
      // The reference reading stands between the last approval and the deploy. A probe only reads, and is
      // short, so it runs as a local activity: no trip through the server's queues and no second workflow
      // task before the deploy is scheduled. Cutovers started before this took a normal activity.
      const before = patched('reference-probe-local')
        ? await proxyLocalActivities<Activities>({
            startToCloseTimeout: actionTimeoutMs(monitor.probe) + 10_000,
            retry,
          }).probe(probeInput)
        : await steps.probe.executeWithOptions({ summary: 'reference probe (before deploy)' }, [probeInput]);
      if (!before.ok || !before.metrics) {
        throw ApplicationFailure.create({
          type: FailureType.ActionFailed,
          nonRetryable: true,
          message: `the reference probe before deploy failed: ${before.error ?? 'no metrics'}`,
        });
      }
      this.register({ label: 'undo production deploy', action: plan.production.undo, phase: 'production' });
      const deployed = await this.step('production', 'deploy', plan.production.deploy);
      return { result: { reference: before.metrics, deployed }, verdict: 'V2 deployed; undo registered' };
    });

    // ---- monitoring, in a child workflow that continues as new so history stays bounded.
    await this.phase('monitoring', async () => {
      this.setState('monitoring');
      const outcome = await this.monitor(reference.reference);
      if (outcome.outcome === 'breach' && outcome.breach) {
        metrics.breach(outcome.breach.trigger);
        this.audit({ kind: 'trigger', message: `trigger ${outcome.breach.trigger} fired: ${outcome.breach.detail}` });
        this.rollbackRequest = {
          requestedBy: 'cutover',
          reason: `trigger ${outcome.breach.trigger}: ${outcome.breach.detail}`,
          automatic: true,
        };
        throw new RollbackNeeded(`trigger ${outcome.breach.trigger} fired`);
      }
      this.setState('running');
      return { result: outcome, verdict: `${outcome.samples} probe(s), no trigger fired` };
    });

    // ---- reconciliation: V2 against V1 every day.
    await this.phase('reconciliation', async () => {
      const { reconcile } = plan.production;
      const days = [];
      for (let day = 1; day <= reconcile.days; day++) {
        await sleep(reconcile.every);
        this.status.reconciliation.day = day;
        const result = await long.reconcile.executeWithOptions({ summary: `reconcile day ${day}` }, [
          { ...this.identity(`reconciliation/day-${day}`), plan, day },
        ]);
        if (result.clean) this.status.reconciliation.cleanDays++;
        else this.audit({ kind: 'note', message: `reconciliation day ${day}: ${result.failures.join('; ')}` });
        days.push({ day, clean: result.clean, failures: result.failures });
        this.refreshDetails();
      }
      const clean = this.status.reconciliation.cleanDays;
      return { result: { days }, verdict: `${clean} of ${reconcile.days} day(s) clean` };
    });

    // ---- decommission V1 after enough clean days.
    await this.phase<unknown>('decommission', async () => {
      const { decommission } = plan.production;
      const clean = this.status.reconciliation.cleanDays;
      if (clean < decommission.afterCleanDays) {
        return {
          result: { skipped: true },
          verdict: `kept V1: ${clean} clean day(s), ${decommission.afterCleanDays} needed`,
          outcome: 'skipped' as const,
        };
      }
      // From here V1 is being removed: nothing can roll back to it, so the compensations are dropped first
      // (a failing decommission must not switch production back to a half-removed V1), and a rollback
      // request is refused.
      this.decommissioned = true;
      this.compensations.length = 0;
      this.audit({ kind: 'compensation', message: 'dropped: V1 is being decommissioned, nothing to roll back to' });
      const { afterCleanDays: _unused, ...action } = decommission;
      const result = await this.step('decommission', 'decommission V1', action);
      return { result, verdict: `V1 decommissioned after ${clean} clean day(s)` };
    });
  }

  private async awaitSignOff(digest: string): Promise<void> {
    const { signoff } = this.plan;
    const now = Date.now();
    this.gate = {
      ...this.gate,
      status: 'open',
      evidenceDigest: digest,
      openedAt: new Date(now).toISOString(),
      deadline: new Date(now + toMs(signoff.deadline)).toISOString(),
    };
    this.setState('awaiting-signoff');
    this.audit({
      kind: 'gate',
      message: `gate open for evidence ${digest.slice(0, 12)}…; deadline ${this.gate.deadline}`,
    });
    const decided = () => this.gate.status === 'approved' || this.gate.status === 'rejected';
    if (!(await condition(decided, signoff.deadline))) {
      this.gate = {
        ...this.gate,
        escalatedAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + toMs(signoff.escalationWindow)).toISOString(),
      };
      this.audit({ kind: 'gate', message: `deadline passed; escalating until ${this.gate.expiresAt}` });
      if (signoff.escalate) await this.step('signoff', 'escalate', signoff.escalate);
      this.refreshDetails();
      if (!(await condition(decided, signoff.escalationWindow))) {
        this.gate = { ...this.gate, status: 'expired' };
        this.audit({ kind: 'gate', message: 'sign-off expired: no decision by the end of the escalation window' });
        throw ApplicationFailure.create({
          type: FailureType.SignoffExpired,
          nonRetryable: true,
          message: `sign-off expired: missing ${this.missingRoles().join(', ')}`,
        });
      }
    }
    if (this.gate.status === 'rejected') {
      const by = this.gate.rejectedBy;
      throw new GateRejected(`rejected by ${by?.approver} (${by?.role})${by?.comment ? `: ${by.comment}` : ''}`);
    }
    this.setState('running');
  }

  private missingRoles(): string[] {
    return gateView(this.gateConfig, this.gate)
      .roles.filter((r) => r.missing > 0)
      .map((r) => `${r.role} (${r.missing})`);
  }

  private async monitor(reference: Metrics): Promise<MonitorOutcome> {
    const { monitor } = this.plan.production;
    const windowEndsAt = Date.now() + toMs(monitor.window);
    const childWorkflowId = `${this.info.workflowId}-monitor`;
    this.status.monitor = { childWorkflowId, windowEndsAt: new Date(windowEndsAt).toISOString() };
    const child = await startChild(monitorWorkflow, {
      workflowId: childWorkflowId,
      args: [
        {
          parentWorkflowId: this.info.workflowId,
          release: this.plan.release,
          keyPrefix: this.keyPrefix(),
          probe: monitor.probe,
          triggers: monitor.triggers,
          reference,
          intervalMs: toMs(monitor.interval),
          windowEndsAt,
          ...(this.plan.baseDir ? { baseDir: this.plan.baseDir } : {}),
          state: { samples: 0, consecutiveFailures: 0, runs: 1, startedAt: new Date().toISOString() },
        },
      ],
      staticSummary: `monitoring ${this.plan.release} for ${monitor.window}`,
    });
    const outcome = await child.result();
    this.status.monitor.outcome = outcome.outcome;
    return outcome;
  }

  /** Runs a user's action as one activity, with an idempotency key stable across its retries. */
  private async step(phase: Phase, label: string, action: Action): Promise<StepResult> {
    const input: StepInput = { ...this.identity(`${phase}/${label.replace(/\s+/g, '-')}`), label, action };
    if (this.plan.baseDir) input.baseDir = this.plan.baseDir;
    return steps.runStep.executeWithOptions(
      { ...stepOptions(actionTimeoutMs(action)), summary: `${phase}: ${label}` },
      [input],
    );
  }

  private keyPrefix(): string {
    return `${this.info.workflowId}/${this.info.firstExecutionRunId}`;
  }

  private identity(step: string): { workflowId: string; release: string; key: string } {
    return { workflowId: this.info.workflowId, release: this.plan.release, key: `${this.keyPrefix()}/${step}` };
  }

  private register(compensation: Compensation): void {
    this.compensations.push(compensation);
    this.audit({ kind: 'compensation', message: `registered: ${compensation.label}` });
  }

  /** Runs the compensations newest first, where cancellation cannot stop them. One failing does not stop the rest. */
  private async compensate(outcome: CutoverState): Promise<void> {
    this.compensating = true;
    if (this.rollbackRequest) {
      metrics.rollback(this.rollbackRequest.automatic);
      const who = this.rollbackRequest.automatic ? 'automatic' : `by ${this.rollbackRequest.requestedBy}`;
      this.status.rollback = { ...this.rollbackRequest, at: new Date().toISOString() };
      this.audit({ kind: 'rollback', message: `rolling back (${who}): ${this.rollbackRequest.reason}` });
    }
    await CancellationScope.nonCancellable(async () => {
      while (this.compensations.length > 0) {
        const compensation = this.compensations.pop() as Compensation;
        try {
          await this.step(compensation.phase, compensation.label, compensation.action);
          this.audit({ kind: 'compensation', message: `ran: ${compensation.label}` });
        } catch (err) {
          log.error('compensation failed', { compensation: compensation.label, error: errorMessage(err) });
          this.audit({ kind: 'compensation', message: `FAILED: ${compensation.label}: ${errorMessage(err)}` });
        }
      }
    });
    this.audit({ kind: 'note', message: `compensations done (${outcome})` });
  }

  /** Runs one phase and keeps its record: times, attempts, result, verdict. */
  private async phase<T>(
    phase: Phase,
    body: () => Promise<{ result: T; verdict: string; outcome?: 'passed' | 'skipped' }>,
  ): Promise<T> {
    const record = this.record(phase);
    const started = Date.now();
    record.outcome = 'running';
    record.startedAt = new Date(started).toISOString();
    this.setPhase(phase);
    this.audit({ kind: 'phase', message: `${phase} started` });
    let endedAs: string = 'failed';
    try {
      const { result, verdict, outcome } = await body();
      record.outcome = outcome ?? 'passed';
      endedAs = record.outcome;
      record.verdict = verdict;
      record.result = result;
      record.attempts = Math.max(1, attemptsOf(result));
      this.audit({ kind: 'phase', message: `${phase} ${record.outcome}: ${verdict}` });
      return result;
    } catch (err) {
      endedAs = isCancellation(err) ? 'cancelled' : 'failed';
      // The failing activity's evidence travels in the failure's details: keep it with the phase.
      const evidence = failureDetails(err);
      if (evidence !== undefined) {
        record.result = evidence;
        record.attempts = Math.max(1, attemptsOf(evidence));
      }
      throw err;
    } finally {
      record.endedAt = new Date().toISOString();
      record.durationMs = Date.now() - started;
      metrics.phase(phase, endedAs, record.durationMs / 1000);
      this.refreshDetails();
    }
  }

  private markRunningPhase(outcome: 'failed' | 'cancelled', message: string): void {
    for (const record of this.status.phases) {
      if (record.outcome === 'running' || (record.phase === this.status.phase && record.outcome === 'pending')) {
        record.outcome = outcome;
        record.verdict = message;
        this.audit({ kind: 'phase', message: `${record.phase} ${outcome}: ${message}` });
      }
    }
  }

  private record(phase: Phase): PhaseRecord {
    return this.status.phases.find((r) => r.phase === phase) as PhaseRecord;
  }

  private setPhase(phase: Phase): void {
    this.status.phase = phase;
    this.publish();
  }

  private setState(state: CutoverState): void {
    this.status.state = state;
    if (isFinal(state)) this.status.endedAt = new Date().toISOString();
    this.publish();
  }

  /** Search attributes and the UI's current details follow every change of phase or state. */
  private publish(): void {
    upsertSearchAttributes([
      { key: releaseSearchAttribute, value: this.plan.release },
      { key: phaseSearchAttribute, value: this.status.phase },
      { key: stateSearchAttribute, value: this.status.state },
    ]);
    this.refreshDetails();
  }

  private refreshDetails(): void {
    const view = gateView(this.gateConfig, this.gate);
    const lines = [
      `**${this.plan.release}**: ${this.status.phase} · ${this.status.state}`,
      '',
      '| phase | outcome | verdict |',
      '| --- | --- | --- |',
      ...this.status.phases
        .filter((r) => r.outcome !== 'pending')
        .map((r) => `| ${r.phase} | ${r.outcome} | ${(r.verdict ?? '').replace(/\|/g, '/').slice(0, 120)} |`),
    ];
    if (view.status !== 'closed') {
      lines.push('', `**Gate** ${view.status}${view.deadline ? ` · deadline ${view.deadline}` : ''}`, '');
      for (const role of view.roles) {
        lines.push(
          `- ${role.role}: ${role.approvedBy.length ? `signed by ${role.approvedBy.join(', ')}` : 'unsigned'}${role.missing ? ` · missing ${role.missing}` : ''}`,
        );
      }
      if (this.status.evidenceDigest) lines.push('', `evidence \`${this.status.evidenceDigest}\``);
    }
    setCurrentDetails(lines.join('\n'));
  }

  private audit(entry: Omit<AuditEntry, 'at'>): void {
    this.status.audit.push({ at: new Date().toISOString(), ...entry });
    if (this.status.audit.length > MAX_AUDIT) {
      this.status.audit.shift();
      this.status.auditDropped++;
    }
  }
}

function stepOptions(actionMs: number): ActivityOptions {
  // The runner enforces the action's own timeout; the activity gets that plus room to clean up.
  return { startToCloseTimeout: actionMs + 60_000, heartbeatTimeout: '15s', retry };
}

function isFinal(state: CutoverState): boolean {
  return (
    state === 'completed' ||
    state === 'rolled-back' ||
    state === 'rejected' ||
    state === 'failed' ||
    state === 'cancelled'
  );
}

function attemptsOf(result: unknown): number {
  if (result && typeof result === 'object') {
    const r = result as Record<string, unknown>;
    if (typeof r.attempt === 'number') return r.attempt;
    if (Array.isArray(r.deployed)) return Math.max(1, ...r.deployed.map(attemptsOf));
  }
  return 1;
}

function failureDetails(err: unknown): unknown {
  const cause = err instanceof ActivityFailure || err instanceof ChildWorkflowFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.details && cause.details.length > 0) return cause.details[0];
  return undefined;
}

function describeError(err: unknown): { type?: string; message: string } {
  const cause = err instanceof ActivityFailure || err instanceof ChildWorkflowFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure)
    return { ...(cause.type ? { type: cause.type } : {}), message: cause.message };
  return { message: errorMessage(err) };
}

function errorMessage(err: unknown): string {
  if (err instanceof ActivityFailure || err instanceof ChildWorkflowFailure) {
    return err.cause ? err.cause.message : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

function actorOf(payload: unknown): string | undefined {
  if (payload && typeof payload === 'object') {
    const value = (payload as Record<string, unknown>).approver ?? (payload as Record<string, unknown>).requestedBy;
    if (typeof value === 'string') return value.slice(0, 128);
  }
  return undefined;
}
