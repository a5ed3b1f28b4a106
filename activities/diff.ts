/**
 * The keyed diff of V1's and V2's output tables, on DuckDB: a full outer join on the output's key that counts,
 * per column, equal / within tolerance / differing / null on one side, with the largest differences and a
 * sample of differing rows side by side. Runs in activities only (never in workflow code).
 *
 * Each side is read once into a table of an in-memory database whose memory is bounded (`memory_limit`) and
 * whose overflow spills to `temp_directory` in the cutover's work folder; every query is interruptible.
 */
import { open, rm } from 'node:fs/promises';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { ColumnTolerance, OutputFormat, OutputSpec } from '../plan/schema';
import type { ColumnDiff, DiffSample, OutputDiff, SampleValue } from './types';

/** Where the engine may spill and how much memory and how many threads it may take (the worker's config). */
export interface DiffEngineOptions {
  /** DuckDB's `memory_limit`, such as `512MB`. @default DuckDB's (80 % of RAM) */
  memoryLimit?: string;
  /** @default DuckDB's (every core) */
  threads?: number;
  /** A folder of this diff's own: created by DuckDB when it spills, removed afterwards. */
  tempDirectory: string;
  /** Aborts the query in flight (the connection's interrupt). */
  signal?: AbortSignal;
  /** Called every `tickMs` while a query runs: the activity's heartbeat. */
  onTick?: () => void;
  tickMs?: number;
}

export interface DiffRequest {
  output: string;
  dataset: string;
  spec: OutputSpec;
  v1File: string;
  v2File: string;
}

/** Bad input (a missing file, another format, a missing key column, too few rows): final, names what and where. */
export class DiffInputError extends Error {
  override readonly name = 'DiffInputError';
}

/** The query was interrupted because the activity was cancelled. */
export class DiffCancelledError extends Error {
  override readonly name = 'DiffCancelledError';
}

const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)/;
const TEXT_OR_BOOL = /^(VARCHAR|BOOLEAN)$/;

export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
export const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** The table function that reads `file` as `format`. */
export function readerFor(file: string, format: OutputFormat): string {
  if (format === 'parquet') return `read_parquet(${literal(file)})`;
  if (format === 'jsonl') return `read_json(${literal(file)}, format = 'newline_delimited')`;
  return `read_csv(${literal(file)}, header = true)`;
}

