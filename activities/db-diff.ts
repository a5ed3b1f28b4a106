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
 * The full outer join on the key with both sides' values of each compared column and one flag per row, `d`: matched
 * and some column not equal. Everything per column is worked out above it (joinQuery) for the flagged rows alone, so
 * an equal row costs what it costs a bare join: the key, the presence, and one equality test per column.
 */
function joinedRows(request: DbDiffRequest, plans: ColumnPlan[]): string {
  const { spec } = request;
  const on = spec.key.map((k) => `a.${ident(k)} = b.${ident(k)}`).join(' AND ');
  const keyParts = spec.key.map((k, i) => `coalesce(a.${ident(k)}, b.${ident(k)}) AS k${i}`);
  // A side has the row where its first key column is not NULL: a row whose key is NULL matches nothing and so
  // counts on neither side, which the fan-out check sees (its side's rows fall short of its table's count) and
  // explains. Measured on a real model's shape: a constant column marking each side cost 20 % of the join.
  const present = (side: 'a' | 'b') => `${side}.${ident(spec.key[0] as string)} IS NOT NULL`;
  const values = plans.flatMap((p) => [`a.${ident(p.name)} AS a${p.i}`, `b.${ident(p.name)} AS b${p.i}`]);
  const allEqual = plans.length > 0 ? plans.map((p) => p.equal).join(' AND ') : 'true';
  return `SELECT ${present('a')} AS in1, ${present('b')} AS in2,
      ${present('a')} AND ${present('b')} AND NOT (${allEqual}) AS d, ${[...keyParts, ...values].join(', ')}
    FROM ${qualified(request.v1)} a FULL OUTER JOIN ${qualified(request.v2)} b ON ${on}`;
}

/** A column's plan over the join's named values (a0, b0, …): its status and differences, above the join. */
const above = (p: ColumnPlan): ColumnPlan =>
  columnPlan({ name: p.name, types: p.types, tolerance: p.tolerance, i: p.i }, { a: `a${p.i}`, b: `b${p.i}` });

/**
 * One row of counts over the join, not a GROUP BY: an ordered aggregate (the samples, first by key) makes
 * PostgreSQL sort every joined row by the groups first (measured at 1M rows: a 100 MB external sort, three times
 * the join itself); ungrouped, only the rows that differ or are on one side only are sorted, for the samples. A
 * column's statuses and differences are computed only for the flagged rows (`d`: matched, not all equal), their
 * equal rows counted by subtraction (Totals); measured on a real model's shape (a text, a date, four numerics, 0.1 %
 * differing), computing every status on every row took twice the bare join.
 */
function joinQuery(request: DbDiffRequest, plans: ColumnPlan[], checkKeys: boolean): string {
  const { spec } = request;
  const keyOf = spec.key.length === 1 ? 'k0' : `(${spec.key.map((_, i) => `k${i}`).join(', ')})`;
  const anyKeyNull = spec.key.map((_, i) => `k${i} IS NULL`).join(' OR ');
  const outer = plans.map(above);
  const anyDiffers = outer.length > 0 ? outer.map((p) => `(${p.status}) >= 2`).join(' OR ') : 'false';
  const order = spec.key.map((_, i) => `k${i}`).join(', ');
  const where = (condition: string) => `FILTER (WHERE ${condition})`;
  const both = 'in1 AND in2';
  const sampleFields = [
    ...spec.key.map((_, i) => `'k${i}', k${i}`),
    `'in1', in1`,
    `'in2', in2`,
    ...outer.flatMap((p) => [
      `'s${p.i}', CASE WHEN ${both} THEN ${p.status} END`,
      `'a${p.i}', a${p.i}`,
      `'b${p.i}', b${p.i}`,
    ]),
  ];
  const aggregates = [
    `count(*) ${where('in1')} AS v1`,
    `count(*) ${where('in2')} AS v2`,
    `count(*) ${where(both)} AS both`,
    `count(*) ${where(`d AND (${anyDiffers})`)} AS differing`,
    ...(checkKeys
      ? [
          `count(*) ${where(`NOT (${both})`)} AS unmatched`,
          `count(*) ${where(`NOT (${both}) AND (${anyKeyNull})`)} AS "nullKeys"`,
          `count(DISTINCT ${keyOf}) ${where(`NOT (${both}) AND NOT (${anyKeyNull})`)} AS keys`,
        ]
      : []),
    ...outer.flatMap((p) => [
      // Equal: the matched rows that are none of these (Totals.column subtracts them).
      ...[1, 2, 3].map((code) => `count(*) ${where(`d AND ${p.status} = ${code}`)} AS s${p.i}_${code}`),
      ...(p.numeric ? differences(p) : []),
    ]),
    ...(spec.sample > 0
      ? [
          `(array_agg(json_build_object(${sampleFields.join(', ')}) ORDER BY ${order})
             ${where(`NOT in1 OR NOT in2 OR (d AND (${anyDiffers}))`)})[1:${spec.sample}] AS samples`,
        ]
      : []),
  ];
  // OFFSET 0 keeps the join a subquery of its own: a row's flag computed once, not once per aggregate naming it.
  return `SELECT ${aggregates.join(', ')} FROM (${joinedRows(request, plans)} OFFSET 0) j`;
}

/**
 * A number's largest absolute (d) and relative (r) differences over the rows where it is not equal; the equal rows
 * differ by 0 (Totals.column). No per-row CASE and no cast to FLOAT8 on an equal row (PostgreSQL turns a numeric
 * into a double through its text; measured at 10M rows: comparing again in the join took 2 s of 5.8 s).
 */
function differences(p: ColumnPlan): string[] {
  const unequal = `FILTER (WHERE d AND NOT (${p.equal}))`;
  return [`max(${p.absolute}) ${unequal} AS d${p.i}`, `max(${p.relative}) ${unequal} AS r${p.i}`];
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
    const equal = this.n('both') - within - differing - nullOneSide;
    // Equal values differ by nothing (activities/diff-query.ts columnPlan): 0 wherever a column has an equal row.
    const withEqual = (field: string) => (equal > 0 ? Math.max(max(field) ?? 0, 0) : max(field));
    return columnDiff(p, [equal, within, differing, nullOneSide], {
      absolute: p.numeric ? withEqual(`d${p.i}`) : undefined,
      relative: p.numeric ? withEqual(`r${p.i}`) : undefined,
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
