/**
 * The keyed diff across two places (V1 in PostgreSQL, V2 in a Parquet file, say), without moving the tables: each
 * side checksums its rows by segments of the key's hash, in its own engine (PostgreSQL's SQL, DuckDB's), and only
 * segments whose checksums differ are split further; the rows of the differing leaf segments alone are brought to
 * DuckDB and compared there with the file diff's column plans (activities/diff.ts), tolerances and all.
 *
 * Segments are the leading hex digits of md5 of the key's canonical text (256 or 16 per level, any key type); a
 * segment's checksum is its row count and the sum of the first 60 bits of md5 of each row's canonical text. Both
 * engines compute md5 alike; the canonical forms are written so that equal values give equal text in both: numbers
 * as integers at the output's `scale` (by default 6 decimal places: a difference below that is not seen),
 * timestamps as microseconds since the epoch, NULL apart from any value, everything else as its text. Where two
 * engines' texts still differ for equal values, the segment is drilled and its rows compared: the verdicts never
 * rest on the checksums agreeing, only the amount transferred does.
 */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { to as copyTo } from 'pg-copy-streams';
import path from 'node:path';
import type { ClientBase } from 'pg';
import type { OutputSpec } from '../plan/schema';
import type { OutputDiff, SampleValue } from '../shapes/evidence';
import { countKeyProblems, describeTable, qualified, rows as pgRows, shown, uniqueKey, type TableRef } from './db-diff';
import {
  checkFormat,
  columnPlan,
  count,
  DiffInputError,
  finish,
  finishWithLimits,
  ident,
  joinQuery,
  literal,
  matchColumns,
  newResult,
  readerFor,
  samplesOf,
  Tally,
  type Column,
  type ColumnPlan,
  type Group,
  type Session,
  type Side,
} from './diff';

/** One side: a table of a PostgreSQL database (in a read-only snapshot), or a file DuckDB reads. */
export type CrossSide =
  | { kind: 'postgres'; database: string; client: ClientBase; table: TableRef }
  | { kind: 'file'; file: string; format: OutputSpec['format'] };

export interface CrossDiffRequest {
  output: string;
  dataset: string;
  spec: OutputSpec;
  v1: CrossSide;
  v2: CrossSide;
  /** Where the leaf rows brought from a database are written for DuckDB to read (the dataset's outputs folder). */
  workDir: string;
  /**
   * A segment with at most this many rows on either side is compared row by row. With a fraction d of rows
   * differing, about d × leafRows of all rows cross: 32 keeps 0.1 % differing under 5 % transferred. @default 32
   */
  leafRows?: number;
  /**
   * Past this many rows (PostgreSQL's estimate of the larger side) the first level has 65,536 segments, not 256.
   * @default 4,000,000
   */
  deepStartRows?: number;
  /** Past this many differing segments to split, they are compared whole. @default 16,384 */
  maxPending?: number;
  /** A level splits 16 ways, not 256, where 256 would make more checksums than this. @default 262,144 */
  maxChecksums?: number;
}

const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)/;
const INTEGER = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/;
const TIMESTAMP = /^TIMESTAMP/;
/** The longest prefix, in hex digits of md5 (a level adds one or two). */
const MAX_DIGITS = 16;
/**
 * Past this many differing segments to split, they are compared whole: the differences are everywhere, and
 * splitting them would bring millions of checksums over (at 10M rows with 10 % differing, every one of 65,536).
 */
const MAX_PENDING = 16_384;
/**
 * A level's segments are split 256 ways (two hex digits) unless that would make more checksums than this: then
 * 16 ways (one digit). 10,000 differing segments of 150 rows make 160,000 checksums a side, not 2.5M.
 */
const MAX_CHECKSUMS = 262_144;

/** What one side holds per segment: rows, distinct keys, NULL keys and the rows' checksum. */
interface Segment {
  n: number;
  keys: number;
  nulls: number;
  sum: string;
}

