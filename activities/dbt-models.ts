/**
 * A dbt project's shadow, model by model, where the models live: V1 and V2 built from the same sources (two DuckDB
 * files, or two schemas of one PostgreSQL database), each selected model diffed in place with the keyed diff the
 * outputs use (activities/diff.ts on DuckDB, activities/db-diff.ts pushed down into PostgreSQL), and what changed
 * said for the approvers: columns added, removed or retyped, a broken contract, the models and exposures
 * downstream, the rows and columns that differ. A model with no key in the manifest is compared unkeyed: as a
 * multiset of rows (EXCEPT ALL both ways) and by its numeric columns' sums, and says so.
 */
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { ClientBase } from 'pg';
import { downstreamOf, modelsOf, modifiedModels, readManifest, type DbtModel, type Manifest } from '../dbt/manifest';
import { FailureType } from '../plan/failures';
import { outputSpec, type ColumnTolerance, type CutoverPlan } from '../plan/schema';
import type { ModelReport } from '../shapes/evidence';
import { connectDatabase, diffInPostgres, planType } from './db-diff';
import { ActionError } from './errors';
import type { PipelineRun } from './pipeline';
import {
  DiffInputError,
  ident,
  literal,
  withDiffEngine,
  type Column,
  type DiffEngineOptions,
  type Session,
} from './diff-engine';
import { diffOutput } from './diff';

/** A model's tolerances, as an output's: per column, and the rows allowed to differ or be missing. */
export interface ModelTolerance {
  tolerances?: Record<string, ColumnTolerance>;
  ignore?: string[];
  maxDifferingRows?: number;
  maxMissingRows?: number;
}

export interface ModelDiffRequest {
  v1: Manifest;
  v2: Manifest;
  /** The changed models and everything downstream (dbt's `state:modified+`), or every model. @default 'modified' */
  select?: 'modified' | 'all';
  /** By model name. */
  tolerances?: Record<string, ModelTolerance>;
  /** Differing rows shown per model. @default 5 */
  sample?: number;
}

export interface ModelsShadow {
  models: ModelReport[];
  verdict: 'pass' | 'fail';
}

/** The models to diff, V2's, each with its V1 counterpart (by name) and why. */
export function selectModels(request: ModelDiffRequest) {
  const v1 = new Map([...modelsOf(request.v1).values()].map((m) => [m.name, m]));
  const v2 = modelsOf(request.v2);
  const { changed, downstream } = modifiedModels(request.v1, request.v2);
  const picked =
    request.select === 'all'
      ? [...v2.keys()].sort().map((id) => ({ id, reason: 'all' as const }))
      : [
          ...changed.map((id) => ({ id, reason: 'modified' as const })),
          ...downstream.map((id) => ({ id, reason: 'downstream' as const })),
        ];
  return picked.map(({ id, reason }) => {
    const model = v2.get(id) as DbtModel;
    return { model, before: v1.get(model.name), reason, lineage: downstreamOf(request.v2, [id]) };
  });
}

/** One model's columns on each side, compared: added, removed, retyped, and the contract V2 breaks. */
function columnChanges(model: DbtModel, v1: Column[], v2: Column[]): Pick<ModelReport, 'columns' | 'contractBroken'> {
  const before = new Map(v1.map((c) => [c.name, c.type]));
  const after = new Map(v2.map((c) => [c.name, c.type]));
  const added = v2.filter((c) => !before.has(c.name)).map((c) => c.name);
  const removed = v1.filter((c) => !after.has(c.name)).map((c) => c.name);
  const retyped = v2
    .filter((c) => before.has(c.name) && before.get(c.name) !== c.type)
    .map((c) => ({ column: c.name, v1: before.get(c.name) as string, v2: c.type }));
  const contractBroken = model.contract ? [...removed, ...retyped.map((r) => r.column)] : [];
  return { columns: { added, removed, retyped }, contractBroken };
}

