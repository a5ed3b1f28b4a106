/**
 * The keyed diff of V1's and V2's output tables where both live in one PostgreSQL database, pushed down: the
 * whole comparison (the full outer join on the key, the per-column tolerances, the counts, the samples, the
 * duplicate and NULL keys) runs as SQL in the database, and only counts and sample rows come back. The same
 * column plans as the file diff (activities/diff.ts `columnPlan`), so a row is equal, within tolerance or
 * differing by the same rules whichever engine judged it.
 *
 * Read only, and never a write to either database: every query runs in one `READ ONLY` transaction at
 * `REPEATABLE READ` (one snapshot for all of them), rolled back at the end. A connection refused or dropped is
 * transient (the activity retries it); a missing table, schema or key column is bad input (DiffInputError, named
 * by output, dataset, side and table).
 */
import { Client, type ClientBase } from 'pg';
import { FailureType } from '../plan/failures';
import { ActionError } from './errors';
import type { OutputSpec } from '../plan/schema';
import type { ColumnDiff, OutputDiff, SampleValue } from '../shapes/evidence';
import {
  columnDiff,
  columnPlan,
  count,
  finish,
  finishWithLimits,
  matchColumns,
  newResult,
  sampleParts,
  samplesOf,
  type ColumnPlan,
  type Group,
  type Side,
} from './diff-query';
import { DiffCancelledError, DiffInputError, ident, type Column } from './diff-engine';

/** A table (or view) in the database: `schema.table`. */
export interface TableRef {
  schema: string;
  table: string;
}

export interface DbDiffRequest {
  output: string;
  dataset: string;
  spec: OutputSpec;
  v1: TableRef;
  v2: TableRef;
}

export const qualified = (t: TableRef) => `${ident(t.schema)}.${ident(t.table)}`;
export const shown = (t: TableRef) => `${t.schema}.${t.table}`;

/**
 * PostgreSQL's type names as the column plans read them (DuckDB's): numbers are compared by value, text and
 * booleans as they are, anything else, or two different kinds, as text.
 */
export function planType(dataType: string): string {
  const t = dataType.toLowerCase();
  if (t === 'smallint') return 'SMALLINT';
  if (t === 'integer') return 'INTEGER';
  if (t === 'bigint') return 'BIGINT';
  if (t === 'numeric') return 'DECIMAL';
  if (t === 'real') return 'FLOAT';
  if (t === 'double precision') return 'DOUBLE';
  if (t === 'text' || t === 'character varying' || t === 'character') return 'VARCHAR';
  if (t === 'boolean') return 'BOOLEAN';
  return dataType.toUpperCase();
}

/** Runs the diff of `request` on `client` (a connection to the database both tables are in). */
export async function diffInPostgres(client: ClientBase, request: DbDiffRequest): Promise<OutputDiff> {
  const started = performance.now();
  await client.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    return await diffInSnapshot(client, request, started);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
}

async function diffInSnapshot(client: ClientBase, request: DbDiffRequest, started: number): Promise<OutputDiff> {
  const { spec } = request;
  const columns = await describeTables(client, request);
  const matched = matchColumns(columns, spec, 'table');
  // Keys a unique index holds, NOT NULL, on both sides cannot fan the join out: no scan is spent checking them.
  const keyed = (await uniqueKey(client, request.v1, spec.key)) && (await uniqueKey(client, request.v2, spec.key));
  const [totals = {}] = await rows(client, joinQuery(request, matched.plans, !keyed));
  const groups = [{ samples: parsedSamples(totals.samples) }];
  const tally = new Totals(totals);
  const files = { v1: `postgres:${shown(request.v1)}`, v2: `postgres:${shown(request.v2)}` };
  const result = newResult(request, 'postgres', files, matched);
  result.rows = tally.rows();
  if (!keyed) {
    const counted = await rows(
      client,
      `SELECT (SELECT count(*) FROM ${qualified(request.v1)}) AS v1, (SELECT count(*) FROM ${qualified(request.v2)}) AS v2`,
    );
    const tableRows = { v1: count(counted[0]?.v1), v2: count(counted[0]?.v2) };
    if (tally.fannedOut(tableRows)) {
      await explainKeys(client, request, result, tableRows);
      return finish(result, started);
    }
  }
  for (const side of ['v1', 'v2'] as const) {
    if (result.rows[side] < spec.minRows)
      throw new DiffInputError(
        `${where(request, side)}: ${result.rows[side]} row(s), expected at least ${spec.minRows}${result.rows[side] === 0 ? ' (empty output)' : ''}`,
      );
  }
  result.columns = matched.plans.map((p) => tally.column(p));
  result.samples = samplesOf(groups, spec, matched.plans);
  return finishWithLimits(result, spec, started);
}

