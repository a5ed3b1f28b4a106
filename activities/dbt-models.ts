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
import {
  clockOf,
  downstreamOf,
  modelsOf,
  modifiedModels,
  readManifest,
  type DbtModel,
  type Manifest,
} from '../dbt/manifest';
import { duckdbFileOf, withFileLock } from '../dbt/duckdb-warehouse';
import { FailureType } from '../plan/failures';
import { outputSpec, type ColumnTolerance, type CutoverPlan } from '../plan/schema';
import type { ModelNoise, ModelReport, OutputDiff } from '../shapes/evidence';
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
  /** V1 built a second time on the same data (an A/A build): what V1 differs from itself in is each model's noise. */
  aa?: Manifest;
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

/** The models to diff, V2's, each with its V1 counterpart (by name), V1's second build's, why, and its clock. */
export function selectModels(request: ModelDiffRequest) {
  const byName = (manifest: Manifest | undefined) =>
    new Map([...(manifest ? modelsOf(manifest).values() : [])].map((m) => [m.name, m]));
  const v1 = byName(request.v1);
  const aa = byName(request.aa);
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
    return {
      model,
      before: v1.get(model.name),
      again: aa.get(model.name),
      reason,
      lineage: downstreamOf(request.v2, [id]),
      clock: clockOf(v2, id),
    };
  });
}

type Picked = ReturnType<typeof selectModels>[number];

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

function report(picked: Picked, columns: Record<'v1' | 'v2', Column[]>): ModelReport {
  const { model, reason, lineage, clock } = picked;
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
    ...(clock.length > 0 ? { clock } : {}),
    verdict: 'pass',
    failures,
  };
}

/** The report's verdict from its failures and its diff's, each diff failure named with the model and its columns. */
function judged(result: ModelReport): ModelReport {
  const diff = result.diff;
  if (diff) {
    const noisy = new Set(result.noise?.columns.map((c) => c.column));
    const differing = diff.columns
      .filter((c) => (c.differing > 0 || c.nullOneSide > 0) && !noisy.has(c.column))
      .map((c) => c.column);
    for (const failure of diff.failures)
      result.failures.push(differing.length > 0 ? `${failure} (columns ${differing.join(', ')})` : failure);
  }
  result.verdict = result.failures.length > 0 ? 'fail' : 'pass';
  return result;
}

/** A keyed model's diff settings: its key, and the plan's tolerances for it; `noisy` columns left out. */
function specFor(model: DbtModel, key: string[], request: ModelDiffRequest, noisy: string[] = []) {
  const own = request.tolerances?.[model.name] ?? {};
  return outputSpec({
    key,
    format: 'csv',
    tolerances: own.tolerances ?? {},
    ignore: [...(own.ignore ?? []), ...noisy.filter((c) => !(own.ignore ?? []).includes(c))],
    maxDifferingRows: own.maxDifferingRows ?? 0,
    maxMissingRows: own.maxMissingRows ?? 0,
    minRows: 0,
    sample: request.sample ?? 5,
  });
}

/** Which build a relation is of: V1's, V2's, or V1's second (the A/A build). */
type Build = 'v1' | 'v2' | 'aa';

/** A model's relation in one build. */
interface Located {
  build: Build;
  model: DbtModel;
}

/** What the comparison needs of a warehouse (DuckDB files, PostgreSQL schemas): columns and the two diffs. */
interface ModelWarehouse {
  columns(at: Located): Promise<Column[]>;
  keyed(name: string, sides: Record<'v1' | 'v2', Located>, spec: ReturnType<typeof specFor>): Promise<OutputDiff>;
  unkeyed(sides: Record<'v1' | 'v2', Located>, columns: Record<'v1' | 'v2', Column[]>): Promise<UnkeyedRows>;
}

type UnkeyedRows = NonNullable<ModelReport['unkeyedRows']>;

/**
 * One model compared where it lives: its columns, then its rows (keyed, or as multisets), and with an A/A build its
 * noise first: what V1's two builds differ in does not fail V2 (V2's figures there are shown beside V1's own).
 */
async function compareModel(warehouse: ModelWarehouse, picked: Picked, request: ModelDiffRequest) {
  const v2: Located = { build: 'v2', model: picked.model };
  const v1: Located | undefined = picked.before ? { build: 'v1', model: picked.before } : undefined;
  const columns = { v1: v1 ? await warehouse.columns(v1) : [], v2: await warehouse.columns(v2) };
  const result = report(picked, columns);
  if (!v1) {
    result.failures.push('new in V2: nothing to compare it with');
    return judged(result);
  }
  const aa: Located | undefined = picked.again ? { build: 'aa', model: picked.again } : undefined;
  if (!picked.model.key) {
    result.unkeyedRows = await warehouse.unkeyed({ v1, v2 }, columns);
    const own = aa ? await warehouse.unkeyed({ v1, v2: aa }, { v1: columns.v1, v2: columns.v1 }) : undefined;
    const noise = own ? unkeyedNoise(own, result.unkeyedRows) : undefined;
    if (noise) result.noise = noise;
    const failure = unkeyedFailure(result.unkeyedRows);
    if (failure && !noise) result.failures.push(failure);
    return judged(result);
  }
  const key = picked.model.key;
  const full = await warehouse.keyed(picked.model.name, { v1, v2 }, specFor(picked.model, key, request));
  result.diff = full;
  if (!aa) return judged(result);
  const own = await warehouse.keyed(picked.model.name, { v1, v2: aa }, specFor(picked.model, key, request));
  const noise = keyedNoise(own, full);
  if (!noise) return judged(result);
  result.noise = noise;
  // Noise in rows is the whole model's: V2's differences fail nothing, and the approvers see them side by side.
  if (noise.rows.aa > 0) result.diff = { ...full, failures: [] };
  else if (full.failures.length > 0) {
    const noisy = noise.columns.map((c) => c.column);
    const beyond = await warehouse.keyed(picked.model.name, { v1, v2 }, specFor(picked.model, key, request, noisy));
    result.diff = { ...full, failures: beyond.failures };
  }
  return judged(result);
}

