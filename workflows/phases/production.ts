/** production: a reference reading of V1, then V2 deployed with its undo registered first. */
import { ActivityFailure, ApplicationFailure, patched } from '@temporalio/workflow';
import type { ProbeInput } from '../../shapes/evidence';
import { actionTimeoutMs } from '../../plan/helpers';
import { FailureType } from '../../plan/failures';
import { Patch } from '../patches';
import { isPolicyMismatch } from '../policy-wait';
import { awaitChangeWindow, windowApplies } from '../change-window';
import { localProbe, stepOptions, steps } from '../proxies';
import type { PhaseResults } from '../../shapes/status';
import type { PhaseEnd } from '../bookkeeping';
import type { PhaseContext, PhaseModule } from './context';

export const production: PhaseModule<'production'> = {
  phase: 'production',
  async run(ctx) {
    const { plan } = ctx;
    if (windowApplies(plan) && patched(Patch.ChangeWindows))
      await awaitChangeWindow(ctx, 'production', 'the production deploy');
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
    // The reading and the deploy are one activity (deployProduction), with a production environment always, and
    // on one queue since 2026-11-26: the last approval's workflow task then only schedules it, and the approver's
    // answer does not wait for the reading. Cutovers started before took the reading first (below).
    if (plan.environments?.production || patched(Patch.ReferenceInDeploy)) return deployWithReference(ctx, probeInput);
    const asActivity = () =>
      ctx.routed('production', 'reference probe', (route) =>
        steps.probe.executeWithOptions({ ...route, summary: 'reference probe (before deploy)' }, [probeInput]),
      );
    // The reference reading stands between the last approval and the deploy. A probe only reads, and is
    // short, so it runs as a local activity: no trip through the server's queues and no second workflow
    // task before the deploy is scheduled. Cutovers started before this took a normal activity.
    // A local activity runs on this workflow's own worker: if that worker holds another policy, the probe
    // goes to the task queue as a normal activity, where a worker with the cutover's policy can take it.
    const before = patched(Patch.ReferenceProbeLocal)
      ? await localProbe(monitor.probe)(probeInput).catch((err: unknown) => {
          if (isPolicyMismatch(err)) return asActivity();
          throw err;
        })
      : await asActivity();
    if (!before.ok || !before.metrics) {
      throw ApplicationFailure.create({
        type: FailureType.ActionFailed,
        nonRetryable: true,
        message: `the reference probe before deploy failed: ${before.error ?? 'no metrics'}`,
      });
    }
    ctx.compensations.register({ label: 'undo production deploy', action: plan.production.undo, phase: 'production' });
    const deployed = await ctx.step('production', 'deploy', plan.production.deploy);
    return { result: { reference: before.metrics, deployed }, verdict: 'V2 deployed; undo registered' };
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
    const { reference, deployed } = await ctx.routed('production', 'production: deploy', (route) =>
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
