/**
 * Rollback rehearsal: the rollback run against staging and timed against its target, staging checked
 * healthy afterwards, V2 redeployed to staging, and every production trigger shown to fire.
 */
import { log } from '@temporalio/activity';
import { toMs } from '../plan/duration';
import { FailureType } from '../plan/failures';
import { toFailure, verdictFailure } from './errors';
import { guarded, isPolicyRefusal, openPhase, type GuardDeps } from './policy-guard';
import { runAction } from './runner';
import { timeFailure } from '../verdicts/thresholds';
import { rehearseTriggers } from '../verdicts/triggers';
import type { PhaseInput } from '../shapes/evidence';
import type { RehearsalResult } from '../shapes/phases';

export type RehearsalDeps = GuardDeps;

export const createRehearseRollback = (deps: RehearsalDeps) =>
  async function rehearseRollback(input: PhaseInput): Promise<RehearsalResult> {
    const { ctx, plan, workdir } = openPhase(deps, input, 'staging');
    const { target: _target, ...rollback } = plan.rollback;
    const targetMs = toMs(plan.rollback.target);
    const common = {
      signal: ctx.cancellationSignal,
      onTick: () => ctx.heartbeat(),
      placeholders: { release: plan.release, workdir },
      ...(plan.baseDir ? { baseDir: plan.baseDir } : {}),
      ...guarded(deps, input, 'staging'),
    };
    const failures: string[] = [];
    try {
      const outcome = await runAction({ ...common, action: rollback, idempotencyKey: `${input.key}/rollback` });
      const durationMs = Math.round(outcome.durationMs);
      const late = timeFailure('rollback', durationMs, targetMs);
      if (late) failures.push(late);

      let healthy = true;
      for (const [i, check] of plan.staging.healthChecks.entries()) {
        try {
          await runAction({ ...common, action: check, idempotencyKey: `${input.key}/health-${i}` });
        } catch (err) {
          if (isPolicyRefusal(err)) throw err;
          healthy = false;
          failures.push(`after rollback, health check ${check.name ?? i + 1} failed: ${(err as Error).message}`);
        }
      }

      // Put V2 back on staging, so staging matches what is signed off.
      for (const [i, step] of plan.staging.deploy.entries()) {
        await runAction({ ...common, action: step, idempotencyKey: `${input.key}/redeploy-${i}` });
      }

      const reference = Object.fromEntries((plan.shadow.metrics ?? ['metric']).map((m) => [m, 1]));
      const triggers = rehearseTriggers(plan.production.monitor.triggers, reference);
      for (const t of triggers.filter((t) => !t.fired))
        failures.push(`trigger ${t.trigger} did not fire on a breaching sample`);

      const result: RehearsalResult = {
        verdict: failures.length === 0 ? 'pass' : 'fail',
        durationMs,
        targetMs,
        healthy,
        redeployed: true,
        triggers,
        failures,
        attempt: ctx.info.attempt,
      };
      log.info('rollback rehearsed', { durationMs, targetMs, healthy });
      if (failures.length > 0)
        throw verdictFailure(FailureType.ThresholdFailed, `rollback rehearsal failed: ${failures.join('; ')}`, result);
      return result;
    } catch (err) {
      throw toFailure(err);
    }
  };