/** A side as the algorithm drives it: its SQL dialect, its rows, and how to run a query there. */
interface Engine {
  side: Side;
  label: string;
  at: string;
  dialect: 'postgres' | 'duckdb';
  from: string;
  query(sql: string): Promise<Group[]>;
}

export async function crossDiff(session: Session, request: CrossDiffRequest): Promise<OutputDiff> {
  const started = performance.now();
  const { spec } = request;
  const engines = { v1: engineOf(session, request, 'v1'), v2: engineOf(session, request, 'v2') };
  const columns = { v1: await describe(engines.v1, request), v2: await describe(engines.v2, request) };
  const matched = matchColumns(columns, spec, 'table');
  const typeOf = (side: Side, name: string) => columns[side].find((c) => c.name === name)?.type ?? 'VARCHAR';
  const compared = matched.plans.map((p) => p.name);
  const canon = (engine: Engine) => canonical(engine, spec, compared, (name) => typeOf(engine.side, name));
  const format = request.v2.kind === 'file' ? request.v2.format : 'postgres';
  const result = newResult(request, format, { v1: where(request.v1), v2: where(request.v2) }, matched);
  const forms = { v1: canon(engines.v1), v2: canon(engines.v2) };
  await allowParallelScans(request);
  // A table whose key a unique index holds, NOT NULL, has no duplicate or NULL key: its distinct keys are not
  // counted (at 1M rows, 0.85 s of PostgreSQL's 2.1 s for the first level).
  const unique = {
    v1: await keyHeldUnique(request.v1, spec.key),
    v2: await keyHeldUnique(request.v2, spec.key),
  };

  // The first level over everything, then deeper only where the two sides' segments differ. A table of more than
  // 4M rows (by PostgreSQL's estimate) starts at 65,536 segments (4 digits): a few thousand differences touch every
  // one of level 1's 256, and the scan that level 2 would take again costs more than bringing 65,536 checksums
  // over (measured at 1M rows: a scan 2 s, 65,536 checksums 0.8 s).
  let digits = (await estimatedRows(request)) > (request.deepStartRows ?? 4_000_000) ? 4 : 2;
  const firstDigits = digits;
  let level = 1;
  let pending: string[] | undefined;
  let identical = 0;
  let segments = 0;
  const leaves: string[] = [];
  const totals = { v1: 0, v2: 0 };
  const keyProblems = { v1: 0, v2: 0 };
  for (;;) {
    const [a, b] = await Promise.all([
      segmentsOf(engines.v1, forms.v1, digits, pending, digits === firstDigits && !unique.v1),
      segmentsOf(engines.v2, forms.v2, digits, pending, digits === firstDigits && !unique.v2),
    ]);
    if (digits === firstDigits) {
      for (const [side, found] of [
        ['v1', a],
        ['v2', b],
      ] as const) {
        for (const s of found.values()) {
          totals[side] += s.n;
          keyProblems[side] += s.n - s.keys + s.nulls;
        }
      }
      if (keyProblems.v1 > 0 || keyProblems.v2 > 0) {
        result.rows = { ...result.rows, v1: totals.v1, v2: totals.v2 };
        await countKeyProblems(
          result,
          (['v1', 'v2'] as const).map((side) => ({ ...engines[side], name: engines[side].at.split(', ').pop() ?? '' })),
        );
        return finish(result, started);
      }
    }
    const deeper: string[] = [];
    const levelLeaves: string[] = [];
    let identicalHere = 0;
    const prefixes = new Set(a.keys());
    for (const prefix of b.keys()) prefixes.add(prefix);
    for (const prefix of prefixes) {
      segments++;
      const x = a.get(prefix);
      const y = b.get(prefix);
      if (x && y && x.n === y.n && x.sum === y.sum) {
        identicalHere += x.n;
        continue;
      }
      const size = Math.max(x?.n ?? 0, y?.n ?? 0);
      if (size > (request.leafRows ?? 32) && digits < MAX_DIGITS && x && y) deeper.push(prefix);
      else levelLeaves.push(prefix);
    }
    identical += identicalHere;
    for (const leaf of levelLeaves) leaves.push(leaf);
    if (deeper.length > (request.maxPending ?? MAX_PENDING)) {
      // Differences everywhere: the differing segments are compared whole, not split.
      for (const segment of deeper) leaves.push(segment);
      break;
    }
    if (deeper.length === 0) break;
    pending = deeper;
    digits += deeper.length * 256 > (request.maxChecksums ?? MAX_CHECKSUMS) ? 1 : 2;
    level++;
  }
  for (const side of ['v1', 'v2'] as const) {
    if (totals[side] < spec.minRows)
      throw new DiffInputError(
        `${at(request, side)}: ${totals[side]} row(s), expected at least ${spec.minRows}${totals[side] === 0 ? ' (empty output)' : ''}`,
      );
  }

  // The rows of the differing leaves, side by side in DuckDB, compared by the file diff's one query.
  const { transferred, plans, integers } = await bringLeaves(session, request, engines, leaves, columns, compared);
  const joined = leaves.length > 0 ? await session.rows(joinQuery(spec, plans, { v1: 'leaf_v1', v2: 'leaf_v2' })) : [];
  const groups = joined.map((g) => ({ ...g, samples: wholeNumbers(g.samples, spec.key, plans, integers) }));
  const tally = new Tally(groups);
  const leafRows = tally.rows(plans);
  result.rows = {
    v1: totals.v1,
    v2: totals.v2,
    both: identical + leafRows.both,
    onlyV1: leafRows.onlyV1,
    onlyV2: leafRows.onlyV2,
    differing: leafRows.differing,
  };
  result.columns = plans.map((p) => {
    const column = tally.column(p);
    const original = { v1: typeOf('v1', p.name), v2: typeOf('v2', p.name) };
    return {
      ...column,
      type: original.v1 === original.v2 ? original.v1 : `${original.v1} / ${original.v2}`,
      equal: column.equal + identical,
    };
  });
  result.samples = samplesOf(groups, spec, plans);
  result.transfer = { rows: transferred, of: totals.v1 + totals.v2, segments, leaves: leaves.length, levels: level };
  return finishWithLimits(result, spec, started);
}

