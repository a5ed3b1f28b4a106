/**
 * The two sides of a cross diff as the descent drives them: a table of a PostgreSQL database or a file DuckDB reads,
 * each with its SQL dialect, its columns, the canonical text of its values (equal values give equal text in both
 * engines), its row hash, and how its key is segmented (by the key's range, or by md5 of its text).
 */
import type { ClientBase } from 'pg';
import type { OutputSpec } from '../plan/schema';
import { describeTable, qualified, rows as pgRows, shown, uniqueKey, type TableRef } from './db-diff';
import { checkFormat, DiffInputError, ident, literal, readerFor, type Column, type Session } from './diff-engine';
import type { Group, Side } from './diff-query';

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
  /**
   * Segments by the key's range (a single whole-number key on both sides, spanning less than 2^62) or by md5 of the
   * key's text. @default 'range' where the key allows it, else 'md5'
   */
  segmentBy?: 'range' | 'md5';
}

export const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)/;

export const INTEGER = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/;

/** Whole-number types every value of which a BIGINT holds: keys segmented by their range. */
const RANGED = /^(TINYINT|SMALLINT|INTEGER|BIGINT|UTINYINT|USMALLINT|UINTEGER)$/;

/** A key range this wide or wider is segmented by md5: its offsets from the smallest key could pass a BIGINT. */
const WIDEST_RANGE = 2n ** 62n;

export const TIMESTAMP = /^TIMESTAMP/;

/** The longest prefix, in hex digits of md5 (a level adds one or two). */
const MAX_DIGITS = 16;

/** A side as the algorithm drives it: its SQL dialect, its rows, and how to run a query there. */
export interface Engine {
  side: Side;
  label: string;
  at: string;
  dialect: 'postgres' | 'duckdb';
  from: string;
  query(sql: string): Promise<Group[]>;
}

/** Whether a side is a table whose key a unique index holds, every key column NOT NULL (a file never is). */
export function keyHeldUnique(side: CrossSide, key: string[]): Promise<boolean> {
  return side.kind === 'postgres' ? uniqueKey(side.client, side.table, key) : Promise.resolve(false);
}

export const where = (side: CrossSide) =>
  side.kind === 'postgres' ? `postgres:${side.database}:${shown(side.table)}` : side.file;

export const at = (request: CrossDiffRequest, side: Side) => {
  const s = request[side];
  const label = side === 'v1' ? 'V1' : 'V2';
  return `output "${request.output}", dataset ${request.dataset}, ${label}'s ${s.kind === 'postgres' ? `table ${shown(s.table)} in ${s.database}` : `file ${s.file}`}`;
};

