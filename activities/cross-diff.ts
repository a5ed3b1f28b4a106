/**
 * The keyed diff across two places (V1 in PostgreSQL, V2 in a Parquet file, say), without moving the tables: each
 * side checksums its rows by segments of the key, in its own engine (PostgreSQL's SQL, DuckDB's), and only segments
 * whose checksums differ are split further; the rows of the differing leaf segments alone are brought to DuckDB and
 * compared there with the file diff's column plans (activities/diff.ts), tolerances and all.
 *
 * The first level is the whole table: one checksum a side, and equal tables end there. Below it a segment is a
 * prefix of hex digits (256 or 16 segments a level): of the key's offset from the smallest key, where the key is one
 * whole-number column on both sides (a range of keys, as reladiff segments a primary key), else of md5 of the key's
 * canonical text (any key). A segment's checksum is its row count and the sum of the first 60 bits of md5 of each
 * row's canonical text. Both engines compute md5 alike; the canonical forms are written so that equal values give
 * equal text in both: numbers at the output's `scale` (by default 6 decimal places: a difference below that is not
 * seen), timestamps as microseconds since the epoch, NULL apart from any value, everything else as its text. Where
 * two engines' texts still differ for equal values, the segment is drilled and its rows compared: such a difference
 * costs rows transferred, never a verdict.
 */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { to as copyTo } from 'pg-copy-streams';
import path from 'node:path';
import type { OutputDiff, SampleValue } from '../shapes/evidence';
import { countKeyProblems } from './db-diff';
import { DiffInputError, ident, literal, type Column, type Session } from './diff-engine';
import {
  at,
  canonical,
  describeSide,
  engineOf,
  estimatedRows,
  hash60,
  INTEGER,
  keyHeldUnique,
  NUMERIC,
  planChecksumScans,
  segmentingOf,
  TIMESTAMP,
  where,
  type CrossDiffRequest,
  type CrossSide,
  type Engine,
  type Forms,
  type Segmenting,
} from './cross-sides';
import {
  columnPlan,
  count,
  finish,
  finishWithLimits,
  joinQuery,
  matchColumns,
  newResult,
  samplesOf,
  Tally,
  type ColumnPlan,
  type Side,
} from './diff-query';

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

/** One cross diff as its steps share it: both sides' engines, columns, canonical forms and segmenting. */
interface Crossing {
  session: Session;
  request: CrossDiffRequest;
  engines: Record<Side, Engine>;
  columns: Record<Side, Column[]>;
  /** The columns compared (both sides have them, none ignored). */
  compared: string[];
  forms: Record<Side, Forms>;
  by: Segmenting;
  /** Per side: whether a unique index holds its key, NOT NULL (its distinct keys are not counted). */
  unique: Record<Side, boolean>;
}

/** Where the descent through the segments ended: the differing leaves, and what the levels above counted. */
interface Descent {
  leaves: string[];
  /** Rows in segments equal on both sides. */
  identical: number;
  segments: number;
  levels: number;
  totals: Record<Side, number>;
  /** Duplicate or NULL keys per side, found at the first level: the diff stops there and counts them. */
  keyProblems: Record<Side, number>;
}

