/**
 * Every name a user, script or the UI uses to talk to a cutover, defined once. The CLI imports these.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { z } from 'zod';
import type { CutoverStatus, GateView, MonitorStatus } from './status';

/** Task queue the worker polls. Overridden by `CUTOVER_TASK_QUEUE`. */
export const DEFAULT_TASK_QUEUE = 'cutover';

/** Largest comment kept with a sign-off. */
export const MAX_COMMENT_LENGTH = 2000;

/** A sign-off, as sent by the CLI, `temporal workflow signal` or the UI's signal form. */
export const signOffSchema = z.strictObject({
  role: z.string().min(1).max(64),
  approver: z.string().min(1).max(128),
  decision: z.enum(['approve', 'reject']),
  comment: z.string().max(MAX_COMMENT_LENGTH).optional(),
  /** The evidence digest the approver saw (`cutover status` shows it). */
  evidenceDigest: z
    .string()
    .regex(/^[0-9a-f]{64}$/, { error: 'expected the 64-character hex evidence digest' })
    .optional(),
  /** ed25519 signature (hex or base64) over `signOffMessage(...)`; required when the plan has keys. */
  signature: z.string().max(200).optional(),
});
export type SignOff = z.infer<typeof signOffSchema>;

export const rollbackRequestSchema = z.strictObject({
  requestedBy: z.string().min(1).max(128),
  reason: z.string().min(1).max(MAX_COMMENT_LENGTH),
});
export type RollbackRequest = z.infer<typeof rollbackRequestSchema>;

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