const where = (request: DbDiffRequest, side: Side) =>
  `output "${request.output}", dataset ${request.dataset}, ${side === 'v1' ? 'V1' : 'V2'}'s table ${shown(request[side])}`;

export async function rows(client: ClientBase, sql: string, values: unknown[] = []): Promise<Group[]> {
  return (await client.query(sql, values)).rows as Group[];
}

/** Each side's columns and their types, from the catalog; a missing table or key column is bad input. */
async function describeTables(client: ClientBase, request: DbDiffRequest): Promise<Record<Side, Column[]>> {
  const columns: Record<Side, Column[]> = { v1: [], v2: [] };
  for (const side of ['v1', 'v2'] as const) {
    columns[side] = await describeTable(client, request[side], request.spec, where(request, side));
  }
  return columns;
}

/**
 * A table's or view's columns, with their types as the column plans read them; a missing table or key column is
 * bad input named by `at` (the output, dataset, side and table).
 */
export async function describeTable(client: ClientBase, t: TableRef, spec: OutputSpec, at: string): Promise<Column[]> {
  const found = await rows(
    client,
    `SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
        AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [t.schema, t.table],
  );
  if (found.length === 0) throw new DiffInputError(`${at}: no such table or view`);
  const columns = found.map((r) => ({ name: String(r.name), type: planType(String(r.type)) }));
  for (const key of spec.key) {
    if (!columns.some((c) => c.name === key))
      throw new DiffInputError(`${at}: no key column "${key}" (columns: ${columns.map((c) => c.name).join(', ')})`);
  }
  return columns;
}

/**
 * The full outer join on the key with each compared column's status per row (and, for the samples, both sides'
 * values): the file diff's join, in PostgreSQL's SQL.
 */
function joinedRows(request: DbDiffRequest, plans: ColumnPlan[], withValues: boolean): string {
  const { spec } = request;
  const source = (t: TableRef) => `(SELECT *, 1 AS "__cutover_row" FROM ${qualified(t)})`;
  const on = spec.key.map((k) => `a.${ident(k)} = b.${ident(k)}`).join(' AND ');
  const keyParts = spec.key.map((k, i) => `coalesce(a.${ident(k)}, b.${ident(k)}) AS k${i}`);
  const matched = `a."__cutover_row" IS NOT NULL AND b."__cutover_row" IS NOT NULL`;
  const perRow = plans.flatMap((p) => [
    `CASE WHEN ${matched} THEN ${p.status} END AS s${p.i}`,
    // A number's values go on for its differences (joinQuery), the others' for the samples.
    ...(withValues || p.numeric ? [`a.${ident(p.name)} AS a${p.i}`, `b.${ident(p.name)} AS b${p.i}`] : []),
  ]);
  return `SELECT a."__cutover_row" IS NOT NULL AS in1, b."__cutover_row" IS NOT NULL AS in2, ${[...keyParts, ...perRow].join(', ')}
    FROM ${source(request.v1)} a FULL OUTER JOIN ${source(request.v2)} b ON ${on}`;
}

/**
 * One row of counts over the join, not a GROUP BY: an ordered aggregate (the samples, first by key) makes
 * PostgreSQL sort every joined row by the groups first (measured at 1M rows: a 100 MB external sort, three times
 * the join itself); ungrouped, only the rows that differ or are on one side only are sorted, for the samples.
 */
function joinQuery(request: DbDiffRequest, plans: ColumnPlan[], checkKeys: boolean): string {
  const { spec } = request;
  const keyOf = spec.key.length === 1 ? 'k0' : `(${spec.key.map((_, i) => `k${i}`).join(', ')})`;
  const anyKeyNull = spec.key.map((_, i) => `k${i} IS NULL`).join(' OR ');
  const { anyDiffers, sampleFields } = sampleParts(spec, plans);
  const order = spec.key.map((_, i) => `k${i}`).join(', ');
  const where = (condition: string) => `FILTER (WHERE ${condition})`;
  const both = 'in1 AND in2';
  const aggregates = [
    `count(*) ${where('in1')} AS v1`,
    `count(*) ${where('in2')} AS v2`,
    `count(*) ${where(both)} AS both`,
    `count(*) ${where(`${both} AND (${anyDiffers})`)} AS differing`,
    ...(checkKeys
      ? [
          `count(*) ${where(`NOT (${both})`)} AS unmatched`,
          `count(*) ${where(`NOT (${both}) AND (${anyKeyNull})`)} AS "nullKeys"`,
          `count(DISTINCT ${keyOf}) ${where(`NOT (${both}) AND NOT (${anyKeyNull})`)} AS keys`,
        ]
      : []),
    ...plans.flatMap((p) => [
      // Equal: the matched rows that are none of these (one filter fewer per column, on every row).
      ...[1, 2, 3].map((code) => `count(*) ${where(`s${p.i} = ${code}`)} AS s${p.i}_${code}`),
      ...(p.numeric ? differences(p).map((d) => `max(${d.value}) ${where(both)} AS ${d.name}`) : []),
    ]),
    ...(spec.sample > 0
      ? [
          `(array_agg(json_build_object(${sampleFields.map((f) => `'${f}', ${f}`).join(', ')}) ORDER BY ${order})
             ${where(`NOT in1 OR NOT in2 OR ${anyDiffers}`)})[1:${spec.sample}] AS samples`,
        ]
      : []),
  ];
  // OFFSET 0 keeps the join a subquery of its own: a row's statuses computed once, not once per aggregate naming them.
  return `SELECT ${aggregates.join(', ')} FROM (${joinedRows(request, plans, spec.sample > 0)} OFFSET 0) j`;
}

/**
 * A number's largest absolute (d) and relative (r) differences, from the join's row status and values: equal values
 * differ by 0, as the file diff finds them, without comparing them again or casting them to FLOAT8 (PostgreSQL turns a
 * numeric into a double through its text; measured at 10M rows: comparing again in the join took 2 s of 5.8 s).
 */
function differences(p: ColumnPlan): { name: string; value: string }[] {
  const values = columnPlan(p, { a: `a${p.i}`, b: `b${p.i}` });
  return [
    {
      name: `d${p.i}`,
      value: `CASE WHEN s${p.i} = 0 THEN CASE WHEN a${p.i} IS NOT NULL THEN 0::FLOAT8 END ELSE ${values.absolute} END`,
    },
    {
      name: `r${p.i}`,
      value: `CASE WHEN s${p.i} = 0 THEN CASE WHEN a${p.i} <> 0 THEN 0::FLOAT8 END ELSE ${values.relative} END`,
    },
  ];
}

/** The counts of joinQuery's one row, read as the file diff's Tally reads its groups. */
class Totals {
  constructor(private readonly row: Group) {}

  private n(field: string): number {
    return count(this.row[field]);
  }

  rows(): OutputDiff['rows'] {
    const both = this.n('both');
    return {
      v1: this.n('v1'),
      v2: this.n('v2'),
      both,
      onlyV1: this.n('v1') - both,
      onlyV2: this.n('v2') - both,
      differing: this.n('differing'),
    };
  }

  /** As Tally.fannedOut: the join's rows are not the tables', an unmatched key repeats, or a key is NULL. */
  fannedOut(tableRows: Record<Side, number>): boolean {
    return (
      this.n('v1') !== tableRows.v1 ||
      this.n('v2') !== tableRows.v2 ||
      this.n('unmatched') - this.n('nullKeys') !== this.n('keys') ||
      this.n('nullKeys') > 0
    );
  }

  column(p: ColumnPlan): ColumnDiff {
    const max = (field: string) => {
      const value = this.row[field];
      return value === null || value === undefined ? undefined : Number(value);
    };
    const [within, differing, nullOneSide] = [1, 2, 3].map((code) => this.n(`s${p.i}_${code}`)) as [
      number,
      number,
      number,
    ];
    return columnDiff(p, [this.n('both') - within - differing - nullOneSide, within, differing, nullOneSide], {
      absolute: p.numeric ? max(`d${p.i}`) : undefined,
      relative: p.numeric ? max(`r${p.i}`) : undefined,
    });
  }
}

/** The samples of a group as `pg` gives them (json[]: parsed, or text to parse). */
function parsedSamples(value: unknown): SampleValue {
  if (!Array.isArray(value)) return null;
  return value.map((v) => (typeof v === 'string' ? (JSON.parse(v) as unknown) : v)) as unknown as SampleValue;
}

/** Whether a unique index on exactly `key` holds `t`, every key column NOT NULL: no duplicate or NULL key. */
export async function uniqueKey(client: ClientBase, t: TableRef, key: string[]): Promise<boolean> {
  const [row] = await rows(
    client,
    `SELECT EXISTS (
        SELECT 1 FROM pg_index i
         WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
           AND (SELECT array_agg(a.attname::text ORDER BY a.attname)
                  FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY(i.indkey)) = $3::text[]
      ) AND NOT EXISTS (
        SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = ANY($3::text[]) AND NOT a.attnotnull
      ) AS keyed
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [t.schema, t.table, [...key].sort()],
  );
  return row?.keyed === true;
}

