/**
 * Steps (deploy, tests, undo, escalation, decommission) and health checks.
 */
import { Context, log } from '@temporalio/activity';
import { FailureType } from '../plan/failures';
import type { Action } from '../plan/schema';
import { toFailure, verdictFailure } from './errors';
import { guarded, isPolicyRefusal, assertSamePolicy, type GuardDeps } from './policy-guard';
import { runAction, tailLines } from './runner';
import { workdirFor } from './datasets';
import type { HealthInput, HealthResult, StepCheck, StepInput, StepResult } from '../shapes/evidence';
import { z } from 'zod';

export type StepDeps = GuardDeps;

/** Runs one action of the plan; heartbeats while it runs; cancellation kills its process group. */
export const createRunStep = (deps: StepDeps) =>
  async function runStep(input: StepInput): Promise<StepResult> {
    assertSamePolicy(deps.policy, input.policyDigest);
    return runStepIn(deps, input, () => Context.current().heartbeat());
  };

/** The body of runStep, inside an activity; `heartbeat` sends the activity's heartbeat (with its details). */
export async function runStepIn(deps: StepDeps, input: StepInput, heartbeat: () => void): Promise<StepResult> {
  const ctx = Context.current();
  const workdir = workdirFor(deps.dataDir, input.workflowId);
  log.info('step started', { step: input.label, idempotencyKey: input.key });
  try {
    const outcome = await runAction({
      action: input.action,
      idempotencyKey: input.key,
      placeholders: { release: input.release, workdir, ...(input.placeholders ?? {}) },
      signal: ctx.cancellationSignal,
      onTick: heartbeat,
      // Deploys and undos are what an approval or a rollback waits for.
      urgent: true,
      ...(input.baseDir ? { baseDir: input.baseDir } : {}),
      ...guarded(deps, input, input.environment),
    });
    const result: StepResult = {
      label: input.label,
      kind: outcome.kind,
      durationMs: Math.round(outcome.durationMs),
      outputTail: tailLines(outcome.stdout, 5),
      attempt: ctx.info.attempt,
    };
    const checks = reportedChecks(outcome.stdout);
    if (checks) result.checks = checks;
    if (outcome.exitCode !== undefined) result.exitCode = outcome.exitCode;
    if (outcome.status !== undefined) result.status = outcome.status;
    log.info('step finished', { step: input.label, durationMs: result.durationMs });
    return result;
  } catch (err) {
    throw toFailure(err);
  }
}

/** What a step may report on its last line of output: `{"checks": [{"id": …, "ok": …}, …]}`, other keys ignored. */
const reportedChecksSchema = z.looseObject({
  checks: z
    .array(
      z.strictObject({
        id: z.string().min(1).max(300),
        ok: z.boolean(),
        status: z.string().max(40).optional(),
        message: z.string().max(2000).optional(),
      }),
    )
    .max(10_000),
});

/**
 * The checks a step reported on its last line of output (a dbt build's tests), at most 1,000 kept with every failed
 * one first; none where that line is not such JSON (most steps print what they like).
 */
export function reportedChecks(stdout: string): StepCheck[] | undefined {
  const last = stdout.trimEnd().split('\n').at(-1) ?? '';
  if (!last.startsWith('{')) return undefined;
  let parsed;
  try {
    parsed = reportedChecksSchema.safeParse(JSON.parse(last));
  } catch {
    return undefined;
  }
  if (!parsed.success) return undefined;
  const checks = parsed.data.checks.map((c) => ({ ...c, ...(c.message ? { message: c.message.slice(0, 300) } : {}) }));
  return [...checks.filter((c) => !c.ok), ...checks.filter((c) => c.ok)].slice(0, 1000);
}

/** Polls every check with backoff until all are healthy or `timeoutMs` passes. */
export const createCheckHealth = (deps: StepDeps) =>
  async function checkHealth(input: HealthInput): Promise<HealthResult> {
    assertSamePolicy(deps.policy, input.policyDigest);
    const ctx = Context.current();
    const workdir = workdirFor(deps.dataDir, input.workflowId);
    const started = Date.now();
    const deadline = started + input.timeoutMs;
    const checks = input.checks.map((action, i) => ({
      action,
      label: labelOf(action, i),
      ok: false,
      polls: 0,
      lastError: undefined as string | undefined,
    }));
    let delay = 250;
    for (;;) {
      for (const check of checks.filter((c) => !c.ok)) {
        check.polls++;
        try {
          await runAction({
            action: check.action,
            idempotencyKey: `${input.key}/${check.label}`,
            signal: ctx.cancellationSignal,
            placeholders: { release: input.release, workdir },
            ...(input.baseDir ? { baseDir: input.baseDir } : {}),
            ...guarded(deps, input, 'staging'),
          });
          check.ok = true;
          check.lastError = undefined;
        } catch (err) {
          if (ctx.cancellationSignal.aborted) throw err;
          if (isPolicyRefusal(err)) throw toFailure(err);
          check.lastError = err instanceof Error ? err.message : String(err);
        }
      }
      ctx.heartbeat({ healthy: checks.filter((c) => c.ok).length, of: checks.length });
      const result: HealthResult = {
        healthy: checks.every((c) => c.ok),
        durationMs: Date.now() - started,
        checks: checks.map(({ label, ok, polls, lastError }) => ({
          label,
          ok,
          polls,
          ...(lastError ? { lastError } : {}),
        })),
        attempt: ctx.info.attempt,
      };
      if (result.healthy) return result;
      if (Date.now() + delay > deadline) {
        const failing = result.checks.filter((c) => !c.ok).map((c) => `${c.label} (${c.lastError ?? 'no answer'})`);
        throw verdictFailure(
          FailureType.Unhealthy,
          `not healthy after ${input.timeoutMs} ms: ${failing.join('; ')}`,
          result,
        );
      }
      await ctx.sleep(delay);
      delay = Math.min(delay * 1.5, 5000);
    }
  };

function labelOf(action: Action, index: number): string {
  if (action.name) return action.name;
  return 'http' in action ? action.http : `check-${index + 1}`;
}
