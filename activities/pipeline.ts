/**
 * Running a pipeline (baseline or candidate) on a dataset and reading its metrics with zod.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { outputsNamed } from '../plan/placeholders';
import { FailureType } from '../plan/failures';
import type { CutoverPlan, OutputFormat, RunAction } from '../plan/schema';
import { ActionError } from './errors';
import type { PeakMemory } from './memory';
import { runAction, type ActionGuard, type RunOutcome } from './runner';
import type { Metrics } from '../shapes/evidence';

/**
 * What a pipeline prints: `{"metrics": {...}, "rows": N}`; a dbt build (`cutover dbt build --artifacts DIR`) also
 * where it left its manifest (`"manifest": FILE`). Other keys are ignored.
 */
export const pipelineOutputSchema = z.looseObject({
  metrics: z.record(z.string(), z.number({ error: 'expected a finite number' })),
  rows: z.int().min(0).optional(),
  manifest: z.string().min(1).max(4096).optional(),
  timings: z.record(z.string().max(200), z.number().min(0)).optional(),
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
  /** A dbt build's manifest.json, as it printed it. */
  manifest?: string;
  /** A dbt build's time per model, in seconds, as it printed it (`"timings"`). */
  timings?: Record<string, number>;
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
  /** The declared outputs' formats: a scratch output keeps its extension (`loans.parquet`). */
  outputFormats?: Record<string, OutputFormat>;
}

/** The declared outputs' formats, by name. */
export function outputFormats(plan: CutoverPlan): Record<string, OutputFormat> {
  return Object.fromEntries(Object.entries(plan.shadow.outputs).map(([name, spec]) => [name, spec.format]));
}

/** The pipeline context of a phase activity: its plan, working folder and the activity's signal. */
export function pipelineContext(
  plan: CutoverPlan,
  { workdir, signal, onTick, guard }: { workdir: string; signal: AbortSignal; onTick: () => void; guard?: ActionGuard },
): PipelineContext {
  return {
    release: plan.release,
    workdir,
    signal,
    onTick,
    outputFormats: outputFormats(plan),
    ...(plan.baseDir ? { baseDir: plan.baseDir } : {}),
    ...(guard ? { guard } : {}),
  };
}

/**
 * Baseline and candidate at the same time on the same file, as they would run in production, each under
 * `<key>/v1`, `<key>/v2`. With `outputs`, each writes its output tables where `outputs.v1` / `outputs.v2` say;
 * without, to scratch paths.
 */
export function runSideBySide(
  plan: CutoverPlan,
  dataset: string,
  {
    context,
    key: keyPrefix,
    outputs,
  }: { context: PipelineContext; key: string; outputs?: Record<'v1' | 'v2', Record<string, string>> },
): Promise<[PipelineRun, PipelineRun]> {
  return Promise.all([
    runPipeline('baseline (V1)', plan.baseline, dataset, {
      ...context,
      key: `${keyPrefix}/v1`,
      ...(outputs ? { outputs: outputs.v1 } : {}),
    }),
    runPipeline('candidate (V2)', plan.candidate, dataset, {
      ...context,
      key: `${keyPrefix}/v2`,
      ...(outputs ? { outputs: outputs.v2 } : {}),
    }),
  ]);
}

/** Where each declared output of `format` goes in `dir`: `<dir>/<name>.<csv|parquet|jsonl>`. */
export function outputPaths(plan: CutoverPlan, dir: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(plan.shadow.outputs).map(([name, spec]) => [name, path.join(dir, `${name}.${spec.format}`)]),
  );
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
    memory?: PeakMemory;
    guard?: ActionGuard;
    /** Paths for `{output:NAME}`. Without them, outputs go to a scratch folder removed after the run. */
    outputs?: Record<string, string>;
    outputFormats?: Record<string, OutputFormat>;
  },
): Promise<PipelineRun> {
  const named = outputsNamed([...action.run, ...Object.values(action.env ?? {})]);
  let scratch: string | undefined;
  let outputs = options.outputs;
  if (outputs) {
    // A retried step writes afresh: nothing of an earlier attempt may pass for this run's output.
    await Promise.all(Object.values(outputs).map((file) => rm(file, { force: true })));
    await Promise.all(Object.values(outputs).map((file) => mkdir(path.dirname(file), { recursive: true })));
  } else if (named.length > 0) {
    // Outside shadow (stress, reconciliation) the pipeline still writes its tables, so it does the same work.
    scratch = await mkdtemp(path.join(options.workdir, 'scratch-'));
    outputs = Object.fromEntries(
      named.map((name) => [name, path.join(scratch as string, `${name}.${options.outputFormats?.[name] ?? 'csv'}`)]),
    );
  }
  try {
    return await runOnce(label, action, dataset, { ...options, ...(outputs ? { outputs } : {}) });
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

/** One run of a pipeline, its outputs where `options.outputs` says. */
async function runOnce(
  label: string,
  action: RunAction,
  dataset: string,
  options: Parameters<typeof runPipeline>[3],
): Promise<PipelineRun> {
  const { outputs } = options;
  const outcome = await runAction({
    action,
    idempotencyKey: options.key,
    placeholders: {
      dataset,
      release: options.release,
      workdir: options.workdir,
      ...(outputs ? { outputs } : {}),
    },
    ...(options.baseDir ? { baseDir: options.baseDir } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onTick ? { onTick: options.onTick } : {}),
    ...(options.memory ? { memory: options.memory } : {}),
    ...(options.guard ? { guard: options.guard } : {}),
  });
  const output = parseOutput(outcome, pipelineOutputSchema, label);
  return {
    metrics: output.metrics,
    durationMs: outcome.durationMs,
    ...(output.rows !== undefined ? { rows: output.rows } : {}),
    ...(output.manifest !== undefined ? { manifest: output.manifest } : {}),
    ...(output.timings !== undefined ? { timings: output.timings } : {}),
  };
}