/** A keyed model's noise: the columns and rows V1's two builds differ in, V2's beside them; none when they agree. */
function keyedNoise(own: OutputDiff, v2: OutputDiff): ModelNoise | undefined {
  const changed = (c: OutputDiff['columns'][number] | undefined) => (c ? c.differing + c.nullOneSide : 0);
  const columns = own.columns
    .filter((c) => changed(c) > 0)
    .map((c) => ({ column: c.column, aa: changed(c), v2: changed(v2.columns.find((d) => d.column === c.column)) }));
  const rows = { aa: own.rows.onlyV1 + own.rows.onlyV2, v2: v2.rows.onlyV1 + v2.rows.onlyV2 };
  if (columns.length === 0 && rows.aa === 0) return undefined;
  const hidden = columns.filter((c) => c.v2 > c.aa).map((c) => c.column);
  // Where V1's builds disagree on rows too, the key does not hold between builds: the noise is the whole model's.
  if (rows.aa > 0 && v2.rows.differing + rows.v2 > own.rows.differing + rows.aa) hidden.push('rows');
  return { columns, rows, mayHide: hidden };
}

/** An unkeyed model's noise: the rows of V1's two builds' multisets that differ, V2's beside them. */
function unkeyedNoise(own: UnkeyedRows, v2: UnkeyedRows): ModelNoise | undefined {
  const rows = { aa: own.onlyV1 + own.onlyV2, v2: v2.onlyV1 + v2.onlyV2 };
  if (rows.aa === 0) return undefined;
  return { columns: [], rows, mayHide: rows.v2 > rows.aa ? ['rows'] : [] };
}

/** Every selected model compared, `parallel` at a time (each on a warehouse of its own), in the selection's order. */
async function compareAll(
  request: ModelDiffRequest,
  parallel: number,
  open: () => Promise<{ warehouse: ModelWarehouse; close(): Promise<void> }>,
): Promise<ModelsShadow> {
  const selected = selectModels(request);
  const models: ModelReport[] = new Array<ModelReport>(selected.length);
  let next = 0;
  const worker = async () => {
    const { warehouse, close } = await open();
    try {
      for (let i = next++; i < selected.length; i = next++)
        models[i] = await compareModel(warehouse, selected[i] as Picked, request);
    } finally {
      await close();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, selected.length)) }, worker));
  return { models, verdict: models.some((m) => m.verdict === 'fail') ? 'fail' : 'pass' };
}

/**
 * Every selected model of DuckDB builds (V1's file, V2's file, and V1's second with `aaFile`) diffed in place: the
 * files attached read-only to one bounded engine, each model's table read where dbt built it. Each file is attached
 * under its own database name (its file name, as dbt names it in the manifest), because the views dbt builds name
 * their sources by it; the files' names must therefore differ.
 */
