/**
 * The reference registry: which finished cutover is each pipeline's reference, and which runs are marked bad
 * so they are never used as one. One small long-running workflow per namespace (`cutover-references`), started
 * by the first signal (signal-with-start), read by a query.
 *
 * Why a workflow of its own and not a memo or search attribute on the marked run: a closed workflow's memo and
 * search attributes can no longer be changed, and the runs worth marking are closed ones. The registry keeps
 * who pinned or marked what and when, every client and worker reads the same answer, and nothing it holds can
 * be edited except through its signals. It continues as new before its history grows long.
 */
import { condition, continueAsNew, setHandler, workflowInfo } from '@temporalio/workflow';
import { markBadSignal, pinReferenceSignal, referencesQuery, type References } from '../shapes/references';

/** Signals per run before continuing as new: each is a few events. */
const SIGNALS_PER_RUN = 500;

const text = (value: unknown, max = 500) =>
  typeof value === 'string' && value.length > 0 ? value.slice(0, max) : undefined;

export async function referencesWorkflow(input: References = { pinned: {}, bad: {} }): Promise<void> {
  // Whoever can start a workflow could start the registry with pins and marks of their own in its input: only a
  // run the registry continued itself carries state over; a fresh start begins empty, whatever it was given.
  const state: References = workflowInfo().continuedFromExecutionRunId !== undefined ? input : { pinned: {}, bad: {} };
  let received = 0;
  setHandler(referencesQuery, () => state);
  // Payloads come from any client: anything malformed is ignored rather than stored.
  setHandler(pinReferenceSignal, (payload) => {
    const pipeline = text(payload?.pipeline, 100);
    const workflowId = text(payload?.workflowId, 300);
    const by = text(payload?.by, 100);
    received++;
    if (!pipeline || !workflowId || !by) return;
    state.pinned[pipeline] = { workflowId, by, at: new Date().toISOString() };
  });
  setHandler(markBadSignal, (payload) => {
    const workflowId = text(payload?.workflowId, 300);
    const by = text(payload?.by, 100);
    received++;
    if (!workflowId || !by) return;
    state.bad[workflowId] = { by, at: new Date().toISOString(), reason: text(payload?.reason) ?? '' };
  });
  await condition(() => received >= SIGNALS_PER_RUN || workflowInfo().continueAsNewSuggested);
  await continueAsNew<typeof referencesWorkflow>(state);
}
