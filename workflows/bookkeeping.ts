/**
 * A cutover's record as people see it: the phase records, the audit trail, the search attributes and the
 * Temporal UI's current details. Everything here is state and metadata; none of it is a command that
 * replay compares, except the search attribute upserts, which follow every change of phase or state.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  isCancellation,
  proxySinks,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { chainStart, entryHash } from './digest';
import { phaseSearchAttribute, releaseSearchAttribute, stateSearchAttribute } from './messages';
import type { ShadowResult } from '../shapes/phases';
import { dryRunLines, outputLine, sampleKey } from './output-lines';
import type { NotifyEvent } from '../plan/schema';
import type { CutoverSinks } from './sinks';
import {
  describeBreakGlass,
  describeWaitingForWindow,
  describeWaitingForWorker,
  isFinal,
  type AuditEntry,
  type ChainedEntry,
  type CutoverState,
  type CutoverStatus,
  type PhaseRecordOf,
} from '../shapes/status';
import { type Phase, type PhaseResults } from '../shapes/phases';
import { type GateView } from '../shapes/evidence';

const { metrics, record: recordSink } = proxySinks<CutoverSinks>();

/** Most audit entries kept in the status; older ones are counted and dropped. */
export const MAX_AUDIT = 500;

/** What a phase's body returns: its evidence, the one-line verdict, and `skipped` when it chose not to act. */
export interface PhaseEnd<T> {
  result: T;
  verdict: string;
  outcome?: 'passed' | 'skipped';
}

export class Bookkeeping {
  /** Tells the plan's notification targets about an event (set by the cutover; nothing by default). */
  notify: (event: NotifyEvent, text: string) => void = () => undefined;

  constructor(
    readonly status: CutoverStatus,
    private readonly gateView: () => GateView,
  ) {}