function report(picked: ReturnType<typeof selectModels>[number], columns: Record<'v1' | 'v2', Column[]>): ModelReport {
  const { model, reason, lineage } = picked;
  const changes = columnChanges(model, columns.v1, columns.v2);
  const failures = [
    ...changes.columns.removed.map((c) => `column ${c} removed`),
    ...changes.columns.retyped.map((r) => `column ${r.column} retyped ${r.v1} → ${r.v2}`),
    ...(changes.contractBroken.length > 0 ? [`contract broken: ${changes.contractBroken.join(', ')}`] : []),
  ];
  return {
    model: model.name,
    reason,
    ...(model.key ? { key: model.key, keySource: model.keySource } : {}),
    unkeyed: model.key === undefined,
    ...changes,
    downstream: lineage,
    verdict: 'pass',
    failures,
  };
}

/** The report's verdict from its failures and its diff's, each diff failure named with the model and its columns. */
function judged(result: ModelReport): ModelReport {
  const diff = result.diff;
  if (diff) {
    const differing = diff.columns.filter((c) => c.differing > 0 || c.nullOneSide > 0).map((c) => c.column);
    for (const failure of diff.failures)
      result.failures.push(differing.length > 0 ? `${failure} (columns ${differing.join(', ')})` : failure);
  }
  result.verdict = result.failures.length > 0 ? 'fail' : 'pass';
  return result;
}

/** A keyed model's diff settings: its key, and the plan's tolerances for it. */
function specFor(model: DbtModel, key: string[], request: ModelDiffRequest) {
  const own = request.tolerances?.[model.name] ?? {};
  return outputSpec({
    key,
    format: 'csv',
    tolerances: own.tolerances ?? {},
    ignore: own.ignore ?? [],
    maxDifferingRows: own.maxDifferingRows ?? 0,
    maxMissingRows: own.maxMissingRows ?? 0,
    minRows: 0,
    sample: request.sample ?? 5,
  });
}

/**
 * Every selected model of two DuckDB builds (V1's file, V2's file) diffed in place: both files attached read-only
 * to one bounded engine, each model's table read where dbt built it. Each file is attached under its own database
 * name (its file name, as dbt names it in the manifest), because the views dbt builds name their sources by it;
 * the two files' names must therefore differ.
 */
export async function diffModelsInDuckdb(
  request: ModelDiffRequest & { v1File: string; v2File: string },
  engine: DiffEngineOptions,
): Promise<ModelsShadow> {
  return withDiffEngine(engine, async (session) => {
    const selected = selectModels(request);
    const names = { v1: databaseOf(request.v1), v2: databaseOf(request.v2) };
    if (names.v1 === names.v2)
      throw new DiffInputError(
        `V1's and V2's DuckDB files are both named ${names.v1}: build them into files of two names`,
      );
    await session.rows(`ATTACH ${literal(request.v1File)} AS ${ident(names.v1)} (READ_ONLY)`);
    await session.rows(`ATTACH ${literal(request.v2File)} AS ${ident(names.v2)} (READ_ONLY)`);
    const models: ModelReport[] = [];
    for (const picked of selected) {
      const before = picked.before ?? picked.model;
      const tables = {
        v1: `${ident(names.v1)}.${ident(before.schema)}.${ident(before.relation)}`,
        v2: `${ident(names.v2)}.${ident(picked.model.schema)}.${ident(picked.model.relation)}`,
      };
      const columns = {
        v1: picked.before ? await describe(session, tables.v1) : [],
        v2: await describe(session, tables.v2),
      };
      const result = report(picked, columns);
      if (!picked.before) {
        result.failures.push('new in V2: nothing to compare it with');
        models.push(judged(result));
        continue;
      }
      if (picked.model.key) {
        result.diff = await diffOutput(session, {
          output: picked.model.name,
          dataset: 'dbt',
          spec: specFor(picked.model, picked.model.key, request),
          v1File: `${request.v1File}:${before.schema}.${before.relation}`,
          v2File: `${request.v2File}:${picked.model.schema}.${picked.model.relation}`,
          tables,
        });
      } else {
        result.unkeyedRows = await unkeyed(async (sql) => (await session.rows(sql))[0], tables, columns);
        const failure = unkeyedFailure(result.unkeyedRows);
        if (failure) result.failures.push(failure);
      }
      models.push(judged(result));
    }
    return { models, verdict: models.some((m) => m.verdict === 'fail') ? 'fail' : 'pass' };
  });
}

