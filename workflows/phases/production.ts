/** production: a reference reading of V1, then V2 deployed with its undo registered first. */
import { ApplicationFailure, patched } from '@temporalio/workflow';
import { FailureType } from '../../plan/failures';
import { Patch } from '../patches';
import { isPolicyMismatch } from '../policy-wait';
import { localProbe, steps } from '../proxies';
import type { PhaseModule } from './context';

export const production: PhaseModule<'production'> = {
  phase: 'production',
  async run(ctx) {
    const { plan } = ctx;
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
    const asActivity = () =>
      ctx.routed('production', 'reference probe', (route) =>
        steps.probe.executeWithOptions({ ...route, summary: 'reference probe (before deploy)' }, [probeInput]),
      );
    // The reference reading stands between the last approval and the deploy. A probe only reads, and is
    // short, so it runs as a local activity: no trip through the server's queues and no second workflow
    // task before the deploy is scheduled. Cutovers started before this took a normal activity.
    // A local activity runs on this workflow's own worker: if that worker holds another policy, the probe
    // goes to the task queue as a normal activity, where a worker with the cutover's policy can take it.
    // With a production environment it always does: the orchestrator is not where production is reached.
    const before = plan.environments?.production
      ? await asActivity()
      : patched(Patch.ReferenceProbeLocal)
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