/** Whether a side is a table whose key a unique index holds, every key column NOT NULL (a file never is). */
function keyHeldUnique(side: CrossSide, key: string[]): Promise<boolean> {
  return side.kind === 'postgres' ? uniqueKey(side.client, side.table, key) : Promise.resolve(false);
}

const where = (side: CrossSide) =>
  side.kind === 'postgres' ? `postgres:${side.database}:${shown(side.table)}` : side.file;

const at = (request: CrossDiffRequest, side: Side) => {
  const s = request[side];
  const label = side === 'v1' ? 'V1' : 'V2';
  return `output "${request.output}", dataset ${request.dataset}, ${label}'s ${s.kind === 'postgres' ? `table ${shown(s.table)} in ${s.database}` : `file ${s.file}`}`;
};

function engineOf(session: Session, request: CrossDiffRequest, side: Side): Engine {
  const s = request[side];
  const label = side === 'v1' ? 'V1' : 'V2';
  if (s.kind === 'postgres') {
    return {
      side,
      label,
      at: at(request, side),
      dialect: 'postgres',
      from: qualified(s.table),
      query: (sql) => pgRows(s.client, sql),
    };
  }
  return {
    side,
    label,
    at: at(request, side),
    dialect: 'duckdb',
    from: readerFor(s.file, s.format),
    query: (sql) => session.rows(sql, side === 'v1' ? 0 : 1),
  };
}