/** The database a build's models are in (a DuckDB file's name without its extension). */
function databaseOf(manifest: Manifest): string {
  const first = [...modelsOf(manifest).values()][0];
  if (!first?.database) throw new DiffInputError('the manifest has no model with a database: nothing to diff');
  return first.database;
}

async function describe(session: Session, table: string): Promise<Column[]> {
  const rows = await session.rows(`DESCRIBE SELECT * FROM ${table}`);
  return rows.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
}

/**
 * An unkeyed model compared as a multiset of rows over the common columns (EXCEPT ALL both ways) and by each
 * numeric column's sum: one query that DuckDB and PostgreSQL both answer, run by `query`.
 */
async function unkeyed(
  query: (sql: string) => Promise<Record<string, unknown> | undefined>,
  tables: Record<'v1' | 'v2', string>,
  columns: Record<'v1' | 'v2', Column[]>,
): Promise<NonNullable<ModelReport['unkeyedRows']>> {
  const common = columns.v1.filter((c) => columns.v2.some((d) => d.name === c.name));
  const list = common.map((c) => ident(c.name)).join(', ');
  const numeric = common.filter((c) => /INT|DECIMAL|DOUBLE|FLOAT|REAL/.test(c.type));
  const sums = numeric.map(
    (c, i) =>
      `(SELECT sum(${ident(c.name)}) FROM ${tables.v1}) IS DISTINCT FROM (SELECT sum(${ident(c.name)}) FROM ${tables.v2}) AS s${i}`,
  );
  const row = await query(
    `SELECT (SELECT count(*) FROM ${tables.v1}) AS v1, (SELECT count(*) FROM ${tables.v2}) AS v2,
            (SELECT count(*) FROM (SELECT ${list} FROM ${tables.v1} EXCEPT ALL SELECT ${list} FROM ${tables.v2}) a) AS only_v1,
            (SELECT count(*) FROM (SELECT ${list} FROM ${tables.v2} EXCEPT ALL SELECT ${list} FROM ${tables.v1}) b) AS only_v2
            ${sums.length > 0 ? `, ${sums.join(', ')}` : ''}`,
  );
  return {
    v1: Number(row?.v1),
    v2: Number(row?.v2),
    onlyV1: Number(row?.only_v1),
    onlyV2: Number(row?.only_v2),
    sumsDiffer: numeric.filter((_, i) => row?.[`s${i}`] === true).map((c) => c.name),
  };
}

/** An unkeyed model's failure: the rows only one side has, and the sums that differ. */
function unkeyedFailure(rows: NonNullable<ModelReport['unkeyedRows']>): string | undefined {
  if (rows.onlyV1 + rows.onlyV2 === 0) return undefined;
  const sums = rows.sumsDiffer.length > 0 ? ` (sums differ: ${rows.sumsDiffer.join(', ')})` : '';
  return `unkeyed: ${rows.onlyV1} row(s) only in V1, ${rows.onlyV2} only in V2${sums}`;
}

/**
 * Every selected model of two builds in one PostgreSQL database (V1's schema, V2's schema) diffed pushed down,
 * `connections` models at a time, each on a connection of its own from `connect` (read only: diffInPostgres runs
 * in a READ ONLY transaction), the reports in the selection's order.
 */
export async function diffModelsInPostgres(
  connect: () => Promise<ClientBase & { end(): Promise<void> }>,
  request: ModelDiffRequest & { connections?: number },
): Promise<ModelsShadow> {
  const selected = selectModels(request);
  const models: ModelReport[] = new Array<ModelReport>(selected.length);
  let next = 0;
  const worker = async () => {
    const client = await connect();
    try {
      for (let i = next++; i < selected.length; i = next++)
        models[i] = await diffModelInPostgres(client, request, selected[i] as ReturnType<typeof selectModels>[number]);
    } finally {
      await client.end();
    }
  };
  const connections = Math.max(1, Math.min(request.connections ?? 2, selected.length));
  await Promise.all(Array.from({ length: connections }, worker));
  return { models, verdict: models.some((m) => m.verdict === 'fail') ? 'fail' : 'pass' };
}

