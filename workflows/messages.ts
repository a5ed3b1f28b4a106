/**
 * Every name a user, script or the UI uses to talk to a cutover, defined once. The CLI imports these.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { CutoverStatus, GateView, MonitorStatus } from './status';

/** Task queue the worker polls. Overridden by `CUTOVER_TASK_QUEUE`. */
export const DEFAULT_TASK_QUEUE = 'cutover';

/** Largest comment kept with a sign-off. */
export const MAX_COMMENT_LENGTH = 2000;

// Types only: the zod schemas stay out of every module a workflow loads up front.
export type { RollbackRequest, SignOff } from './message-schemas';
import type { RollbackRequest, SignOff } from './message-schemas';

/** What `submitSignOff` answers. */
export interface SignOffAnswer {
  accepted: boolean;
  /** Which rule refused it, and why. */
  rule?: string;
  reason?: string;
  gate: GateView;
}

export const signOffSignal = defineSignal<[SignOff]>('signOff');
export const submitSignOffUpdate = defineUpdate<SignOffAnswer, [SignOff]>('submitSignOff');
export const requestRollbackSignal = defineSignal<[RollbackRequest]>('requestRollback');
export const statusQuery = defineQuery<CutoverStatus>('status');
export const monitorStatusQuery = defineQuery<MonitorStatus>('monitorStatus');

export const releaseSearchAttribute = defineSearchAttributeKey('CutoverRelease', SearchAttributeType.KEYWORD);
export const phaseSearchAttribute = defineSearchAttributeKey('CutoverPhase', SearchAttributeType.KEYWORD);
export const stateSearchAttribute = defineSearchAttributeKey('CutoverState', SearchAttributeType.KEYWORD);

/** The search attributes a namespace must have registered (all Keyword). */
export const SEARCH_ATTRIBUTE_NAMES = ['CutoverRelease', 'CutoverPhase', 'CutoverState'] as const;

/** The default workflow id for a release. */
export function workflowIdFor(release: string): string {
  return `cutover-${release}`;
}
