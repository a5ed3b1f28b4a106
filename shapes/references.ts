/**
 * The reference registry's messages and shapes (the workflow is workflows/references.ts): here, beneath both the
 * workflow and the activities, because an activity reads the registry through its query and activities never
 * import workflow code. `defineQuery` and `defineSignal` only name a message; they run nowhere.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';

export const REFERENCES_WORKFLOW_ID = 'cutover-references';

export interface ReferenceMark {
  by: string;
  at: string;
  reason?: string;
}

export interface References {
  /** Per pipeline: the reference run's workflow id, and who pinned it. */
  pinned: Record<string, ReferenceMark & { workflowId: string }>;
  /** Runs never to be used as a reference, by workflow id. */
  bad: Record<string, ReferenceMark>;
}

export const pinReferenceSignal = defineSignal<[{ pipeline: string; workflowId: string; by: string }]>('pinReference');
export const markBadSignal = defineSignal<[{ workflowId: string; reason: string; by: string }]>('markBad');
export const referencesQuery = defineQuery<References>('references');
