/**
 * Running a pipeline (baseline or candidate) on a dataset and reading its metrics with zod.
 */
import { z } from 'zod';
import { FailureType } from '../plan/failures';
import type { CutoverPlan, RunAction } from '../plan/schema';
import { ActionError } from './errors';
import type { ActionGuard } from './policy-guard';
import { runAction, type RunOutcome } from './runner';
import type { Metrics } from './types';

/** What a pipeline prints: `{"metrics": {...}, "rows": N}`; other keys are ignored. */
export const pipelineOutputSchema = z.looseObject({
  metrics: z.record(z.string(), z.number({ error: 'expected a finite number' })),
  rows: z.int().min(0).optional(),
});

/** What a production probe prints: metrics, an error rate, or both. A probe that reports nothing is not healthy. */
export const probeOutputSchema = z
  .looseObject({
    metrics: z.record(z.string(), z.number({ error: 'expected a finite number' })).optional(),
    errorRate: z.number().min(0).max(1).optional(),
    rows: z.int().min(0).optional(),
  })
  .refine((o) => o.metrics !== undefined || o.errorRate !== undefined, {
    error: 'expected "metrics" or "errorRate"',
  });

export interface PipelineRun {
  metrics: Metrics;
  rows?: number;
  durationMs: number;
}

/** Parses JSON output with `schema`; any problem is a non-retryable InvalidOutput naming what is wrong. */
export function parseOutput<T>(outcome: RunOutcome, schema: z.ZodType<T>, label: string): T {
  if (outcome.stdoutCut > 0) {
    throw new ActionError(
      `${label}: output too large (${outcome.stdoutCut + outcome.stdout.length} bytes), expected one JSON object`,
      FailureType.InvalidOutput,
      false,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(outcome.stdout);
  } catch {
    const start = outcome.stdout.trim().slice(0, 80);
    throw new ActionError(
      `${label}: output is not JSON${start ? ` (starts with ${JSON.stringify(start)})` : ' (empty)'}`,
      FailureType.InvalidOutput,
      false,
    );
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
    throw new ActionError(
      `${label}: unexpected output at ${where}: ${issue?.message ?? 'invalid'}`,
      FailureType.InvalidOutput,
      false,
    );
  }
  return parsed.data;
}

/** Where and how a phase runs its pipelines. */
export interface PipelineContext {
  release: string;
  workdir: string;
  baseDir?: string;
  signal?: AbortSignal;
  onTick?: () => void;
  guard?: ActionGuard;
}

/** The pipeline context of a phase activity: its plan, working folder and the activity's signal. */
export function pipelineContext(
  plan: CutoverPlan,
  workdir: string,
  signal: AbortSignal,
  onTick: () => void,
  guard?: ActionGuard,
): PipelineContext {
  return {
    release: plan.release,
    workdir,
    signal,
    onTick,
    ...(plan.baseDir ? { baseDir: plan.baseDir } : {}),
    ...(guard ? { guard } : {}),
  };
}

/** Baseline and candidate at the same time on the same file, as they would run in production. */
export function runSideBySide(
  plan: CutoverPlan,
  dataset: string,
  context: PipelineContext,
  keyPrefix: string,
): Promise<[PipelineRun, PipelineRun]> {
  return Promise.all([
    runPipeline('baseline (V1)', plan.baseline, dataset, { ...context, key: `${keyPrefix}/v1` }),
    runPipeline('candidate (V2)', plan.candidate, dataset, { ...context, key: `${keyPrefix}/v2` }),
  ]);
}

export async function runPipeline(
  label: string,
  action: RunAction,
  dataset: string,
  options: {
    key: string;
    baseDir?: string;
    release: string;
    workdir: string;
    signal?: AbortSignal;
    onTick?: () => void;
    onSpawn?: (pid: number) => void;
    guard?: ActionGuard;
  },
): Promise<PipelineRun> {
  const outcome = await runAction({
    action,
    idempotencyKey: options.key,
    placeholders: { dataset, release: options.release, workdir: options.workdir },
    ...(options.baseDir ? { baseDir: options.baseDir } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onTick ? { onTick: options.onTick } : {}),
    ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
    ...(options.guard ? { guard: options.guard } : {}),
  });
  const output = parseOutput(outcome, pipelineOutputSchema, label);
  return {
    metrics: output.metrics,
    durationMs: outcome.durationMs,
    ...(output.rows !== undefined ? { rows: output.rows } : {}),
  };
}
