/**
 * The saga's undo list: each compensation is registered before the step it undoes, and they run newest
 * first where cancellation cannot stop them. One failing is logged and audited; the rest still run.
 */
import { CancellationScope, log } from '@temporalio/workflow';
import type { Action } from '../plan/schema';
import { errorMessage, type Bookkeeping } from './bookkeeping';
import type { Phase } from '../shapes/phases';

export interface Compensation {
  label: string;
  action: Action;
  phase: Phase;
}

/** Runs one compensation's action (the cutover's `step`). */
export type RunCompensation = (phase: Phase, label: string, action: Action) => Promise<unknown>;

export class Compensations {
  private readonly pending: Compensation[] = [];

  constructor(private readonly books: Bookkeeping) {}

  /** Registers `compensation`: call it before the step it undoes runs. */
  register(compensation: Compensation): void {
    this.pending.push(compensation);
    this.books.audit({ kind: 'compensation', message: `registered: ${compensation.label}` });
  }

  /** Forgets the newest compensation labelled `label` (what it would undo never happened). */
  discard(label: string, why: string): void {
    const index = this.pending.map((c) => c.label).lastIndexOf(label);
    if (index < 0) return;
    this.pending.splice(index, 1);
    this.books.audit({ kind: 'compensation', message: `dropped: ${label} (${why})` });
  }

  /** Forgets every compensation: from here nothing can be undone (V1 is being decommissioned). */
  dropAll(why: string): void {
    this.pending.length = 0;
    this.books.audit({ kind: 'compensation', message: `dropped: ${why}` });
  }

  /** Runs the compensations newest first, where cancellation cannot stop them. One failing does not stop the rest. */
  async runAll(run: RunCompensation): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      while (this.pending.length > 0) {
        const compensation = this.pending.pop() as Compensation;
        try {
          await run(compensation.phase, compensation.label, compensation.action);
          this.books.audit({ kind: 'compensation', message: `ran: ${compensation.label}` });
        } catch (err) {
          log.error('compensation failed', { compensation: compensation.label, error: errorMessage(err) });
          this.books.audit({ kind: 'compensation', message: `FAILED: ${compensation.label}: ${errorMessage(err)}` });
        }
      }
    });
  }
}
