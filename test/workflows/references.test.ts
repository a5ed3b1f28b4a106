/**
 * Reference runs on the real time-skipping server: a finished cutover named in a later plan's `reference` is
 * shown beside V1 in the later cutover's shadow and stress evidence; a run marked bad in the registry is never
 * used (the phase says why); a run pinned for a pipeline is the reference of a plan naming only the pipeline.
 */
import type { ShadowResult, StressResult } from '../../shapes/phases';
import type { CutoverPlanInput } from '../../plan/schema';
import { cutoverWorkflow, referencesWorkflow } from '../../workflows';
import { markBadSignal, pinReferenceSignal, REFERENCES_WORKFLOW_ID, referencesQuery } from '../../shapes/references';
import { phaseResult } from '../../shapes/status';
import { approveAll, endQuietly, timeSkippingWorker, uniqueId, waitForStatus } from '../helpers/harness';
import { makePlan, nodeRun } from '../helpers/plans';

const t = timeSkippingWorker();

/** A cutover whose V2 prints PAR30 = `par30`, run to the gate. */
async function atGate(par30: number, overrides: Partial<CutoverPlanInput> = {}) {
  const out = JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: par30 }, rows: 10 });
  const plan = makePlan({
    candidate: { run: nodeRun(`process.stdout.write(${JSON.stringify(out)})`) },
    shadow: { datasets: [{ generate: { rows: 10, seed: 1 } }], noiseRuns: 0, tolerances: { PAR30: { relative: 0.5 } } },
    ...overrides,
  });
  const handle = await t.env.client.workflow.start(cutoverWorkflow, {
    taskQueue: t.taskQueue,
    workflowId: uniqueId('ref'),
    args: [plan],
  });
  const status = await waitForStatus(handle, (s) => s.state === 'awaiting-signoff');
  return { handle, status };
}

async function registry(signal: 'pin' | 'bad', args: Record<string, string>) {
  const options = {
    workflowId: REFERENCES_WORKFLOW_ID,
    taskQueue: t.taskQueue,
    args: [{ pinned: {}, bad: {} }] as [never],
  };
  if (signal === 'pin')
    await t.env.client.workflow.signalWithStart(referencesWorkflow, {
      ...options,
      signal: pinReferenceSignal,
      signalArgs: [args as { pipeline: string; workflowId: string; by: string }],
    });
  else
    await t.env.client.workflow.signalWithStart(referencesWorkflow, {
      ...options,
      signal: markBadSignal,
      signalArgs: [args as { workflowId: string; reason: string; by: string }],
    });
}

test('a reference run is shown beside V1; a run marked bad is refused; a pinned run serves its pipeline', async () => {
  // The reference: a finished cutover.
  const first = await atGate(0.1);
  await approveAll(first.handle);
  expect((await first.handle.result()).state).toBe('completed');
  const referenceId = first.handle.workflowId;

  // A later cutover names it: its V2's PAR30 against the reference's, and its stress sizes against the reference's.
  const later = await atGate(0.11, { reference: referenceId });
  const shadow = phaseResult(later.status.phases, 'shadow') as ShadowResult;
  expect(shadow.reference).toMatchObject({ workflowId: referenceId, source: 'plan' });
  expect(shadow.reference?.refused).toBeUndefined();
  const par30 = shadow.reference?.metrics.find((m) => m.metric === 'PAR30');
  expect(par30).toMatchObject({ dataset: '10 rows (seed 1)', reference: 0.1, v2: 0.11 });
  expect(par30?.relative).toBeCloseTo(0.1, 9);
  const stress = phaseResult(later.status.phases, 'stress') as StressResult;
  expect(stress.reference?.sizes.map((z) => z.rows)).toEqual([10, 20]);

  // Marked bad: never used again, and the phase says why.
  await registry('bad', { workflowId: referenceId, reason: 'ran on a half-loaded tape', by: 'bo' });
  const refused = await atGate(0.11, { reference: referenceId });
  const refusedShadow = phaseResult(refused.status.phases, 'shadow') as ShadowResult;
  expect(refusedShadow.reference?.refused).toMatch(/^marked bad by bo at .+: ran on a half-loaded tape$/);
  expect(refusedShadow.reference?.metrics).toEqual([]);

  // Pinned for a pipeline: a plan naming only the pipeline gets it.
  await registry('pin', { pipeline: 'kpi', workflowId: later.handle.workflowId, by: 'ana' });
  const pinned = await atGate(0.12, { pipeline: 'kpi' });
  const pinnedShadow = phaseResult(pinned.status.phases, 'shadow') as ShadowResult;
  expect(pinnedShadow.reference).toMatchObject({ workflowId: later.handle.workflowId, source: 'pinned' });
  expect(pinnedShadow.reference?.metrics.find((m) => m.metric === 'PAR30')?.reference).toBe(0.11);

  const registered = await t.env.client.workflow.getHandle(REFERENCES_WORKFLOW_ID).query(referencesQuery);
  expect(registered.pinned.kpi).toMatchObject({ workflowId: later.handle.workflowId, by: 'ana' });
  expect(Object.keys(registered.bad)).toEqual([referenceId]);
  for (const h of [later.handle, refused.handle, pinned.handle]) await h.cancel();
}, 180_000);

test('the registry started directly with pins and marks of its own in its input begins empty: only its own continue-as-new carries state', async () => {
  const forged = {
    pinned: { 'portfolio-kpi': { workflowId: 'cutover-evil', by: 'mallory', at: '2026-01-01T00:00:00Z' } },
    bad: { 'cutover-good': { by: 'mallory', at: '2026-01-01T00:00:00Z', reason: 'forged' } },
  };
  const handle = await t.env.client.workflow.start(referencesWorkflow, {
    taskQueue: t.taskQueue,
    workflowId: uniqueId('registry'),
    args: [forged],
  });
  expect(await handle.query(referencesQuery)).toEqual({ pinned: {}, bad: {} });
  await endQuietly(handle);
});
