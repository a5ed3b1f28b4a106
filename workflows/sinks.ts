/**
 * What workflow code reports to the worker process. Sinks are fire-and-forget and add nothing to history.
 */
import type { Sinks } from '@temporalio/workflow';
import type { ChainedEntry } from '../shapes/status';

export interface CutoverSinks extends Sinks {
  /** The worker's metrics; not called again during replay. */
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
  record: {
    /**
     * An audit entry, chained, as the workflow wrote it. The worker keeps nothing of it (the status holds the
     * entries); `cutover verify --replay` collects every call of a replay, to hold a record's chain to the
     * chain its history rebuilds (lib/record-replay.ts).
     */
    audit(entry: ChainedEntry): void;
  };
}
