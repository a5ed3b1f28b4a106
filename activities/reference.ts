/**
 * The reference run of a cutover: the plan's `reference`, or the run pinned for its `pipeline` in the registry
 * (workflows/references.ts). Its evidence is read from its history with the worker's own client, the same way
 * `cutover what-if` reads it; a run marked bad is never used, and the phase says so.
 */
import { Context, log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { isNotFound } from '../common/not-found';
import { codecFromEnv } from '../codec/aes-gcm';
import type { CutoverPlan } from '../plan/schema';
import { decoder, recordedFromHistory, type Recorded } from '../verdicts/recorded';
import { REFERENCES_WORKFLOW_ID, referencesQuery, type References } from '../shapes/references';
import type { ReferenceNote } from '../shapes/evidence';

export interface LoadedReference {
  note: ReferenceNote;
  recorded?: Recorded;
}

/** The reference named for `plan`, if any: its evidence, or why it is not used. */
export async function loadReference(plan: CutoverPlan, ownWorkflowId: string): Promise<LoadedReference | undefined> {
  if (!plan.reference && !plan.pipeline) return undefined;
  let client: Client;
  try {
    client = Context.current().client;
  } catch {
    return {
      note: { workflowId: plan.reference ?? '', source: 'plan', refused: 'no Temporal client here to read it' },
    };
  }
  let references: References = { pinned: {}, bad: {} };
  try {
    references = await client.workflow.getHandle(REFERENCES_WORKFLOW_ID).query(referencesQuery);
  } catch (err) {
    // No registry yet: nothing pinned, nothing marked.
    if (!isNotFound(err)) throw err;
  }
  const pinned = plan.pipeline ? references.pinned[plan.pipeline] : undefined;
  const workflowId = plan.reference ?? pinned?.workflowId;
  const source = plan.reference ? 'plan' : 'pinned';
  if (!workflowId) return { note: { workflowId: '', source, refused: `nothing pinned for pipeline ${plan.pipeline}` } };
  if (workflowId === ownWorkflowId)
    return { note: { workflowId, source, refused: 'a cutover cannot be its own reference' } };
  const bad = references.bad[workflowId];
  if (bad) {
    return {
      note: {
        workflowId,
        source,
        refused: `marked bad by ${bad.by} at ${bad.at}${bad.reason ? `: ${bad.reason}` : ''}`,
      },
    };
  }
  try {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const codec = codecFromEnv();
    const recorded = await recordedFromHistory(
      workflowId,
      history,
      decoder(codec ? (payloads) => codec.decode(payloads) : undefined),
    );
    return { note: { workflowId, source }, recorded };
  } catch (err) {
    log.warn('reference not readable', { workflowId, error: (err as Error).message });
    const missing = isNotFound(err);
    return {
      note: {
        workflowId,
        source,
        refused: missing ? 'no such workflow' : ((err as Error).message.split('\n')[0] ?? ''),
      },
    };
  }
}