  /** Runs one phase and keeps its record: times, attempts, result, verdict. */
  async runPhase<P extends Phase>(
    phase: P,
    body: () => Promise<PhaseEnd<PhaseResults[P]>>,
    options: { keepsEvidenceOnFailure?: boolean } = {},
  ): Promise<PhaseResults[P]> {
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
      // The failing activity's evidence travels in the failure's details: keep it with the phase. A measuring
      // phase fails with its own evidence (the figures that missed); any other with the failing action's.
      const evidence = failureDetails(err);
      if (evidence !== undefined) {
        if (options.keepsEvidenceOnFailure) record.result = evidence as PhaseResults[P];
        else record.failure = evidence;
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

  /** Marks the phase that was running when the cutover ended as `outcome`, with `message` as its verdict. */
  markRunningPhase(outcome: 'failed' | 'cancelled', message: string): void {
    for (const record of this.status.phases) {
      if (record.outcome === 'running' || (record.phase === this.status.phase && record.outcome === 'pending')) {
        record.outcome = outcome;
        record.verdict = message;
        this.audit({ kind: 'phase', message: `${record.phase} ${outcome}: ${message}` });
      }
    }
  }

  record<P extends Phase>(phase: P): PhaseRecordOf<P> {
    return this.status.phases.find((r) => r.phase === phase) as PhaseRecordOf<P>;
  }

  setPhase(phase: Phase): void {
    this.status.phase = phase;
    this.publish();
  }

  setState(state: CutoverState): void {
    this.status.state = state;
    if (isFinal(state)) this.status.endedAt = new Date().toISOString();
    this.publish();
  }

  /** Search attributes and the UI's current details follow every change of phase or state. */
  private publish(): void {
    upsertSearchAttributes([
      { key: releaseSearchAttribute, value: this.status.release },
      { key: phaseSearchAttribute, value: this.status.phase },
      { key: stateSearchAttribute, value: this.status.state },
    ]);
    this.refreshDetails();
  }

  /** The Temporal UI's current details: the phases so far and, once it opens, the gate. */
  refreshDetails(): void {
    const view = this.gateView();
    const lines = [
      `**${this.status.release}**: ${this.status.phase} · ${this.status.state}`,
      '',
      '| phase | outcome | verdict |',
      '| --- | --- | --- |',
      ...this.status.phases
        .filter((r) => r.outcome !== 'pending')
        .map((r) => `| ${r.phase} | ${r.outcome} | ${(r.verdict ?? '').replace(/\|/g, '/').slice(0, 120)} |`),
    ];
    const shadow = this.status.phases.find((r) => r.phase === 'shadow')?.result as ShadowResult | undefined;
    const diffs = (shadow?.datasets ?? []).flatMap((d) => d.outputs ?? []);
    if (diffs.length > 0) {
      lines.push('', '**Output diffs**', '');
      for (const diff of diffs) {
        const examples = diff.samples.slice(0, 3).map(sampleKey);
        lines.push(`- ${outputLine(diff)}${examples.length ? ` · e.g. ${examples.join(', ')}` : ''}`);
      }
    }
    const dryRuns = dryRunLines(this.status);
    if (dryRuns.length > 0) {
      lines.push('', '**Dry-run checks** (measured, never counted)', '');
      for (const line of dryRuns.slice(0, 10)) lines.push(`- ${line.replace(/\|/g, '/').slice(0, 200)}`);
    }
    const waiting = this.status.waitingForPolicy;
    if (waiting) {
      lines.push(
        '',
        `**Waiting** since ${waiting.since}: ${waiting.what} refused ${waiting.refusals}× (${waiting.message})`,
      );
    }
    if (this.status.waitingForWorker) {
      lines.push('', `**Waiting**: ${describeWaitingForWorker(this.status.waitingForWorker)}`);
    }
    if (this.status.waitingForWindow) {
      lines.push('', `**Waiting**: ${describeWaitingForWindow(this.status.waitingForWindow)}`);
    }
    for (const b of this.status.breakGlass ?? []) lines.push('', `**BREAK-GLASS**: ${describeBreakGlass(b)}`);
    if (view.status !== 'closed') {
      lines.push('', `**Gate** ${view.status}${view.deadline ? ` · deadline ${view.deadline}` : ''}`, '');
      for (const role of view.roles) {
        lines.push(
          `- ${role.role}: ${role.approvedBy.length ? `signed by ${role.approvedBy.join(', ')}` : 'unsigned'}${role.missing ? ` · missing ${role.missing}` : ''}`,
        );
      }
      if (this.status.evidenceDigest) lines.push('', `evidence \`${this.status.evidenceDigest}\``);
      if (this.status.approvalLink) lines.push('', `[Sign off in the approval app](${this.status.approvalLink})`);
    }
    setCurrentDetails(lines.join('\n'));
  }

  /** Writes an audit entry, chained to the one before it (dropped from the status or not). */
  audit(entry: Omit<AuditEntry, 'at' | 'prev'>): void {
    const { workflowId, runId } = workflowInfo();
    const linked: ChainedEntry = {
      at: new Date().toISOString(),
      ...entry,
      prev: this.status.auditHead ?? chainStart(workflowId, runId),
    };
    this.status.auditHead = entryHash(linked);
    this.status.audit.push(linked);
    recordSink.audit(linked);
    if (this.status.audit.length > MAX_AUDIT) {
      this.status.audit.shift();
      this.status.auditDropped++;
    }
  }
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

/** The failure as the status reports it: its type when it has one, and its message. */
export function describeError(err: unknown): { type?: string; message: string } {
  const cause = err instanceof ActivityFailure || err instanceof ChildWorkflowFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure)
    return { ...(cause.type ? { type: cause.type } : {}), message: cause.message };
  return { message: errorMessage(err) };
}

/** The message that says why, from the innermost failure that has one. */
export function errorMessage(err: unknown): string {
  if (err instanceof ActivityFailure || err instanceof ChildWorkflowFailure) {
    return err.cause ? err.cause.message : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