/** A row as JSON holds it: bigints and numerics (which `pg` gives as text) stay text, dates become ISO text. */
export function plain(row: Group): Group {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [k, (v as unknown) instanceof Date ? (v as unknown as Date).toISOString() : v]),
  );
}

/**
 * Where the join fanned out: each side's rows, duplicate keys (with a few examples) and NULL keys, counted in the
 * database. The join's counts are dropped (they may be inflated); the failures say why.
 */
async function explainKeys(
  client: ClientBase,
  request: DbDiffRequest,
  result: OutputDiff,
  tableRows: Record<Side, number>,
): Promise<void> {
  result.rows = { v1: tableRows.v1, v2: tableRows.v2, both: 0, onlyV1: 0, onlyV2: 0, differing: 0 };
  await countKeyProblems(
    result,
    (['v1', 'v2'] as const).map((side) => ({
      side,
      from: qualified(request[side]),
      name: `${side === 'v1' ? 'V1' : 'V2'}'s table ${shown(request[side])}`,
      query: (sql: string) => rows(client, sql),
    })),
    ' (the join would fan out)',
  );
}

/**
 * Each side's duplicate keys (with a few examples) and NULL keys, counted where the side lives (`query` runs in its
 * engine: PostgreSQL, or DuckDB for a file), each kind a failure naming the side. Shared with ./cross-diff.ts.
 */
