/**
 * Production: probes evaluated against the rollback triggers, and V2's deploy with the reference reading before it.
 */
import { CancelledFailure, Context, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { encodeToPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { FailureType } from '../plan/failures';
import { workdirFor } from './datasets';
import { toFailure } from './errors';
import { parseOutput, probeOutputSchema } from './pipeline';
import type { ResolvedPolicy } from '../policy/schema';
import { guarded, isPolicyRefusal, assertSamePolicy } from './policy-guard';
import { runAction } from './runner';
import { evaluateTriggers } from '../verdicts/triggers';
import { runStepIn } from './staging';
import type { ProbeInput, ProbeResult, StepInput, StepResult } from '../shapes/evidence';

/**
 * Runs the probe and evaluates the triggers. A probe that fails or prints nonsense is a failed sample
 * (counted towards `failedProbes`), not a failed activity: only infrastructure errors are retried.
 */
export const createProbe = (deps: { dataDir: string; policy?: ResolvedPolicy }) => {
  const sample = probeSampler(deps);
  // The monitor's samples; the reference reading before the deploy is taken inside deployProduction (urgent).
  return async function probe(input: ProbeInput): Promise<ProbeResult> {
    return sample(input, false);
  };
};

/**
 * One sample: `urgent` for the reference reading before the deploy, which is on the approval's path (its process
 * is not lowered with the other actions').
 */
const probeSampler = (deps: { dataDir: string; policy?: ResolvedPolicy }) =>
  async function sampleProbe(input: ProbeInput, urgent: boolean): Promise<ProbeResult> {
    assertSamePolicy(deps.policy, input.policyDigest);
    const ctx = Context.current();
    const workdir = workdirFor(deps.dataDir, input.workflowId);
    const at = new Date().toISOString();
    let sample: { ok: boolean; errorRate?: number; metrics?: Record<string, number> };
    let error: string | undefined;
    try {
      const outcome = await runAction({
        action: input.probe,
        idempotencyKey: input.key,
        signal: ctx.cancellationSignal,
        onTick: () => ctx.heartbeat(),
        urgent,
        placeholders: { release: input.release, workdir },
        ...(input.baseDir ? { baseDir: input.baseDir } : {}),
        ...guarded(deps, input, 'probe'),
      });
      const output = parseOutput(outcome, probeOutputSchema, 'probe');
      if (input.reference && !output.metrics) {
        throw new Error('probe: no "metrics" to hold against the reference taken before the deploy');
      }
      sample = {
        ok: true,
        ...(output.metrics ? { metrics: output.metrics } : {}),
        ...(output.errorRate !== undefined ? { errorRate: output.errorRate } : {}),
      };
    } catch (err) {
      // A refused probe is not a failed sample: the policy's answer is final.
      if (isPolicyRefusal(err)) throw toFailure(err);
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('probe cancelled');
      error = (err as Error).message;
      sample = { ok: false };
    }
    const consecutiveFailures = sample.ok ? 0 : input.consecutiveFailures + 1;
    const evaluation = evaluateTriggers(input.triggers, sample, input.reference, consecutiveFailures);
    if (evaluation.breach) log.warn('trigger breached', { ...evaluation.breach });
    if (evaluation.wouldBreach) log.warn('dry-run trigger breached (no rollback)', { ...evaluation.wouldBreach });
    return {
      ok: sample.ok,
      at,
      consecutiveFailures,
      ...(sample.metrics ? { metrics: sample.metrics } : {}),
      ...(sample.errorRate !== undefined ? { errorRate: sample.errorRate } : {}),
      ...(evaluation.maxDrift !== undefined && Number.isFinite(evaluation.maxDrift)
        ? { maxDrift: evaluation.maxDrift }
        : {}),
      ...(error ? { error } : {}),
      ...(evaluation.breach ? { breach: evaluation.breach } : {}),
      ...(evaluation.wouldBreach ? { wouldBreach: evaluation.wouldBreach } : {}),
    };
  };

export interface DeployProductionInput {
  /** The reference reading of V1, taken first. */
  reference: ProbeInput;
  deploy: StepInput;
}

export interface DeployProductionResult {
  reference: ProbeResult;
  deployed: StepResult;
}

/**
 * The production deploy: the reference reading of V1, then the deploy, in one activity (on production's queue
 * when the plan names one). The orchestrator cannot reach production, and a reading as an activity of its own
 * would put a round trip through the orchestrator between the last approval and the deploy (bench/README.md,
 * layouts); on one queue, a local activity in the approval's workflow task held up both the deploy and the
 * approver's answer under load (bench/README.md, lean under load).
 *
 * The reading must be V1's: a retry after a crash mid-deploy must not read again (it could read V2). So the
 * reading is recorded as the attempt's heartbeat details, and the server has acknowledged it before the deploy
 * starts; a later attempt takes it from there. An attempt that finds none knows that no deploy began.
 */
export const createDeployProduction = (deps: { dataDir: string; policy?: ResolvedPolicy }) => {
  const sampleProbe = probeSampler(deps);
  return async function deployProduction(input: DeployProductionInput): Promise<DeployProductionResult> {
    assertSamePolicy(deps.policy, input.deploy.policyDigest);
    const ctx = Context.current();
    let reference = (ctx.info.heartbeatDetails as { reference?: ProbeResult } | undefined)?.reference;
    if (!reference) {
      reference = await sampleProbe(input.reference, true);
      if (!reference.ok || !reference.metrics) {
        throw ApplicationFailure.create({
          type: FailureType.ActionFailed,
          nonRetryable: true,
          message: `the reference probe before deploy failed: ${reference.error ?? 'no metrics'}`,
          details: [{ deployStarted: false }],
        });
      }
      const details = { reference };
      // From here the SDK's own heartbeats carry the reading too (a throttled one must not overwrite it)…
      ctx.heartbeat(details);
      // …and the server holds it before anything is deployed.
      await recordHeartbeat(details);
    } else {
      log.info('reference reading taken by an earlier attempt', { at: reference.at, attempt: ctx.info.attempt });
    }
    const recorded = reference;
    const deploy = { ...input.deploy, environment: 'production' as const };
    const deployed = await runStepIn(deps, deploy, () => ctx.heartbeat({ reference: recorded }));
    return { reference: recorded, deployed };
  };
};

/** Records `details` as the running activity's heartbeat and waits for the server's answer. */
async function recordHeartbeat(details: unknown): Promise<void> {
  const ctx = Context.current();
  const { client } = ctx;
  await client.workflowService.recordActivityTaskHeartbeat({
    namespace: client.options.namespace,
    taskToken: ctx.info.taskToken,
    details: { payloads: (await encodeToPayloads(client.options.loadedDataConverter, details)) ?? [] },
    identity: client.options.identity,
  });
}