async function diffModelInPostgres(
  client: ClientBase,
  request: ModelDiffRequest,
  picked: ReturnType<typeof selectModels>[number],
): Promise<ModelReport> {
  const before = picked.before ?? picked.model;
  const columns = {
    v1: picked.before ? await pgColumns(client, before.schema, before.relation) : [],
    v2: await pgColumns(client, picked.model.schema, picked.model.relation),
  };
  const result = report(picked, columns);
  if (!picked.before) {
    result.failures.push('new in V2: nothing to compare it with');
    return judged(result);
  }
  if (!picked.model.key) {
    const qualified = (schema: string, table: string) => `${ident(schema)}.${ident(table)}`;
    result.unkeyedRows = await unkeyed(
      async (sql) => (await client.query<Record<string, unknown>>(sql)).rows[0],
      { v1: qualified(before.schema, before.relation), v2: qualified(picked.model.schema, picked.model.relation) },
      columns,
    );
    const failure = unkeyedFailure(result.unkeyedRows);
    if (failure) result.failures.push(failure);
    return judged(result);
  }
  result.diff = await diffInPostgres(client, {
    output: picked.model.name,
    dataset: 'dbt',
    spec: specFor(picked.model, picked.model.key, request),
    v1: { schema: before.schema, table: before.relation },
    v2: { schema: picked.model.schema, table: picked.model.relation },
  });
  return judged(result);
}

async function pgColumns(client: ClientBase, schema: string, table: string): Promise<Column[]> {
  const { rows } = await client.query<{ column_name: string; data_type: string }>(
    'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
    [schema, table],
  );
  return rows.map((r) => ({ name: r.column_name, type: planType(r.data_type) }));
}

/**
 * A dbt plan's models after its two builds (plan `dbt`): each build's manifest, as it printed it, read from the
 * cutover's work folder (nowhere else), and the selected models diffed in the warehouse the plan names, pushed
 * down. Every failing model's failures come back as `model NAME: …`, for the phase's own failures.
 */
export async function dbtModels(
  plan: CutoverPlan,
  runs: Record<'v1' | 'v2', Pick<PipelineRun, 'manifest'>>,
  where: { workdir: string; databases: Record<string, string> },
): Promise<{ models: ModelReport[]; failures: string[] }> {
  const dbt = plan.dbt;
  if (!dbt) return { models: [], failures: [] };
  const manifests = {
    v1: await manifestOf(runs.v1.manifest, 'baseline', where.workdir),
    v2: await manifestOf(runs.v2.manifest, 'candidate', where.workdir),
  };
  let shadow: ModelsShadow;
  try {
    shadow = await diffModelsInPostgres(() => connectDatabase(where.databases, dbt.database, 'dbt models'), {
      ...manifests,
      select: dbt.select,
      tolerances: dbt.tolerances,
      connections: dbt.connections,
    });
  } catch (err) {
    // A model's key with duplicates or NULLs, a database the workers do not know: bad input, named.
    if (err instanceof DiffInputError) throw new ActionError(err.message, FailureType.InvalidOutput, false);
    throw err;
  }
  const failures = shadow.models.flatMap((m) => m.failures.map((f) => `model ${m.model}: ${f}`));
  return { models: shadow.models, failures };
}

/** One build's manifest, where its pipeline said it left it: inside the cutover's work folder, a dbt manifest. */
async function manifestOf(file: string | undefined, side: string, workdir: string): Promise<Manifest> {
  const invalid = (why: string) =>
    new ActionError(`dbt models: the ${side} ${why}`, FailureType.InvalidOutput, false, { ...(file ? { file } : {}) });
  if (file === undefined)
    throw invalid('printed no "manifest": build it with `cutover dbt build --artifacts {workdir}/…`');
  // Where the file really is (a link in the work folder may point anywhere): inside the work folder, or refused.
  let resolved: string;
  try {
    resolved = await realpath(path.resolve(workdir, file));
  } catch {
    throw invalid(`printed a manifest that is not there (${file})`);
  }
  if (!resolved.startsWith(`${await realpath(workdir)}${path.sep}`))
    throw invalid(`printed a manifest outside the cutover's work folder (${file})`);
  const text = await readFile(resolved, 'utf8');
  try {
    return readManifest(JSON.parse(text), resolved);
  } catch (err) {
    throw invalid(`printed a manifest that is not dbt's: ${(err as Error).message.split('\n')[0]}`);
  }
}