export async function countKeyProblems(
  result: OutputDiff,
  sides: { side: Side; from: string; name: string; query: (sql: string) => Promise<Group[]> }[],
  duplicateNote = '',
): Promise<void> {
  const keyList = result.key.map(ident).join(', ');
  const nullKey = result.key.map((k) => `${ident(k)} IS NULL`).join(' OR ');
  for (const { side, from, name, query } of sides) {
    const [row] = await query(
      `SELECT (SELECT count(*) FROM ${from} WHERE ${nullKey}) AS nulls,
              (SELECT count(*) FROM (SELECT 1 FROM ${from} WHERE NOT (${nullKey}) GROUP BY ${keyList} HAVING count(*) > 1) d) AS groups`,
    );
    result.duplicates[side] = count(row?.groups);
    if (result.duplicates[side] > 0) {
      const examples = await query(
        `SELECT ${keyList}, count(*) AS copies FROM ${from} WHERE NOT (${nullKey}) GROUP BY ${keyList} HAVING count(*) > 1 ORDER BY ${keyList} LIMIT 5`,
      );
      for (const e of examples) result.duplicates.examples.push({ side, ...plain(e), copies: count(e.copies) });
      result.failures.push(`${result.duplicates[side]} duplicate key(s) in ${name}${duplicateNote}`);
    }
    const nulls = count(row?.nulls);
    if (nulls > 0) result.failures.push(`${nulls} row(s) with a NULL key in ${name}`);
  }
}

