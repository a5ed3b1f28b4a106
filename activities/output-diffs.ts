/**
 * The output diffs of one dataset, wherever the outputs live: files in one bounded DuckDB engine, both tables in
 * one database pushed down there (./db-diff.ts), a table and a file or two databases checksummed across
 * (./cross-diff.ts). Shared by shadow (every output) and reconciliation (the outputs in databases).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from 'pg';
import { FailureType } from '../plan/failures';
import type { CutoverPlan, OutputSpec } from '../plan/schema';
import type { OutputDiff } from '../shapes/evidence';
import { crossDiff } from './cross-diff';
import type { CrossSide } from './cross-sides';
import { connectDatabase, diffInDatabase, tableRef } from './db-diff';
import { diffOutput } from './diff';
import { DiffInputError, withDiffEngine, type DiffEngineOptions, type Session } from './diff-engine';
import { ActionError } from './errors';
import type { GuardDeps } from './policy-guard';

/** What the activities that diff outputs need beside their guard: the diff engine's bounds and the databases. */
export interface DiffDeps extends GuardDeps {
  diff?: { memoryLimit?: string; threads?: number };
  /** The databases output tables may live in (CUTOVER_DATABASE_<NAME>). */
  databases?: Record<string, string>;
}

/** What one dataset's runs wrote: the dataset's name, and each version's output files by output name. */
export interface WrittenOutputs {
  dataset: string;
  files: { v1: Record<string, string>; v2: Record<string, string> };
}

/**
 * One dataset's outputs diffed for a phase (shadow, a reconciliation day) by the worker's bounds, spilling into
 * `dir`, each failure added to the phase's `failures` (to `wouldFail` for a dry-run output) as `<prefix>output
 * NAME: …`.
 */
export async function diffAndJudge(
  plan: CutoverPlan,
  written: WrittenOutputs,
  run: { deps: DiffDeps; dir: string; signal: AbortSignal; onTick: () => void },
  judged: { failures: string[]; wouldFail: string[]; prefix?: string },
): Promise<OutputDiff[]> {
  const engine = {
    ...run.deps.diff,
    tempDirectory: path.join(run.dir, 'duckdb-spill'),
    signal: run.signal,
    onTick: run.onTick,
  };
  const outputs = await diffOutputs(plan, written, engine, run.deps.databases ?? {});
  for (const diff of outputs) {
    for (const failure of diff.failures)
      (diff.dryRun ? judged.wouldFail : judged.failures).push(
        `${judged.prefix ?? ''}output ${diff.output}: ${failure}`,
      );
  }
  return outputs;
}

/**
 * Diffs every declared output of one dataset: files in one bounded DuckDB engine, tables in their database
 * (pushed down: activities/db-diff.ts). Bad input (a missing file or table, another format, a missing key
 * column, an empty output, a database the workers do not know) is a final InvalidOutput naming the output,
 * dataset and where; an unreachable database is transient.
 */
export async function diffOutputs(
  plan: CutoverPlan,
  { dataset, files }: WrittenOutputs,
  engine: DiffEngineOptions,
  databases: Record<string, string>,
): Promise<OutputDiff[]> {
  const outputs = Object.entries(plan.shadow.outputs);
  if (outputs.length === 0) return [];
  try {
    const inOneDatabase = (spec: OutputSpec) =>
      spec.v1 !== undefined && spec.v2 !== undefined && spec.v1.database === spec.v2.database;
    const diffs = new Map<string, OutputDiff>();
    const elsewhere = outputs.filter(([, spec]) => !inOneDatabase(spec));
    if (elsewhere.length > 0) {
      await withDiffEngine(engine, async (session) => {
        for (const [output, spec] of elsewhere) {
          diffs.set(
            output,
            spec.v1 === undefined && spec.v2 === undefined
              ? await diffOutput(session, {
                  output,
                  dataset,
                  spec,
                  v1File: files.v1[output] as string,
                  v2File: files.v2[output] as string,
                })
              : await diffAcross(session, databases, { output, dataset, spec, files, workDir: engine.tempDirectory }),
          );
        }
      });
    }
    for (const [output, spec] of outputs) {
      if (!inOneDatabase(spec) || !spec.v1 || !spec.v2) continue;
      const request = { output, dataset, spec, v1: tableRef(spec.v1.table), v2: tableRef(spec.v2.table) };
      diffs.set(
        output,
        await diffInDatabase(databases, spec.v1.database, request, {
          ...(engine.signal ? { signal: engine.signal } : {}),
          ...(engine.onTick ? { onTick: engine.onTick } : {}),
        }),
      );
    }
    return outputs.map(([output]) => diffs.get(output) as OutputDiff);
  } catch (err) {
    if (err instanceof DiffInputError) throw new ActionError(err.message, FailureType.InvalidOutput, false);
    throw err;
  }
}

/**
 * One output across two places (a database and a file, or two databases): each database side in a read-only
 * snapshot of its own, the file side where it lies (activities/cross-diff.ts).
 */
async function diffAcross(
  session: Session,
  databases: Record<string, string>,
  request: {
    output: string;
    dataset: string;
    spec: OutputSpec;
    files: { v1: Record<string, string>; v2: Record<string, string> };
    workDir: string;
  },
): Promise<OutputDiff> {
  const { output, spec } = request;
  const clients: Client[] = [];
  try {
    const sideOf = async (side: 'v1' | 'v2'): Promise<CrossSide> => {
      const ref = spec[side];
      if (!ref) return { kind: 'file', file: request.files[side][output] as string, format: spec.format };
      const client = await connectDatabase(databases, ref.database, output);
      clients.push(client);
      await client.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      return { kind: 'postgres', database: ref.database, client, table: tableRef(ref.table) };
    };
    await mkdir(request.workDir, { recursive: true });
    return await crossDiff(session, {
      output,
      dataset: request.dataset,
      spec,
      v1: await sideOf('v1'),
      v2: await sideOf('v2'),
      workDir: request.workDir,
    });
  } finally {
    for (const client of clients) await client.end().catch(() => undefined);
  }
}
