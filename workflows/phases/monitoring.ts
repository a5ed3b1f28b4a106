/**
 * monitoring: V2 in production probed at every interval in a child workflow that continues as new, so
 * history stays bounded; a fired trigger rolls the cutover back.
 */
import { ApplicationFailure, proxySinks, startChild } from '@temporalio/workflow';
import type { Metrics } from '../../shapes/evidence';
import { toMs } from '../../plan/duration';
import { FailureType } from '../../plan/failures';
import { sealFor } from '../../plan/seal';
import { RollbackNeeded } from '../endings';
import { monitorWorkflow } from '../monitor';
import type { CutoverSinks } from '../sinks';
import type { MonitorOutcome } from '../../shapes/evidence';
import type { PhaseContext, PhaseModule } from './context';

const { metrics } = proxySinks<CutoverSinks>();

export const monitoring: PhaseModule<'monitoring'> = {
  phase: 'monitoring',
  async run(ctx) {
    const reference = ctx.results.production?.reference;
    if (!reference) {
      throw ApplicationFailure.create({
        type: FailureType.ActionFailed,
        nonRetryable: true,
        message: 'monitoring needs the reference reading of the production phase, and there is none',
      });
    }
    ctx.books.setState('monitoring');
    const outcome = await monitor(ctx, reference);
    if (outcome.outcome === 'breach' && outcome.breach) {
      metrics.breach(outcome.breach.trigger);
      ctx.books.audit({
        kind: 'trigger',
        message: `trigger ${outcome.breach.trigger} fired: ${outcome.breach.detail}`,
      });
      ctx.requestAutomaticRollback({
        requestedBy: 'cutover',
        reason: `trigger ${outcome.breach.trigger}: ${outcome.breach.detail}`,
      });
      throw new RollbackNeeded(`trigger ${outcome.breach.trigger} fired`);
    }
    ctx.books.setState('running');
    const would = outcome.wouldBreach;
    if (would) {
      ctx.books.audit({
        kind: 'trigger',
        message: `dry run: trigger ${would.trigger} would have rolled back at probe #${would.probe}: ${would.detail}`,
      });
    }
    return {
      result: outcome,
      verdict: `${outcome.samples} probe(s), no trigger fired${would ? `; dry run: ${would.trigger} would have rolled back at probe #${would.probe}` : ''}`,
    };
  },
};

async function monitor(ctx: PhaseContext, reference: Metrics): Promise<MonitorOutcome> {
  const { plan } = ctx;
  const { monitor } = plan.production;
  const windowEndsAt = Date.now() + toMs(monitor.window);
  const parentWorkflowId = ctx.books.status.workflowId;
  const childWorkflowId = `${parentWorkflowId}-monitor`;
  const status = { childWorkflowId, windowEndsAt: new Date(windowEndsAt).toISOString() };
  ctx.books.status.monitor = status;
  const child = await startChild(monitorWorkflow, {
    workflowId: childWorkflowId,
    args: [
      {
        parentWorkflowId,
        release: plan.release,
        keyPrefix: ctx.keyPrefix(),
        probe: monitor.probe,
        triggers: monitor.triggers,
        reference,
        intervalMs: toMs(monitor.interval),
        windowEndsAt,
        ...(plan.baseDir ? { baseDir: plan.baseDir } : {}),
        ...(plan.policyDigest !== undefined ? { policyDigest: plan.policyDigest } : {}),
        ...(plan.seal ? { seal: sealFor(plan.seal, 'production.monitor.probe') } : {}),
        ...(plan.environments?.production ? { taskQueue: plan.environments.production.taskQueue } : {}),
        state: { samples: 0, consecutiveFailures: 0, runs: 1, startedAt: new Date().toISOString() },
      },
    ],
    staticSummary: `monitoring ${plan.release} for ${monitor.window}`,
  });
  const outcome = await child.result();
  ctx.books.status.monitor = { ...status, outcome: outcome.outcome };
  return outcome;
}