/** The SQLSTATE classes a connection gets for who it is: the workers' credentials or the database's name. */
const REFUSED_LOGIN = new Set(['28P01', '28000', '3D000']);

/**
 * Connects to `database`, diffs `request` there, and disconnects (connectDatabase says how a connection fails); a
 * cancellation ends the session (its query with it) and throws DiffCancelledError.
 */
export async function diffInDatabase(
  databases: Record<string, string>,
  database: string,
  request: DbDiffRequest,
  options: { signal?: AbortSignal; onTick?: () => void; tickMs?: number } = {},
): Promise<OutputDiff> {
  const client = await connectDatabase(databases, database, request.output);
  let cancelled = false;
  const cancel = () => {
    cancelled = true;
    void client.end();
  };
  options.signal?.addEventListener('abort', cancel, { once: true });
  const ticker = options.onTick ? setInterval(options.onTick, options.tickMs ?? 5000) : undefined;
  try {
    return await diffInPostgres(client, request);
  } catch (err) {
    if (cancelled) throw new DiffCancelledError('diff cancelled: the database session was ended');
    throw err;
  } finally {
    options.signal?.removeEventListener('abort', cancel);
    if (ticker) clearInterval(ticker);
    if (!cancelled) await client.end().catch(() => undefined);
  }
}

/**
 * A session with `database` (the workers' name for it: its URL in `databases`). A database the workers do not
 * know, or that refuses their credentials, is bad input (final, named); a refused or dropped connection is
 * transient (ActionError, retried by the activity).
 */
export async function connectDatabase(
  databases: Record<string, string>,
  database: string,
  output: string,
): Promise<Client> {
  const url = databases[database];
  if (url === undefined) {
    throw new DiffInputError(
      `output "${output}": the workers have no database "${database}" (CUTOVER_DATABASE_${database.toUpperCase()} on the compute workers; they have ${Object.keys(databases).join(', ') || 'none'})`,
    );
  }
  const client = new Client({
    connectionString: url,
    application_name: 'cutover diff',
    connectionTimeoutMillis: 10_000,
  });
  const u = new URL(url);
  const host = `${u.hostname}:${u.port || '5432'}`;
  try {
    await client.connect();
    return client;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = (err as Error).message;
    if (code !== undefined && REFUSED_LOGIN.has(code)) {
      throw new DiffInputError(`output "${output}": database ${database} at ${host} refused the workers: ${message}`);
    }
    throw new ActionError(
      `output "${output}": cannot reach database ${database} at ${host}: ${message}`,
      FailureType.ActionTransient,
      true,
    );
  }
}

/** `schema.table` as a reference. */
export function tableRef(qualifiedName: string): TableRef {
  const [schema, table] = qualifiedName.split('.') as [string, string];
  return { schema, table };
}