async function describe(engine: Engine, request: CrossDiffRequest): Promise<Column[]> {
  const s = request[engine.side];
  if (s.kind === 'postgres') return describeTable(s.client, s.table, request.spec, engine.at);
  // A missing file, or one in another format, named as the file diff names it.
  await checkFormat(`output "${request.output}", dataset ${request.dataset}, ${engine.label}`, s.file, s.format);
  let described: Group[];
  try {
    described = await engine.query(`DESCRIBE SELECT * FROM ${engine.from}`);
  } catch (err) {
    throw new DiffInputError(`${engine.at}: cannot read as ${s.format}: ${(err as Error).message.split('\n')[0]}`);
  }
  const columns = described.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  for (const key of request.spec.key) {
    if (!columns.some((c) => c.name === key))
      throw new DiffInputError(
        `${engine.at}: no key column "${key}" (columns: ${columns.map((c) => c.name).join(', ')})`,
      );
  }
  return columns;
}

/** A side's canonical texts: of the key (`kt`), of the whole row compared (`rt`), and whether a key is NULL. */
interface Forms {
  kt: string;
  rt: string;
  nullKey: string;
}

function canonical(engine: Engine, spec: OutputSpec, compared: string[], typeOf: (name: string) => string): Forms {
  const scale = spec.scale ?? 6;
  const one = (name: string) => {
    const c = ident(name);
    const type = typeOf(name);
    // Whole numbers as they are; other numbers at a fixed scale, which both engines print with every digit.
    const text = INTEGER.test(type)
      ? `${c}::VARCHAR`
      : NUMERIC.test(type)
        ? `${c}::DECIMAL(38, ${scale})::VARCHAR`
        : TIMESTAMP.test(type)
          ? engine.dialect === 'postgres'
            ? `(extract(epoch from ${c}) * 1000000)::BIGINT::VARCHAR`
            : `epoch_us(${c})::VARCHAR`
          : `${c}::VARCHAR`;
    // NULL apart from every value: 'n', and every value prefixed 'v'.
    return `(CASE WHEN ${c} IS NULL THEN 'n' ELSE 'v' || ${text} END)`;
  };
  const kt = spec.key.map(one).join(' || chr(31) || ');
  const rt = [kt, ...compared.map(one)].join(' || chr(30) || ');
  const nullKey = spec.key.map((k) => `${ident(k)} IS NULL`).join(' OR ');
  return { kt, rt, nullKey };
}

/** The first 60 bits of md5 of `text`, as a BIGINT, in either engine. */
const hash60 = (dialect: Engine['dialect'], text: string) =>
  dialect === 'postgres'
    ? `('x' || substr(md5(${text}), 1, 15))::bit(60)::bigint`
    : `('0x' || substr(md5(${text}), 1, 15))::BIGINT`;

/**
 * The segments of one level on one side, by the first `digits` hex digits of md5 of the key: within the `pending`
 * segments of the level above (everything at the first level).
 */
async function segmentsOf(
  engine: Engine,
  forms: Forms,
  digits: number,
  pending: string[] | undefined,
  withKeys: boolean,
): Promise<Map<string, Segment>> {
  const within = pending ? `WHERE ${await inPrefixes(engine, forms, pending, `pending_${engine.side}`)}` : '';
  const found = await engine.query(
    `SELECT p, count(*) AS n, ${withKeys ? 'count(DISTINCT kt)' : 'count(*)'} AS keys, count(*) FILTER (WHERE nk) AS nulls, sum(h)::VARCHAR AS s
       FROM (SELECT substr(md5(${forms.kt}), 1, ${digits}) AS p, ${forms.kt} AS kt, (${forms.nullKey}) AS nk,
                    ${hash60(engine.dialect, forms.rt)} AS h
               FROM ${engine.from} ${within}) t
      GROUP BY p`,
  );
  return new Map(
    found.map((r) => [
      String(r.p),
      { n: count(r.n), keys: count(r.keys), nulls: count(r.nulls), sum: String(r.s ?? '0') },
    ]),
  );
}