/** Checks the first bytes, so a file in another format than declared is named as such, not as a parse error. */
async function checkFormat(where: string, file: string, format: OutputFormat): Promise<void> {
  let head: Buffer;
  try {
    const handle = await open(file, 'r');
    try {
      const buf = Buffer.alloc(64);
      const { bytesRead } = await handle.read(buf, 0, 64, 0);
      head = buf.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DiffInputError(
      `${where}: ${code === 'ENOENT' ? 'no such file (the pipeline did not write it)' : `cannot read (${code ?? String(err)})`}: ${file}`,
    );
  }
  const parquet = head.subarray(0, 4).toString('latin1') === 'PAR1';
  const first = head.toString('utf8').trimStart()[0];
  if (format === 'parquet' && !parquet)
    throw new DiffInputError(`${where}: not a Parquet file (declared parquet): ${file}`);
  if (format !== 'parquet' && parquet)
    throw new DiffInputError(`${where}: is a Parquet file, declared ${format}: ${file}`);
  if (format === 'jsonl' && first !== undefined && first !== '{')
    throw new DiffInputError(
      `${where}: not JSON lines (declared jsonl; starts with ${JSON.stringify(head.toString('utf8').slice(0, 20))}): ${file}`,
    );
  if (format === 'csv' && first === '{')
    throw new DiffInputError(`${where}: looks like JSON lines, declared csv: ${file}`);
}

interface Column {
  name: string;
  type: string;
}

/** Runs queries on one connection; interrupts on abort and ticks while a query runs. */
class Session {
  constructor(
    private readonly connection: DuckDBConnection,
    private readonly options: DiffEngineOptions,
  ) {}

  async rows(sql: string): Promise<Record<string, SampleValue>[]> {
    const { signal, onTick } = this.options;
    if (signal?.aborted) throw new DiffCancelledError('diff cancelled');
    const interrupt = () => this.connection.interrupt();
    signal?.addEventListener('abort', interrupt, { once: true });
    const ticker = onTick ? setInterval(onTick, this.options.tickMs ?? 5000) : undefined;
    try {
      const reader = await this.connection.runAndReadAll(sql);
      return reader.getRowObjectsJson() as Record<string, SampleValue>[];
    } catch (err) {
      if (signal?.aborted) throw new DiffCancelledError('diff cancelled: the query was interrupted');
      throw err;
    } finally {
      signal?.removeEventListener('abort', interrupt);
      if (ticker) clearInterval(ticker);
    }
  }
}

/** Opens a bounded engine, runs `work`, and removes its spill folder whatever happens. */
export async function withDiffEngine<T>(
  options: DiffEngineOptions,
  work: (session: Session) => Promise<T>,
): Promise<T> {
  const config: Record<string, string> = { temp_directory: options.tempDirectory };
  if (options.memoryLimit) config.memory_limit = options.memoryLimit;
  if (options.threads) config.threads = String(options.threads);
  const instance = await DuckDBInstance.create(':memory:', config);
  const connection = await instance.connect();
  try {
    return await work(new Session(connection, options));
  } finally {
    connection.closeSync();
    instance.closeSync();
    await rm(options.tempDirectory, { recursive: true, force: true });
  }
}

/** Diffs one output of one dataset. Bad input throws DiffInputError; limits exceeded give verdict 'fail'. */
export async function diffOutput(session: Session, request: DiffRequest): Promise<OutputDiff> {
  const started = performance.now();
  const { output, dataset, spec } = request;
  const sides = [
    { side: 'v1', label: 'V1', file: request.v1File },
    { side: 'v2', label: 'V2', file: request.v2File },
  ] as const;
  const where = (label: string, file: string) => `output "${output}", dataset ${dataset}, ${label}'s file ${file}`;
  const columns: Record<'v1' | 'v2', Column[]> = { v1: [], v2: [] };
  const counts = { v1: 0, v2: 0 };
  for (const { side, label, file } of sides) {
    await checkFormat(`output "${output}", dataset ${dataset}, ${label}`, file, spec.format);
    try {
      await session.rows(`CREATE OR REPLACE TABLE ${side} AS SELECT * FROM ${readerFor(file, spec.format)}`);
    } catch (err) {
      // Out of memory or an interrupted query is not the file's fault: it goes back to the caller as it is.
      if (err instanceof DiffCancelledError || !isInputError(err)) throw err;
      throw new DiffInputError(`${where(label, file)}: cannot read as ${spec.format}: ${firstLine(err)}`);
    }
    columns[side] = (await session.rows(`DESCRIBE ${side}`)).map((r) => ({
      name: String(r.column_name),
      type: String(r.column_type),
    }));
    for (const key of spec.key) {
      if (!columns[side].some((c) => c.name === key))
        throw new DiffInputError(
          `${where(label, file)}: no key column "${key}" (columns: ${columns[side].map((c) => c.name).join(', ')})`,
        );
    }
    counts[side] = Number((await session.rows(`SELECT count(*) AS n FROM ${side}`))[0]?.n);
    if (counts[side] < spec.minRows)
      throw new DiffInputError(
        `${where(label, file)}: ${counts[side]} row(s), expected at least ${spec.minRows}${counts[side] === 0 ? ' (empty output)' : ''}`,
      );
  }

  const names = { v1: new Set(columns.v1.map((c) => c.name)), v2: new Set(columns.v2.map((c) => c.name)) };
  const ignored = new Set(spec.ignore);
  const onlyInV1 = columns.v1.filter((c) => !names.v2.has(c.name) && !ignored.has(c.name)).map((c) => c.name);
  const onlyInV2 = columns.v2.filter((c) => !names.v1.has(c.name) && !ignored.has(c.name)).map((c) => c.name);
  const failures: string[] = [];
  const named = new Set([...(spec.columns ?? []), ...Object.keys(spec.tolerances)]);
  for (const column of named) {
    const in1 = names.v1.has(column);
    const in2 = names.v2.has(column);
    if (!in1 && !in2) failures.push(`column "${column}" is in neither file (the plan names it)`);
    else if (!in1 || !in2) failures.push(`column "${column}" only in ${in1 ? 'V1' : 'V2'}'s file (the plan names it)`);
  }

  const keyList = spec.key.map(ident).join(', ');
  const duplicates = { v1: 0, v2: 0, nullKeys: { v1: 0, v2: 0 }, examples: [] as DiffSample['key'][] };
  for (const { side, label } of sides) {
    const nullKey = spec.key.map((k) => `${ident(k)} IS NULL`).join(' OR ');
    const [row] = await session.rows(
      `SELECT (SELECT count(*) FROM ${side} WHERE ${nullKey}) AS nulls,
              (SELECT count(*) FROM (SELECT 1 FROM ${side} GROUP BY ${keyList} HAVING count(*) > 1)) AS groups`,
    );
    duplicates.nullKeys[side] = Number(row?.nulls);
    duplicates[side] = Number(row?.groups);
    if (duplicates[side] > 0) {
      const examples = await session.rows(
        `SELECT ${keyList}, count(*) AS copies FROM ${side} GROUP BY ${keyList} HAVING count(*) > 1 ORDER BY ${keyList} LIMIT 5`,
      );
      for (const e of examples) duplicates.examples.push({ side, ...e });
      failures.push(`${duplicates[side]} duplicate key(s) in ${label}'s file (the join would fan out)`);
    }
    if (duplicates.nullKeys[side] > 0)
      failures.push(`${duplicates.nullKeys[side]} row(s) with a NULL key in ${label}'s file`);
  }

  const compared = columns.v1.filter((c) => names.v2.has(c.name) && !ignored.has(c.name) && !spec.key.includes(c.name));
  const typeOf = (name: string) => ({
    v1: columns.v1.find((c) => c.name === name)?.type ?? '',
    v2: columns.v2.find((c) => c.name === name)?.type ?? '',
  });
  const plans = compared.map((c, i) => columnPlan(c.name, typeOf(c.name), spec.tolerances[c.name], i));
  const result: OutputDiff = {
    output,
    dataset,
    format: spec.format,
    files: { v1: request.v1File, v2: request.v2File },
    key: spec.key,
    rows: { v1: counts.v1, v2: counts.v2, both: 0, onlyV1: 0, onlyV2: 0, differing: 0 },
    limits: { maxDifferingRows: spec.maxDifferingRows, maxMissingRows: spec.maxMissingRows },
    columns: [],
    onlyInV1,
    onlyInV2,
    ignored: [...ignored],
    duplicates: { v1: duplicates.v1, v2: duplicates.v2, examples: duplicates.examples },
    samples: [],
    verdict: 'pass',
    failures,
    durationMs: 0,
  };
  if (duplicates.v1 + duplicates.v2 + duplicates.nullKeys.v1 + duplicates.nullKeys.v2 > 0) {
    // A join on duplicate keys would count rows more than once: report them and stop here.
    return finish(result, started);
  }

  const on = spec.key.map((k) => `a.${ident(k)} = b.${ident(k)}`).join(' AND ');
  const present = `a.${ident(spec.key[0] as string)} IS NOT NULL AS in1, b.${ident(spec.key[0] as string)} IS NOT NULL AS in2`;
  const perRow = plans.map(
    (p) => `${p.status} AS s${p.i}${p.numeric ? `, ${p.absolute} AS d${p.i}, ${p.relative} AS r${p.i}` : ''}`,
  );
  const joined = `SELECT ${[present, ...perRow].join(', ')} FROM v1 a FULL OUTER JOIN v2 b ON ${on}`;
  const anyDiffers = plans.length > 0 ? plans.map((p) => `s${p.i} >= 2`).join(' OR ') : 'false';
  const aggregates = [
    'count(*) FILTER (WHERE in1 AND in2) AS both_',
    'count(*) FILTER (WHERE NOT in2) AS only1',
    'count(*) FILTER (WHERE NOT in1) AS only2',
    `count(*) FILTER (WHERE in1 AND in2 AND (${anyDiffers})) AS differing`,
    ...plans.flatMap((p) => [
      ...[0, 1, 2, 3].map((code) => `count(*) FILTER (WHERE in1 AND in2 AND s${p.i} = ${code}) AS c${p.i}_${code}`),
      ...(p.numeric
        ? [`max(d${p.i}) FILTER (WHERE in1 AND in2) AS d${p.i}`, `max(r${p.i}) FILTER (WHERE in1 AND in2) AS r${p.i}`]
        : []),
    ]),
  ];
  const [totals = {}] = await session.rows(`WITH j AS (${joined}) SELECT ${aggregates.join(', ')} FROM j`);
  const n = (k: string) => Number(totals[k] ?? 0);
  result.rows = { ...result.rows, both: n('both_'), onlyV1: n('only1'), onlyV2: n('only2'), differing: n('differing') };
  result.columns = plans.map((p): ColumnDiff => {
    const maxAbsolute = p.numeric ? totals[`d${p.i}`] : undefined;
    const maxRelative = p.numeric ? totals[`r${p.i}`] : undefined;
    return {
      column: p.name,
      type: p.types.v1 === p.types.v2 ? p.types.v1 : `${p.types.v1} / ${p.types.v2}`,
      equal: n(`c${p.i}_0`),
      withinTolerance: n(`c${p.i}_1`),
      differing: n(`c${p.i}_2`),
      nullOneSide: n(`c${p.i}_3`),
      ...(maxAbsolute !== undefined && maxAbsolute !== null ? { maxAbsolute: Number(maxAbsolute) } : {}),
      ...(maxRelative !== undefined && maxRelative !== null ? { maxRelative: Number(maxRelative) } : {}),
      ...(p.tolerance ? { tolerance: p.tolerance } : {}),
    };
  });

  if (spec.sample > 0 && result.rows.differing + result.rows.onlyV1 + result.rows.onlyV2 > 0) {
    const keys = spec.key.map((k) => `coalesce(a.${ident(k)}, b.${ident(k)}) AS ${ident(`k:${k}`)}`);
    const values = plans.flatMap((p) => [
      `a.${ident(p.name)} AS ${ident(`v1:${p.name}`)}`,
      `b.${ident(p.name)} AS ${ident(`v2:${p.name}`)}`,
    ]);
    const statuses = plans.map((p) => `${p.status} AS s${p.i}`);
    const rows = await session.rows(
      `WITH j AS (SELECT ${[...keys, present, ...statuses, ...values].join(', ')} FROM v1 a FULL OUTER JOIN v2 b ON ${on})
       SELECT * FROM j WHERE NOT in1 OR NOT in2 OR ${anyDiffers}
       ORDER BY ${spec.key.map((k) => ident(`k:${k}`)).join(', ')} LIMIT ${spec.sample}`,
    );
    result.samples = rows.map((row) => {
      const key = Object.fromEntries(spec.key.map((k) => [k, row[`k:${k}`] ?? null]));
      const presence = row.in1 && row.in2 ? 'both' : row.in1 ? 'v1' : 'v2';
      const side = (prefix: string) =>
        Object.fromEntries(plans.map((p) => [p.name, row[`${prefix}:${p.name}`] ?? null]));
      return {
        key,
        presence,
        ...(row.in1 ? { v1: side('v1') } : {}),
        ...(row.in2 ? { v2: side('v2') } : {}),
        differs: presence === 'both' ? plans.filter((p) => Number(row[`s${p.i}`]) >= 2).map((p) => p.name) : [],
      };
    });
  }
  const examples = (...presence: DiffSample['presence'][]) => {
    const keys = result.samples.filter((x) => presence.includes(x.presence)).slice(0, 3);
    return keys.length > 0
      ? `; e.g. ${spec.key.join('/')} ${keys.map((x) => spec.key.map((k) => String(x.key[k])).join('/')).join(', ')}`
      : '';
  };
  const missing = Math.max(result.rows.onlyV1, result.rows.onlyV2);
  if (result.rows.differing > spec.maxDifferingRows) {
    const worst = [...result.columns]
      .filter((c) => c.differing + c.nullOneSide > 0)
      .sort((a, b) => b.differing + b.nullOneSide - (a.differing + a.nullOneSide))
      .slice(0, 3)
      .map((c) => `${c.column} ${c.differing + c.nullOneSide}`);
    failures.push(
      `${result.rows.differing} differing row(s), limit ${spec.maxDifferingRows} (by column: ${worst.join(', ')})${examples('both')}`,
    );
  }
  if (missing > spec.maxMissingRows) {
    failures.push(
      `rows missing: ${result.rows.onlyV1} only in V1, ${result.rows.onlyV2} only in V2, limit ${spec.maxMissingRows} per side${examples('v1', 'v2')}`,
    );
  }

  return finish(result, started);
}

function finish(result: OutputDiff, started: number): OutputDiff {
  result.verdict = result.failures.length === 0 ? 'pass' : 'fail';
  result.durationMs = Math.round(performance.now() - started);
  return result;
}

interface ColumnPlan {
  i: number;
  name: string;
  types: { v1: string; v2: string };
  numeric: boolean;
  tolerance?: ColumnTolerance;
  /** 0 equal, 1 within tolerance, 2 differing, 3 NULL on one side only. */
  status: string;
  absolute: string;
  relative: string;
}

/**
 * How one column is compared. Numbers (both sides numeric) by value, within `absolute` or `relative` of V1's
 * value; where V1's value is 0 only `absolute` can pass a difference. Text and booleans exactly, or after `trim`
 * and `ignoreCase` when the plan says so; columns of different kinds as text. NULL on both sides is equal.
 */
export function columnPlan(
  name: string,
  types: { v1: string; v2: string },
  tolerance: ColumnTolerance | undefined,
  i: number,
): ColumnPlan {
  const a = `a.${ident(name)}`;
  const b = `b.${ident(name)}`;
  const numeric = NUMERIC.test(types.v1) && NUMERIC.test(types.v2);
  const nullOneSide = `((${a} IS NULL) <> (${b} IS NULL))`;
  if (numeric) {
    const x = `${a}::DOUBLE`;
    const y = `${b}::DOUBLE`;
    const absolute = `abs(${y} - ${x})`;
    const relative = `CASE WHEN ${x} <> 0 THEN abs(${y} - ${x}) / abs(${x}) END`;
    const within: string[] = [];
    if (tolerance?.absolute !== undefined) within.push(`${absolute} <= ${tolerance.absolute}`);
    if (tolerance?.relative !== undefined)
      within.push(`(${x} <> 0 AND ${absolute} / abs(${x}) <= ${tolerance.relative})`);
    const status = `CASE WHEN ${a} IS NOT DISTINCT FROM ${b} THEN 0 WHEN ${nullOneSide} THEN 3${
      within.length > 0 ? ` WHEN ${within.join(' OR ')} THEN 1` : ''
    } ELSE 2 END`;
    return { i, name, types, numeric, ...(tolerance ? { tolerance } : {}), status, absolute, relative };
  }
  // Same kind: compared as they are. Different kinds (a number and a text): compared as text.
  const sameKind = TEXT_OR_BOOL.test(types.v1) && types.v1 === types.v2;
  const x = sameKind ? a : `CAST(${a} AS VARCHAR)`;
  const y = sameKind ? b : `CAST(${b} AS VARCHAR)`;
  const loosen = (side: string) => {
    let t = `${side}::VARCHAR`;
    if (tolerance?.trim) t = `trim(${t})`;
    if (tolerance?.ignoreCase) t = `lower(${t})`;
    return t;
  };
  const loose = tolerance?.trim || tolerance?.ignoreCase;
  const status = `CASE WHEN ${x} IS NOT DISTINCT FROM ${y} THEN 0 WHEN ${nullOneSide} THEN 3${
    loose ? ` WHEN ${loosen(a)} = ${loosen(b)} THEN 1` : ''
  } ELSE 2 END`;
  return { i, name, types, numeric, ...(tolerance ? { tolerance } : {}), status, absolute: 'NULL', relative: 'NULL' };
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]?.slice(0, 300) ?? '';
}

/** DuckDB's errors that mean the file is not what was declared (as opposed to out of memory or interrupted). */
function isInputError(err: unknown): boolean {
  return /^(Invalid Input|Conversion|IO|Parser|Binder|Invalid) Error/.test(firstLine(err).replace(/^Error: /, ''));
}