export function engineOf(session: Session, request: CrossDiffRequest, side: Side): Engine {
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

export async function describeSide(engine: Engine, request: CrossDiffRequest): Promise<Column[]> {
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
export interface Forms {
  kt: string;
  rt: string;
  nullKey: string;
}

export function canonical(
  engine: Engine,
  spec: OutputSpec,
  compared: string[],
  typeOf: (name: string) => string,
): Forms {
  const scale = spec.scale ?? 6;
  const one = (name: string) => {
    const c = ident(name);
    const type = typeOf(name);
    // Whole numbers as they are; other numbers at a fixed scale, which both engines print with every digit.
    const text = INTEGER.test(type)
      ? `${c}::VARCHAR`
      : NUMERIC.test(type)
        ? `${c}::DECIMAL(${narrowDecimal(type, scale) ? 18 : 38}, ${scale})::VARCHAR`
        : TIMESTAMP.test(type)
          ? engine.dialect === 'postgres'
            ? `(extract(epoch from ${c}) * 1000000)::BIGINT::VARCHAR`
            : `epoch_us(${c})::VARCHAR`
          : `${c}::VARCHAR`;
    // NULL apart from every value: 'n', and every value prefixed 'v'. The same text in both engines, each written
    // its fastest way: PostgreSQL's || (its concat() took 2.6 s where || took 2.0 s, 10M rows of 5 columns); in
    // DuckDB one concat() of marks and texts, which skips a NULL (1.2 s of CPU where || took 2.4 s).
    return engine.dialect === 'postgres'
      ? `(CASE WHEN ${c} IS NULL THEN 'n' ELSE 'v' || ${text} END)`
      : `CASE WHEN ${c} IS NULL THEN 'n' ELSE 'v' END, ${text}`;
  };
  const joined = (parts: string[], separator: string) =>
    engine.dialect === 'postgres' ? parts.join(` || ${separator} || `) : parts.join(`, ${separator}, `);
  const finish = (pieces: string) => (engine.dialect === 'postgres' ? pieces : `concat(${pieces})`);
  // The key's parts apart by chr(31); then the compared columns', all apart by chr(30).
  const keyPieces = joined(spec.key.map(one), 'chr(31)');
  const kt = finish(keyPieces);
  const rt = finish(joined([keyPieces, ...compared.map(one)], 'chr(30)'));
  const nullKey = spec.key.map((k) => `${ident(k)} IS NULL`).join(' OR ');
  return { kt, rt, nullKey };
}

/**
 * Whether a DECIMAL(p, s) column's every value fits DECIMAL(18, scale): the same text as DECIMAL(38, scale), which
 * DuckDB makes ten times slower (a 128-bit number; measured at 10M rows: 1.44 s a column against 0.15 s).
 */
function narrowDecimal(type: string, scale: number): boolean {
  const declared = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(type);
  return declared !== null && Number(declared[1]) - Number(declared[2]) + scale <= 18;
}

/**
 * The first 60 bits of md5 of `text`, as a BIGINT, in either engine. PostgreSQL reads them from the hex digest.
 * DuckDB takes its digest as a number (md5_number: the 16 bytes little-endian, on every platform DuckDB runs on),
 * keeps the first 8 bytes and turns them big-endian: a third cheaper than through the hex text (measured at 10M
 * rows: 2.2 s of CPU against 3.2 s). Were the two ever to disagree, every segment would differ and every row
 * would cross and be compared: the transfer grows, the verdicts stand.
 */
export function hash60(dialect: Engine['dialect'], text: string): string {
  if (dialect === 'postgres') return `('x' || substr(md5(${text}), 1, 15))::bit(60)::bigint`;
  const first = `(md5_number(${text}) & 18446744073709551615::UHUGEINT)::UBIGINT`;
  // Byte i to byte 7 - i; DuckDB's bit operators share one precedence, hence the parentheses.
  const swapped = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `(((${first} >> ${8 * i}) & 255) << ${56 - 8 * i})`);
  return `((${swapped.join(' | ')}) >> 4)::BIGINT`;
}

/**
 * How rows fall into segments: a segment is a prefix of `digits` hex digits, of md5 of the key's canonical text
 * (any key), or of the key's offset from the smallest key of either side (one whole-number key: `byRange`).
 */
export interface Segmenting {
  kind: 'range' | 'md5';
  /** The longest prefix: 16 digits of md5, as many as the widest offset has by range. */
  maxDigits: number;
  /** A row's segment at `digits`, in SQL: the prefix itself (md5), the offset's leading digits as a number (range). */
  of(forms: Forms, digits: number): string;
  /** A segment as `of` gave it, as its prefix. */
  name(value: unknown, digits: number): string;
  /** A prefix as the SQL value `of` gives for it, and that value's type. */
  value(prefix: string): string;
  type: 'VARCHAR' | 'BIGINT';
  /** What a segment's distinct keys are counted by. */
  distinct(forms: Forms): string;
}

const byMd5: Segmenting = {
  kind: 'md5',
  maxDigits: MAX_DIGITS,
  of: (forms, digits) => `substr(md5(${forms.kt}), 1, ${digits})`,
  name: (value) => String(value),
  value: literal,
  type: 'VARCHAR',
  distinct: (forms) => forms.kt,
};

/**
 * Segments by the key's range, as reladiff segments a primary key: a row's segment costs a subtraction and a shift
 * where md5's costs a second hash of every row (measured at 10M rows, the first level in PostgreSQL: 12.3 s by md5,
 * 6.7 s by range). `lo` is the smallest key of either side, `digits` the hex digits of the widest offset.
 */
function byRange(key: string, lo: bigint, digits: number): Segmenting {
  return {
    kind: 'range',
    maxDigits: digits,
    of: (_, d) => `((${ident(key)}::BIGINT - (${lo})) >> ${4 * (digits - d)})`,
    // A NULL key's rows have no segment: they stop the diff at the first level (key problems), never split.
    name: (value, d) => (value === null ? 'null' : BigInt(String(value)).toString(16).padStart(d, '0')),
    value: (prefix) => BigInt(`0x${prefix}`).toString(),
    type: 'BIGINT',
    distinct: () => ident(key),
  };
}

/**
 * By range where the key allows it (one column, a whole number on both sides, less than 2^62 from the smallest key
 * to the largest: each side's ends are read, from its index where it has one); by md5 otherwise.
 */
export async function segmentingOf(
  request: CrossDiffRequest,
  engines: Record<Side, Engine>,
  typeOf: (side: Side, name: string) => string,
): Promise<Segmenting> {
  const [key, ...more] = request.spec.key;
  if (request.segmentBy === 'md5' || key === undefined || more.length > 0) return byMd5;
  if (!RANGED.test(typeOf('v1', key)) || !RANGED.test(typeOf('v2', key))) return byMd5;
  const ends = await Promise.all(
    (['v1', 'v2'] as const).map((side) =>
      engines[side].query(
        `SELECT min(${ident(key)})::VARCHAR AS lo, max(${ident(key)})::VARCHAR AS hi FROM ${engines[side].from}`,
      ),
    ),
  );
  const values = ends
    .flatMap(([row]) => [row?.lo, row?.hi])
    .flatMap((v) => (v === null || v === undefined ? [] : [BigInt(String(v))]));
  const lo = values.reduce((a, b) => (b < a ? b : a), values[0] ?? 0n);
  const hi = values.reduce((a, b) => (b > a ? b : a), lo);
  if (hi - lo >= WIDEST_RANGE) return byMd5;
  return byRange(key, lo, (hi - lo).toString(16).length);
}

/**
 * Lets PostgreSQL spread the checksum scans over its parallel workers, as many as its own settings allow
 * (max_parallel_workers_per_gather): its planner does not count md5's cost and would scan alone. And keeps it from
 * compiling the queries (JIT): its rows/cost guesses at 10M rows bring 0.35 s of compiling a process, for scans
 * that spend their time in md5. For this transaction only (SET LOCAL: read-only transactions may).
 */
export async function planChecksumScans(request: CrossDiffRequest): Promise<void> {
  for (const side of [request.v1, request.v2]) {
    if (side.kind !== 'postgres') continue;
    await side.client.query(
      `SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0; SET LOCAL min_parallel_table_scan_size = 0;
       SET LOCAL jit = off`,
    );
  }
}

/** The most rows a PostgreSQL side holds by its statistics (0 when none says: never analysed, a view, files). */
export async function estimatedRows(request: CrossDiffRequest): Promise<number> {
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
