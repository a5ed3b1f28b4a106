/**
 * What workflow code reports to the worker process for its metrics. Sinks are fire-and-forget and add
 * nothing to history; the worker does not call them again during replay.
 */
import type { Sinks } from '@temporalio/workflow';

export interface CutoverSinks extends Sinks {
  metrics: {
    /** A phase ended: how long it took and how. */
    phase(phase: string, outcome: string, seconds: number): void;
    /** A sign-off was counted, or refused by `rule`. */
    signoff(role: string, counted: boolean, rule: string): void;
    /** The cutover is rolling back. */
    rollback(automatic: boolean): void;
    /** A production trigger fired. */
    breach(trigger: string): void;
  };
}