export async function crossDiff(session: Session, request: CrossDiffRequest): Promise<OutputDiff> {
  const started = performance.now();
  const { spec } = request;
  const engines = { v1: engineOf(session, request, 'v1'), v2: engineOf(session, request, 'v2') };
  const columns = { v1: await describeSide(engines.v1, request), v2: await describeSide(engines.v2, request) };
  const matched = matchColumns(columns, spec, 'table');
  const typeOf = (side: Side, name: string) => columns[side].find((c) => c.name === name)?.type ?? 'VARCHAR';
  const compared = matched.plans.map((p) => p.name);
  const canon = (engine: Engine) => canonical(engine, spec, compared, (name) => typeOf(engine.side, name));
  const format = request.v2.kind === 'file' ? request.v2.format : 'postgres';
  const result = newResult(request, format, { v1: where(request.v1), v2: where(request.v2) }, matched);
  await planChecksumScans(request);
  const crossing: Crossing = {
    session,
    request,
    engines,
    columns,
    compared,
    forms: { v1: canon(engines.v1), v2: canon(engines.v2) },
    by: await segmentingOf(request, engines, typeOf),
    // A table whose key a unique index holds, NOT NULL, has no duplicate or NULL key: its distinct keys are not
    // counted (at 1M rows, 0.85 s of PostgreSQL's 2.1 s for the first level).
    unique: { v1: await keyHeldUnique(request.v1, spec.key), v2: await keyHeldUnique(request.v2, spec.key) },
  };
  const descent = await descend(crossing);
  const { totals, leaves, identical } = descent;
  if (descent.keyProblems.v1 > 0 || descent.keyProblems.v2 > 0) {
    result.rows = { ...result.rows, v1: totals.v1, v2: totals.v2 };
    await countKeyProblems(
      result,
      (['v1', 'v2'] as const).map((side) => ({ ...engines[side], name: engines[side].at.split(', ').pop() ?? '' })),
    );
    return finish(result, started);
  }
  for (const side of ['v1', 'v2'] as const) {
    if (totals[side] < spec.minRows)
      throw new DiffInputError(
        `${at(request, side)}: ${totals[side]} row(s), expected at least ${spec.minRows}${totals[side] === 0 ? ' (empty output)' : ''}`,
      );
  }

  // The rows of the differing leaves, side by side in DuckDB, compared by the file diff's one query.
  const { transferred, plans, integers } = await bringLeaves(crossing, leaves);
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
  result.transfer = {
    rows: transferred,
    of: totals.v1 + totals.v2,
    segments: descent.segments,
    leaves: leaves.length,
    levels: descent.levels,
    segmentedBy: crossing.by.kind,
  };
  return finishWithLimits(result, spec, started);
}

/**
 * The descent: the first level is the whole table, one checksum a side and no grouping: equal tables end there
 * (measured at 10M rows in PostgreSQL: 5.3 s, where grouping by 39,063 segments took 6.7 s). Then deeper only where
 * the two sides' segments differ. A table of more than 4M rows (by PostgreSQL's estimate) goes on at 65,536
 * segments (4 digits): a few thousand differences touch every one of 256, and the scan the next level would take
 * again costs more than bringing 65,536 checksums over (measured at 1M rows: a scan 2 s, 65,536 checksums 0.8 s).
 */
async function descend(crossing: Crossing): Promise<Descent> {
  const { request, by } = crossing;
  const second = Math.min(by.maxDigits, (await estimatedRows(request)) > (request.deepStartRows ?? 4_000_000) ? 4 : 2);
  const descent: Descent = {
    leaves: [],
    identical: 0,
    segments: 0,
    levels: 1,
    totals: { v1: 0, v2: 0 },
    keyProblems: { v1: 0, v2: 0 },
  };
  let digits = 0;
  let pending: string[] | undefined;
  for (;;) {
    const first = descent.levels === 1;
    const [a, b] = await Promise.all([
      segmentsOf(crossing, 'v1', { digits, pending, first }),
      segmentsOf(crossing, 'v2', { digits, pending, first }),
    ]);
    if (first) {
      for (const [side, found] of [['v1', a] as const, ['v2', b] as const]) {
        for (const s of found.values()) {
          descent.totals[side] += s.n;
          descent.keyProblems[side] += s.n - s.keys + s.nulls;
        }
      }
      if (descent.keyProblems.v1 > 0 || descent.keyProblems.v2 > 0) return descent;
    }
    const deeper: string[] = [];
    const prefixes = new Set(a.keys());
    for (const prefix of b.keys()) prefixes.add(prefix);
    for (const prefix of prefixes) {
      descent.segments++;
      const x = a.get(prefix);
      const y = b.get(prefix);
      if (x && y && x.n === y.n && x.sum === y.sum) {
        descent.identical += x.n;
        continue;
      }
      const size = Math.max(x?.n ?? 0, y?.n ?? 0);
      if (size > (request.leafRows ?? 32) && digits < by.maxDigits && x && y) deeper.push(prefix);
      else descent.leaves.push(prefix);
    }
    if (deeper.length > (request.maxPending ?? MAX_PENDING)) {
      // Differences everywhere: the differing segments are compared whole, not split.
      descent.leaves.push(...deeper);
      return descent;
    }
    if (deeper.length === 0) return descent;
    pending = deeper;
    digits = first
      ? second
      : Math.min(by.maxDigits, digits + (deeper.length * 256 > (request.maxChecksums ?? MAX_CHECKSUMS) ? 1 : 2));
    descent.levels++;
  }
}