export async function diffModelsInDuckdb(
  request: ModelDiffRequest & { v1File: string; v2File: string; aaFile?: string },
  engine: DiffEngineOptions,
): Promise<ModelsShadow> {
  return withDiffEngine(engine, async (session) => {
    const files: Partial<Record<Build, { name: string; file: string }>> = {
      v1: { name: databaseOf(request.v1), file: request.v1File },
      v2: { name: databaseOf(request.v2), file: request.v2File },
      ...(request.aa && request.aaFile ? { aa: { name: databaseOf(request.aa), file: request.aaFile } } : {}),
    };
    // One file may hold several builds (a warehouse file, each build a schema of it): attached once.
    const attached = new Map<string, string>();
    for (const { name, file } of Object.values(files)) {
      const at = attached.get(name);
      if (at !== undefined && at !== file)
        throw new DiffInputError(
          `the builds' DuckDB files ${at} and ${file} are both named ${name}: build them into files of different names`,
        );
      if (at === undefined) await session.rows(`ATTACH ${literal(file)} AS ${ident(name)} (READ_ONLY)`);
      attached.set(name, file);
    }
    const table = (at: Located) =>
      `${ident(files[at.build]?.name as string)}.${ident(at.model.schema)}.${ident(at.model.relation)}`;
    const label = (at: Located) => `${files[at.build]?.file as string}:${at.model.schema}.${at.model.relation}`;
    const warehouse: ModelWarehouse = {
      columns: (at) => describe(session, table(at)),
      keyed: (name, sides, spec) =>
        diffOutput(session, {
          output: name,
          dataset: 'dbt',
          spec,
          v1File: label(sides.v1),
          v2File: label(sides.v2),
          tables: { v1: table(sides.v1), v2: table(sides.v2) },
        }),
      unkeyed: (sides, columns) =>
        unkeyed(async (sql) => (await session.rows(sql))[0], { v1: table(sides.v1), v2: table(sides.v2) }, columns),
    };
    // One engine, one model at a time: DuckDB parallelises each query itself.
    return compareAll(request, 1, async () => ({ warehouse, close: async () => undefined }));
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
): Promise<UnkeyedRows> {
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
function unkeyedFailure(rows: UnkeyedRows): string | undefined {
  if (rows.onlyV1 + rows.onlyV2 === 0) return undefined;
  const sums = rows.sumsDiffer.length > 0 ? ` (sums differ: ${rows.sumsDiffer.join(', ')})` : '';
  return `unkeyed: ${rows.onlyV1} row(s) only in V1, ${rows.onlyV2} only in V2${sums}`;
}

/**
 * Every selected model of builds in one PostgreSQL database (V1's schema, V2's, and V1's second) diffed pushed
 * down, `connections` models at a time, each on a connection of its own from `connect` (read only: diffInPostgres
 * runs in a READ ONLY transaction), the reports in the selection's order.
 */
export async function diffModelsInPostgres(
  connect: () => Promise<ClientBase & { end(): Promise<void> }>,
  request: ModelDiffRequest & { connections?: number },
): Promise<ModelsShadow> {
  return compareAll(request, request.connections ?? 2, async () => {
    const client = await connect();
    const qualified = (at: Located) => `${ident(at.model.schema)}.${ident(at.model.relation)}`;
    const warehouse: ModelWarehouse = {
      columns: (at) => pgColumns(client, at.model.schema, at.model.relation),
      keyed: (name, sides, spec) =>
        diffInPostgres(client, {
          output: name,
          dataset: 'dbt',
          spec,
          v1: { schema: sides.v1.model.schema, table: sides.v1.model.relation },
          v2: { schema: sides.v2.model.schema, table: sides.v2.model.relation },
        }),
      unkeyed: (sides, columns) =>
        unkeyed(
          async (sql) => (await client.query<Record<string, unknown>>(sql)).rows[0],
          { v1: qualified(sides.v1), v2: qualified(sides.v2) },
          columns,
        ),
    };
    return { warehouse, close: () => client.end() };
  });
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
  runs: Record<'v1' | 'v2', Pick<PipelineRun, 'manifest'>> & { aa?: Pick<PipelineRun, 'manifest'> },
  where: { workdir: string; databases: Record<string, string> },
): Promise<{ models: ModelReport[]; failures: string[] }> {
  const dbt = plan.dbt;
  if (!dbt) return { models: [], failures: [] };
  const manifests = {
    v1: await manifestOf(runs.v1.manifest, 'baseline', where.workdir),
    v2: await manifestOf(runs.v2.manifest, 'candidate', where.workdir),
    // V1 built again (the plan's noise run): a build that printed no manifest (the baseline into its own schema
    // again) is not an A/A build, and the models are compared without noise.
    ...(runs.aa?.manifest !== undefined && runs.aa.manifest !== runs.v1.manifest
      ? { aa: await manifestOf(runs.aa.manifest, 'noise run', where.workdir) }
      : {}),
  };
  let shadow: ModelsShadow;
  const settings = { ...manifests, select: dbt.select, tolerances: dbt.tolerances };
  try {
    shadow =
      dbt.target === 'duckdb'
        ? await diffInWarehouseFile(warehouseFile(where.databases, dbt.database), settings, where.workdir)
        : await diffModelsInPostgres(() => connectDatabase(where.databases, dbt.database, 'dbt models'), {
            ...settings,
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

/** The DuckDB warehouse file the workers name `database` by (`CUTOVER_DATABASE_<NAME>=duckdb:/path/file.duckdb`). */
function warehouseFile(databases: Record<string, string>, database: string): string {
  const file = duckdbFileOf(databases[database]);
  if (file === undefined)
    throw new DiffInputError(
      `dbt models: the workers have no DuckDB warehouse "${database}" (CUTOVER_DATABASE_${database.toUpperCase()}=duckdb:/path/to/file.duckdb on the compute workers)`,
    );
  return file;
}

/**
 * Every selected model of the builds in one DuckDB warehouse file (each build a schema of it), diffed in place
 * under the file's lock (no build writes it meanwhile), by an engine spilling into the cutover's work folder.
 */
function diffInWarehouseFile(file: string, request: ModelDiffRequest, workdir: string): Promise<ModelsShadow> {
  return withFileLock(file, () =>
    diffModelsInDuckdb(
      { ...request, v1File: file, v2File: file, ...(request.aa ? { aaFile: file } : {}) },
      { tempDirectory: path.join(workdir, `dbt-diff-${process.pid}-${Date.now()}`) },
    ),
  );
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
