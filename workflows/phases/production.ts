/** production: a reference reading of V1, then V2 deployed with its undo registered first. */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import type { ProbeInput } from '../../shapes/evidence';
import { actionTimeoutMs } from '../../plan/helpers';
import { awaitChangeWindow, windowApplies } from '../change-window';
import { stepOptions, steps } from '../proxies';
import type { PhaseResults } from '../../shapes/phases';
import type { PhaseEnd } from '../bookkeeping';
import type { PhaseContext, PhaseModule } from './context';

export const production: PhaseModule<'production'> = {
  phase: 'production',
  async run(ctx) {
    const { plan } = ctx;
    if (windowApplies(plan)) await awaitChangeWindow(ctx, 'production', 'the production deploy');
    const { monitor } = plan.production;
    const baseDir = plan.baseDir;
    const probeInput = {
      ...ctx.identity('production/reference'),
      probe: monitor.probe,
      triggers: monitor.triggers,
      consecutiveFailures: 0,
      ...(baseDir ? { baseDir } : {}),
      ...(plan.policyDigest !== undefined ? { policyDigest: plan.policyDigest } : {}),
    };
    // The reading and the deploy are one activity (deployProduction): the last approval's workflow task only
    // schedules it, and the approver's answer does not wait for the reading.
    return deployWithReference(ctx, probeInput);
  },
};

/** The label of the production deploy's undo, registered before the deploy can start. */
const UNDO_LABEL = 'undo production deploy';

/**
 * The reference reading and the deploy as one activity (activities/production.ts: deployProduction), on
 * production's queue when the plan names one, so that no round trip through the orchestrator (or, on one queue,
 * no local activity inside the approval's workflow task) stands between the last approval and the deploy. The
 * undo is registered first, as the deploy may start inside; a failed reading (nothing deployed) takes it back.
 */
async function deployWithReference(
  ctx: PhaseContext,
  probeInput: ProbeInput,
): Promise<PhaseEnd<PhaseResults['production']>> {
  const { plan } = ctx;
  const action = plan.production.deploy;
  ctx.compensations.register({ label: UNDO_LABEL, action: plan.production.undo, phase: 'production' });
  const deploy = {
    ...ctx.identity('production/deploy'),
    label: 'deploy',
    action,
    ...(plan.baseDir ? { baseDir: plan.baseDir } : {}),
    ...(plan.policyDigest !== undefined ? { policyDigest: plan.policyDigest } : {}),
  };
  const timeoutMs = actionTimeoutMs(plan.production.monitor.probe) + actionTimeoutMs(action);
  try {
    const { reference, deployed } = await ctx.routed('production: deploy', (route) =>
      steps.deployProduction.executeWithOptions(
        { ...stepOptions(timeoutMs), ...route, summary: 'production: deploy' },
        [{ reference: probeInput, deploy }],
      ),
    );
    return {
      result: { reference: reference.metrics ?? {}, deployed },
      verdict: 'V2 deployed; undo registered',
    };
  } catch (err) {
    if (deployNeverStarted(err)) ctx.compensations.discard(UNDO_LABEL, 'the deploy never started');
    throw err;
  }
}

/** Whether deployProduction failed before its deploy began (the reference reading failed). */
function deployNeverStarted(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (!(cause instanceof ApplicationFailure)) return false;
  const detail = cause.details?.[0] as { deployStarted?: unknown } | undefined;
  return detail?.deployStarted === false;
}