/**
 * The segments of one level on one side, by `digits` hex digits (0: the whole table, the one segment ''): within the
 * `pending` segments of the level above (everything at the `first` level).
 */
async function segmentsOf(
  { engines, forms: both, by, unique }: Crossing,
  side: Side,
  { digits, pending, first }: { digits: number; pending: string[] | undefined; first: boolean },
): Promise<Map<string, Segment>> {
  const engine = engines[side];
  const forms = both[side];
  // Distinct keys are counted at the first level only, and not where a unique index holds them.
  const withKeys = first && !unique[side];
  const within = pending ? `WHERE ${await inPrefixes({ engine, forms }, by, pending, `pending_${side}`)}` : '';
  // The whole table (0 digits) is the one segment '': nothing to group by.
  const grouped = digits > 0;
  const found = await engine.query(
    `SELECT ${grouped ? 'p, ' : ''}count(*) AS n, ${withKeys ? 'count(DISTINCT kd)' : 'count(*)'} AS keys,
            count(*) FILTER (WHERE nk) AS nulls, sum(h)::VARCHAR AS s
       FROM (SELECT ${grouped ? `${by.of(forms, digits)} AS p, ` : ''}${withKeys ? by.distinct(forms) : 'NULL'} AS kd,
                    (${forms.nullKey}) AS nk, ${hash60(engine.dialect, forms.rt)} AS h
               FROM ${engine.from} ${within}) t
      ${grouped ? 'GROUP BY p' : ''}`,
  );
  return new Map(
    found.map((r) => [
      grouped ? by.name(r.p, digits) : '',
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
  { engine, forms }: { engine: Pick<Engine, 'dialect' | 'query'>; forms: Forms },
  by: Segmenting,
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
      `CREATE OR REPLACE TEMP TABLE ${table} AS
         SELECT unnest([${prefixes.map(by.value).join(', ')}]::${by.type}[]) AS p,
                unnest([${prefixes.map((p) => p.length).join(', ')}]::INTEGER[]) AS d`,
    );
  }
  return [...byLength.entries()]
    .map(
      ([length, list]) =>
        `${by.of(forms, length)} IN (${table ? `SELECT p FROM ${table} WHERE d = ${length}` : list.map(by.value).join(', ')})`,
    )
    .join(' OR ');
}

/**
 * The leaves' rows of both sides as DuckDB tables `leaf_v1`, `leaf_v2`, in one typing for both (numbers as DOUBLE,
 * timestamps as microseconds, booleans as they are, the rest as text), and the column plans over them. A file's
 * rows are selected where they lie; a database's are copied out (the rows transferred) as CSV for DuckDB to read.
 */
async function bringLeaves(
  crossing: Crossing,
  leaves: string[],
): Promise<{ transferred: number; plans: ColumnPlan[]; integers: Set<string> }> {
  const { session, request, engines, by, columns, compared } = crossing;
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
    columnPlan({ name, types: { v1: duckType(name), v2: duckType(name) }, tolerance: spec.tolerances[name], i }),
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
    const filter =
      leaves.length > 0 ? await inPrefixes({ engine: here, forms }, by, leaves, `leaves_${side}`) : 'false';
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