/**
 * The predicate of rows in any of `prefixes` (segments of any level): an IN list per prefix length in PostgreSQL
 * (which hashes a long list of constants), a semi-join against a temporary table of them in DuckDB (which scans a
 * long IN list per row: 51,238 leaves took 22 s at 1M rows).
 */
async function inPrefixes(
  engine: Pick<Engine, 'dialect' | 'query'>,
  forms: Forms,
  prefixes: string[],
  name: string,
): Promise<string> {
  if (prefixes.includes('')) return 'true';
  const byLength = new Map<number, string[]>();
  for (const prefix of prefixes) {
    const list = byLength.get(prefix.length);
    if (list) list.push(prefix);
    else byLength.set(prefix.length, [prefix]);
  }
  const table = engine.dialect === 'duckdb' && prefixes.length > 64 ? `cutover_${name}` : undefined;
  if (table) {
    await engine.query(
      `CREATE OR REPLACE TEMP TABLE ${table} AS SELECT unnest([${prefixes.map(literal).join(', ')}]::VARCHAR[]) AS p`,
    );
  }
  return [...byLength.entries()]
    .map(
      ([length, list]) =>
        `substr(md5(${forms.kt}), 1, ${length}) IN (${table ? `SELECT p FROM ${table} WHERE length(p) = ${length}` : list.map(literal).join(', ')})`,
    )
    .join(' OR ');
}

/**
 * Lets PostgreSQL spread the checksum scans over its parallel workers, as many as its own settings allow
 * (max_parallel_workers_per_gather): its planner does not count md5's cost and would scan alone. For this
 * transaction only (SET LOCAL: read-only transactions may).
 */
async function allowParallelScans(request: CrossDiffRequest): Promise<void> {
  for (const side of [request.v1, request.v2]) {
    if (side.kind !== 'postgres') continue;
    await side.client.query(
      'SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0; SET LOCAL min_parallel_table_scan_size = 0',
    );
  }
}

/** The most rows a PostgreSQL side holds by its statistics (0 when none says: never analysed, a view, files). */
async function estimatedRows(request: CrossDiffRequest): Promise<number> {
  let most = 0;
  for (const side of [request.v1, request.v2]) {
    if (side.kind !== 'postgres') continue;
    const [row] = await pgRows(
      side.client,
      `SELECT reltuples::FLOAT8 AS n FROM pg_class WHERE oid = to_regclass(${literal(qualified(side.table))})`,
    );
    most = Math.max(most, Number(row?.n ?? 0));
  }
  return most;
}

/**
 * The leaves' rows of both sides as DuckDB tables `leaf_v1`, `leaf_v2`, in one typing for both (numbers as DOUBLE,
 * timestamps as microseconds, booleans as they are, the rest as text), and the column plans over them. A file's
 * rows are selected where they lie; a database's are copied out (the rows transferred) as CSV for DuckDB to read.
 */
async function bringLeaves(
  session: Session,
  request: CrossDiffRequest,
  engines: Record<Side, Engine>,
  leaves: string[],
  columns: Record<Side, Column[]>,
  compared: string[],
): Promise<{ transferred: number; plans: ColumnPlan[]; integers: Set<string> }> {
  const { spec } = request;
  const needed = [...spec.key, ...compared];
  const kindOf = (name: string) => {
    const types = [columns.v1, columns.v2].map((list) => list.find((c) => c.name === name)?.type ?? 'VARCHAR');
    if (types.every((t) => INTEGER.test(t))) return 'BIGINT';
    if (types.every((t) => NUMERIC.test(t))) return 'DOUBLE';
    if (types.every((t) => TIMESTAMP.test(t))) return 'TIMESTAMP';
    if (types.every((t) => t === 'BOOLEAN')) return 'BOOLEAN';
    return 'VARCHAR';
  };
  // Timestamps travel as microseconds since the epoch.
  const duckType = (name: string) => (kindOf(name) === 'TIMESTAMP' ? 'BIGINT' : kindOf(name));
  const plans = compared.map((name, i) =>
    columnPlan(name, { v1: duckType(name), v2: duckType(name) }, spec.tolerances[name], i),
  );
  let transferred = 0;
  for (const side of ['v1', 'v2'] as const) {
    const engine = engines[side];
    const forms = canonical(engine, spec, compared, (name) => columns[side].find((c) => c.name === name)?.type ?? '');
    const select = needed.map((name) => {
      const c = ident(name);
      const kind = kindOf(name);
      const value =
        kind === 'DOUBLE'
          ? `${c}::FLOAT8`
          : kind === 'BIGINT'
            ? `${c}::BIGINT`
            : kind === 'TIMESTAMP'
              ? engine.dialect === 'postgres'
                ? `(extract(epoch from ${c}) * 1000000)::BIGINT`
                : `epoch_us(${c})`
              : kind === 'BOOLEAN'
                ? c
                : `${c}::VARCHAR`;
      return `${value} AS ${c}`;
    });
    // A file's leaves are selected on the connection the join then reads (DuckDB's temporary tables are its own).
    const here =
      engine.dialect === 'duckdb' ? { dialect: engine.dialect, query: (sql: string) => session.rows(sql) } : engine;
    const filter = leaves.length > 0 ? await inPrefixes(here, forms, leaves, `leaves_${side}`) : 'false';
    const sql = `SELECT ${select.join(', ')} FROM ${engine.from} WHERE ${filter}`;
    if (engine.dialect === 'duckdb') {
      await session.rows(`CREATE OR REPLACE TEMP TABLE leaf_${side} AS ${sql}`);
      continue;
    }
    // PostgreSQL's COPY, streamed into a CSV file that DuckDB then reads: the rows brought over never sit in memory,
    // and no row becomes a JavaScript object (through a cursor and JSON lines, measured at 1M rows: 20,000 rows/s).
    const file = path.join(request.workDir, `${request.output}-leaf-${side}.csv`);
    const table = request[side] as Extract<CrossSide, { kind: 'postgres' }>;
    const copy = table.client.query(copyTo(`COPY (${sql}) TO STDOUT WITH (FORMAT csv)`));
    await pipeline(copy, createWriteStream(file));
    transferred += copy.rowCount;
    const types = needed.map((name) => `${literal(name)}: ${literal(duckType(name))}`).join(', ');
    // COPY's CSV: NULL unquoted and empty, an empty text quoted (""), booleans t and f.
    await session.rows(
      `CREATE OR REPLACE TEMP TABLE leaf_${side} AS SELECT * FROM read_csv(${literal(file)}, header = false, delim = ',',
         quote = '"', escape = '"', nullstr = '', allow_quoted_nulls = false, auto_detect = false, columns = {${types}})`,
    );
  }
  return { transferred, plans, integers: new Set(needed.filter((name) => kindOf(name) === 'BIGINT')) };
}

/**
 * DuckDB hands BIGINTs over as text (they may pass 2^53): in the samples, the whole numbers that fit a double
 * exactly become numbers again, so keys sort and show as the file diff's do.
 */
function wholeNumbers(
  samples: SampleValue | undefined,
  key: string[],
  plans: ColumnPlan[],
  integers: Set<string>,
): SampleValue {
  if (!Array.isArray(samples)) return samples ?? null;
  const fields = [
    ...key.flatMap((name, i) => (integers.has(name) ? [`k${i}`] : [])),
    ...plans.flatMap((p) => (integers.has(p.name) ? [`a${p.i}`, `b${p.i}`] : [])),
  ];
  return samples.map((row) => {
    const copy = { ...(row as Record<string, SampleValue>) };
    for (const f of fields) {
      const v = copy[f];
      if (typeof v === 'string' && /^-?\d+$/.test(v) && Number.isSafeInteger(Number(v))) copy[f] = Number(v);
    }
    return copy;
  }) as unknown as SampleValue;
}
