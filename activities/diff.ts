/**
 * The keyed diff of V1's and V2's output tables, on DuckDB: a full outer join on the output's key that counts,
 * per column, equal / within tolerance / differing / null on one side, with the largest differences and a
 * sample of differing rows side by side. Runs in activities only (never in workflow code).
 *
 * Both files are read straight by the join (no copy into tables), in a database whose memory is bounded
 * (`memory_limit`) and whose overflow spills to `temp_directory` in the cutover's work folder; every query is
 * interruptible. `npm run bench diff` measures it against DuckDB's bare join and a hand-written one.
 */
import { open, rm } from 'node:fs/promises';
import type * as DuckDB from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ColumnTolerance, OutputFormat, OutputSpec } from '../plan/schema';
import { outputLimitFailures } from '../verdicts/outputs';
import type { ColumnDiff, DiffSample, OutputDiff, SampleValue } from '../shapes/evidence';

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
  /** Where each side is: a file of `spec.format`, or (with `tables`) how messages name the table. */
  v1File: string;
  v2File: string;
  /**
   * Each side as a table the session already reads (a DuckDB database attached read-only: `"v1"."main"."t"`)
   * instead of a file: a dbt model diffed where it lives. Then nothing is read as a file.
   */
  tables?: Record<Side, string>;
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
export async function checkFormat(where: string, file: string, format: OutputFormat): Promise<void> {
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

export interface Column {
  name: string;
  type: string;
}

/** Runs queries on the engine's connections; interrupts on abort and ticks while a query runs. */
export class Session {
  constructor(
    private readonly connections: [DuckDBConnection, DuckDBConnection],
    private readonly options: DiffEngineOptions,
  ) {}

  /** One query's rows, on connection `on` (two queries may run at once, one per connection). */
  async rows(sql: string, on: 0 | 1 = 0): Promise<Record<string, SampleValue>[]> {
    const { signal, onTick } = this.options;
    if (signal?.aborted) throw new DiffCancelledError('diff cancelled');
    const connection = this.connections[on];
    const interrupt = () => connection.interrupt();
    signal?.addEventListener('abort', interrupt, { once: true });
    const ticker = onTick ? setInterval(onTick, this.options.tickMs ?? 5000) : undefined;
    try {
      const reader = await connection.runAndReadAll(sql);
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
  // Insertion order is of no use to a diff, and keeping it costs memory.
  const config: Record<string, string> = { temp_directory: options.tempDirectory, preserve_insertion_order: 'false' };
  if (options.memoryLimit) config.memory_limit = options.memoryLimit;
  if (options.threads) config.threads = String(options.threads);
  // Loaded on the first diff, not with the activities: DuckDB's library is 25 MB of a worker's resident memory,
  // and a worker that never diffs (one that only waits at gates, or runs production) need not map it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DuckDBInstance } = require('@duckdb/node-api') as typeof DuckDB;
  const instance = await DuckDBInstance.create(':memory:', config);
  const connections: [DuckDBConnection, DuckDBConnection] = [await instance.connect(), await instance.connect()];
  try {
    return await work(new Session(connections, options));
  } finally {
    for (const connection of connections) connection.closeSync();
    instance.closeSync();
    await rm(options.tempDirectory, { recursive: true, force: true });
  }
}

/** A marker added to each side's rows: its presence marks the side, even where the key is NULL. */
const ROW = '__cutover_row';

export type Side = 'v1' | 'v2';
/** One row of the join's aggregate: one combination of presence and column statuses. */
export type Group = Record<string, SampleValue>;

/** The two sides of a request, with the labels that messages use and the relation a query reads. */
function sidesOf(request: DiffRequest) {
  const from = (side: Side, file: string) => request.tables?.[side] ?? readerFor(file, request.spec.format);
  return [
    { side: 'v1', label: 'V1', file: request.v1File, from: from('v1', request.v1File) },
    { side: 'v2', label: 'V2', file: request.v2File, from: from('v2', request.v2File) },
  ] as const;
}

/**
 * Diffs one output of one dataset in one pass: a full outer join on the key straight over both files, whose
 * aggregate counts every class per column, collects the first `sample` differing rows by key (`arg_min` with a
 * count), and checks that no key appears twice in the join (a duplicate on either side would make it fan out).
 * Only when there are duplicates are the files read again, to say how many and which. Bad input throws
 * DiffInputError; limits exceeded give verdict 'fail'.
 */
export async function diffOutput(session: Session, request: DiffRequest): Promise<OutputDiff> {
  const started = performance.now();
  const { output, dataset, spec } = request;
  const columns = await describeSides(session, request);
  const matched = matchColumns(columns, spec);
  const [v1, v2] = sidesOf(request);
  const { groups, lines } = await runJoin(
    session,
    request,
    joinQuery(spec, matched.plans, { v1: v1.from, v2: v2.from }),
  );
  const tally = new Tally(groups);
  const format = request.tables ? 'duckdb' : spec.format;
  const result = newResult({ output, dataset, spec }, format, { v1: request.v1File, v2: request.v2File }, matched);
  result.rows = tally.rows(matched.plans);
  if (tally.fannedOut(await fileRowCounts(session, request, lines))) {
    // A key appears twice in the join: a duplicate on one side at least, so every count above may be inflated.
    await explainDuplicates(session, request, result);
    return finish(result, started);
  }
  for (const { side, label, file } of sidesOf(request)) {
    if (result.rows[side] < spec.minRows)
      throw new DiffInputError(
        `${where(request, label, file)}: ${result.rows[side]} row(s), expected at least ${spec.minRows}${result.rows[side] === 0 ? ' (empty output)' : ''}`,
      );
  }
  result.columns = matched.plans.map((p) => tally.column(p));
  result.samples = samplesOf(groups, spec, matched.plans);
  return finishWithLimits(result, spec, started);
}

/** A diff's result before anything is counted: the output, where its sides are, the columns matched. */
export function newResult(
  request: { output: string; dataset: string; spec: OutputSpec },
  format: OutputDiff['format'],
  files: { v1: string; v2: string },
  matched: { onlyInV1: string[]; onlyInV2: string[]; failures: string[] },
): OutputDiff {
  const { spec } = request;
  return {
    output: request.output,
    dataset: request.dataset,
    format,
    ...(spec.dryRun ? { dryRun: true } : {}),
    files,
    key: spec.key,
    rows: { v1: 0, v2: 0, both: 0, onlyV1: 0, onlyV2: 0, differing: 0 },
    limits: { maxDifferingRows: spec.maxDifferingRows, maxMissingRows: spec.maxMissingRows },
    columns: [],
    onlyInV1: matched.onlyInV1,
    onlyInV2: matched.onlyInV2,
    ignored: [...new Set(spec.ignore)],
    duplicates: { v1: 0, v2: 0, examples: [] },
    samples: [],
    verdict: 'pass',
    failures: matched.failures,
    durationMs: 0,
  };
}

/** The output's limits held to the counts (with a few sample keys in each failure), then the verdict. */
export function finishWithLimits(result: OutputDiff, spec: OutputSpec, started: number): OutputDiff {
  const examples = (...presence: DiffSample['presence'][]) => {
    const keys = result.samples.filter((x) => presence.includes(x.presence)).slice(0, 3);
    return keys.length > 0
      ? `; e.g. ${spec.key.join('/')} ${keys.map((x) => spec.key.map((k) => String(x.key[k])).join('/')).join(', ')}`
      : '';
  };
  result.failures.push(
    ...outputLimitFailures(result, spec, (presence) => (presence === 'both' ? examples('both') : examples('v1', 'v2'))),
  );
  return finish(result, started);
}

const where = (request: DiffRequest, label: string, file: string) =>
  `output "${request.output}", dataset ${request.dataset}, ${label}'s ${request.tables ? 'table' : 'file'} ${file}`;

/** Each side's columns (both DESCRIBEs at once: for a CSV each is the sniffer reading the file's start). */
async function describeSides(session: Session, request: DiffRequest): Promise<Record<Side, Column[]>> {
  const { output, dataset, spec } = request;
  const sides = sidesOf(request);
  if (!request.tables)
    for (const { label, file } of sides)
      await checkFormat(`output "${output}", dataset ${dataset}, ${label}`, file, spec.format);
  const described = await Promise.allSettled(
    sides.map(({ from }, i) => session.rows(`DESCRIBE SELECT * FROM ${from}`, i as 0 | 1)),
  );
  const columns: Record<Side, Column[]> = { v1: [], v2: [] };
  for (const [i, { side, label, file }] of sides.entries()) {
    const answer = described[i] as PromiseSettledResult<Group[]>;
    if (answer.status === 'rejected') {
      const err: unknown = answer.reason;
      // Out of memory or an interrupted query is not the file's fault: it goes back to the caller as it is.
      if (err instanceof DiffCancelledError || !isInputError(err)) throw err;
      throw new DiffInputError(`${where(request, label, file)}: cannot read as ${spec.format}: ${firstLine(err)}`);
    }
    columns[side] = answer.value.map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
    for (const key of spec.key) {
      if (!columns[side].some((c) => c.name === key))
        throw new DiffInputError(
          `${where(request, label, file)}: no key column "${key}" (columns: ${columns[side].map((c) => c.name).join(', ')})`,
        );
    }
  }
  return columns;
}

/** The columns compared and how; those only one side has; the plan's named columns that a side lacks (failures). */
export function matchColumns(
  columns: Record<Side, Column[]>,
  spec: OutputSpec,
  noun = 'file',
): { plans: ColumnPlan[]; onlyInV1: string[]; onlyInV2: string[]; failures: string[] } {
  const names = { v1: new Set(columns.v1.map((c) => c.name)), v2: new Set(columns.v2.map((c) => c.name)) };
  const ignored = new Set(spec.ignore);
  const onlyInV1 = columns.v1.filter((c) => !names.v2.has(c.name) && !ignored.has(c.name)).map((c) => c.name);
  const onlyInV2 = columns.v2.filter((c) => !names.v1.has(c.name) && !ignored.has(c.name)).map((c) => c.name);
  const failures: string[] = [];
  for (const column of new Set([...(spec.columns ?? []), ...Object.keys(spec.tolerances)])) {
    const in1 = names.v1.has(column);
    const in2 = names.v2.has(column);
    if (!in1 && !in2) failures.push(`column "${column}" is in neither ${noun} (the plan names it)`);
    else if (!in1 || !in2)
      failures.push(`column "${column}" only in ${in1 ? 'V1' : 'V2'}'s ${noun} (the plan names it)`);
  }
  const compared = columns.v1.filter((c) => names.v2.has(c.name) && !ignored.has(c.name) && !spec.key.includes(c.name));
  const typeOf = (name: string) => ({
    v1: columns.v1.find((c) => c.name === name)?.type ?? '',
    v2: columns.v2.find((c) => c.name === name)?.type ?? '',
  });
  const plans = compared.map((c, i) =>
    columnPlan({ name: c.name, types: typeOf(c.name), tolerance: spec.tolerances[c.name], i }),
  );
  return { plans, onlyInV1, onlyInV2, failures };
}

/**
 * The one query: the full outer join on the key with each compared column's status per row, grouped by presence
 * and statuses (a handful of groups: counting them this way costs next to nothing, where a filtered count per
 * column and class costs a predicate per row each), with the largest differences, the NULL keys, the distinct
 * unmatched keys, and the first `sample` rows by key that differ. `sources`: each side's table expression (a file's
 * reader, or a table of rows brought from elsewhere: activities/cross-diff.ts).
 */
export function joinQuery(spec: OutputSpec, plans: ColumnPlan[], sources: Record<Side, string>): string {
  const source = (from: string) => `(SELECT *, 1 AS ${ident(ROW)} FROM ${from})`;
  const on = spec.key.map((k) => `a.${ident(k)} = b.${ident(k)}`).join(' AND ');
  const keyParts = spec.key.map((k, i) => `coalesce(a.${ident(k)}, b.${ident(k)}) AS k${i}`);
  const keyOf = spec.key.length === 1 ? 'k0' : `row(${spec.key.map((_, i) => `k${i}`).join(', ')})`;
  const anyKeyNull = spec.key.map((_, i) => `k${i} IS NULL`).join(' OR ');
  const matched = `a.${ident(ROW)} IS NOT NULL AND b.${ident(ROW)} IS NOT NULL`;
  // Statuses only where both sides have the row, so unmatched rows of one key fall in one group.
  const perRow = plans.flatMap((p) => [
    `CASE WHEN ${matched} THEN ${p.status} END AS s${p.i}`,
    ...(p.numeric ? [`${p.absolute} AS d${p.i}`, `${p.relative} AS r${p.i}`] : []),
    `a.${ident(p.name)} AS a${p.i}`,
    `b.${ident(p.name)} AS b${p.i}`,
  ]);
  const joined = `SELECT a.${ident(ROW)} IS NOT NULL AS in1, b.${ident(ROW)} IS NOT NULL AS in2, ${[...keyParts, ...perRow].join(', ')}
    FROM ${source(sources.v1)} a FULL OUTER JOIN ${source(sources.v2)} b ON ${on}`;
  const { anyDiffers, sampleFields } = sampleParts(spec, plans);
  const aggregates = [
    'count(*) AS n',
    `count(*) FILTER (WHERE ${anyKeyNull}) AS nullKeys`,
    // Unmatched rows sharing a key do not fan out: they are counted apart (a set as large as the unmatched rows).
    `count(DISTINCT ${keyOf}) FILTER (WHERE NOT (in1 AND in2) AND NOT (${anyKeyNull})) AS keys`,
    ...plans.flatMap((p) => (p.numeric ? [`max(d${p.i}) AS d${p.i}`, `max(r${p.i}) AS r${p.i}`] : [])),
    ...(spec.sample > 0
      ? [
          `arg_min(struct_pack(${sampleFields.map((f) => `${f} := ${f}`).join(', ')}), ${keyOf}, ${spec.sample})
             FILTER (WHERE NOT in1 OR NOT in2 OR ${anyDiffers}) AS samples`,
        ]
      : []),
  ];
  const groupBy = ['in1', 'in2', ...plans.map((p) => `s${p.i}`)];
  return `WITH j AS (${joined}) SELECT ${[...groupBy, ...aggregates].join(', ')} FROM j GROUP BY ${groupBy.join(', ')}`;
}

/**
 * What a sample is made of in the join (either engine's): whether a row differs, and the fields kept of it (its
 * key, its presence, and per compared column the status and both values).
 */
export function sampleParts(spec: OutputSpec, plans: ColumnPlan[]): { anyDiffers: string; sampleFields: string[] } {
  return {
    anyDiffers: plans.length > 0 ? plans.map((p) => `s${p.i} >= 2`).join(' OR ') : 'false',
    sampleFields: [
      ...spec.key.map((_, i) => `k${i}`),
      'in1',
      'in2',
      ...plans.flatMap((p) => [`s${p.i}`, `a${p.i}`, `b${p.i}`]),
    ],
  };
}

type LineCounts = [number | undefined, number | undefined];

/** Runs the join; a CSV's or JSON lines' records are counted by their line ends beside it (undefined: not so). */
async function runJoin(
  session: Session,
  request: DiffRequest,
  sql: string,
): Promise<{ groups: Group[]; lines: LineCounts }> {
  const { spec } = request;
  const lineCounts: Promise<LineCounts> =
    spec.format === 'parquet' || request.tables
      ? Promise.resolve([undefined, undefined])
      : Promise.all([countLines(request.v1File, spec.format), countLines(request.v2File, spec.format)]);
  try {
    const [groups, lines] = await Promise.all([session.rows(sql), lineCounts]);
    return { groups, lines };
  } catch (err) {
    if (err instanceof DiffCancelledError || !isInputError(err)) throw err;
    throw new DiffInputError(
      `output "${request.output}", dataset ${request.dataset}: cannot read ${request.v1File} or ${request.v2File} as ${spec.format}: ${firstLine(err)}`,
    );
  }
}

/**
 * Each file's own record count, to hold the join's rows per side against: a row of either side seen twice in the
 * join means a duplicate key on the other side. Parquet's footer, or the counted line ends; where lines and
 * records may differ, DuckDB's own count. None needs a set of every key in memory, which could not spill.
 */
async function fileRowCounts(session: Session, request: DiffRequest, lines: LineCounts): Promise<Record<Side, number>> {
  const [lines1, lines2] = lines;
  if (lines1 !== undefined && lines2 !== undefined) return { v1: lines1, v2: lines2 };
  const [v1, v2] = sidesOf(request);
  const [row] = await session.rows(
    `SELECT (SELECT count(*) FROM ${v1.from}) AS v1, (SELECT count(*) FROM ${v2.from}) AS v2`,
  );
  return { v1: count(row?.v1), v2: count(row?.v2) };
}

export const count = (v: SampleValue | undefined) => (v === null || v === undefined ? 0 : Number(v));

/** The join's groups summed: rows per presence, the fan-out check, and each column's classes. */
export class Tally {
  constructor(private readonly groups: Group[]) {}

  sum(pick: (g: Group) => boolean, field = 'n'): number {
    return this.groups.filter(pick).reduce((total, g) => total + count(g[field]), 0);
  }

  static both(g: Group): boolean {
    return g.in1 === true && g.in2 === true;
  }

  rows(plans: ColumnPlan[]): OutputDiff['rows'] {
    const differs = (g: Group) => Tally.both(g) && plans.some((p) => count(g[`s${p.i}`]) >= 2);
    return {
      v1: this.sum((g) => g.in1 === true),
      v2: this.sum((g) => g.in2 === true),
      both: this.sum(Tally.both),
      onlyV1: this.sum((g) => g.in1 === true && g.in2 !== true),
      onlyV2: this.sum((g) => g.in2 === true && g.in1 !== true),
      differing: this.sum(differs),
    };
  }

  /** Whether some key is on a side twice (or NULL): the join's rows differ from the files', or keys repeat. */
  fannedOut(fileRows: Record<Side, number>): boolean {
    const unmatched = (g: Group) => !Tally.both(g);
    const nullKeys =
      this.sum((g) => g.in1 === true && g.in2 !== true, 'nullKeys') +
      this.sum((g) => g.in2 === true && g.in1 !== true, 'nullKeys');
    return (
      this.sum((g) => g.in1 === true) !== fileRows.v1 ||
      this.sum((g) => g.in2 === true) !== fileRows.v2 ||
      this.sum(unmatched) - this.sum(unmatched, 'nullKeys') !== this.sum(unmatched, 'keys') ||
      nullKeys > 0
    );
  }

  column(p: ColumnPlan): ColumnDiff {
    const maxOf = (field: string) => {
      const values = this.groups
        .filter(Tally.both)
        .map((g) => g[field])
        .filter((v) => v !== null && v !== undefined);
      return values.length > 0 ? Math.max(...values.map(Number)) : undefined;
    };
    const of = (code: number) => this.sum((g) => Tally.both(g) && count(g[`s${p.i}`]) === code);
    return columnDiff(p, [of(0), of(1), of(2), of(3)], {
      absolute: p.numeric ? maxOf(`d${p.i}`) : undefined,
      relative: p.numeric ? maxOf(`r${p.i}`) : undefined,
    });
  }
}

/**
 * One column's line of the evidence from its counts of matched rows, by status (equal, within tolerance,
 * differing, NULL on one side), and its largest differences: however the counts were taken.
 */
export function columnDiff(
  p: ColumnPlan,
  [equal, withinTolerance, differing, nullOneSide]: [number, number, number, number],
  max: { absolute: number | undefined; relative: number | undefined },
): ColumnDiff {
  return {
    column: p.name,
    type: p.types.v1 === p.types.v2 ? p.types.v1 : `${p.types.v1} / ${p.types.v2}`,
    equal,
    withinTolerance,
    differing,
    nullOneSide,
    ...(max.absolute !== undefined ? { maxAbsolute: max.absolute } : {}),
    ...(max.relative !== undefined ? { maxRelative: max.relative } : {}),
    ...(p.tolerance ? { tolerance: p.tolerance } : {}),
  };
}

/**
 * Where the join fanned out: each side read again to say how many rows, duplicate keys (with a few examples)
 * and NULL keys it has. The join's counts are dropped (they may be inflated); the failures say why.
 */
async function explainDuplicates(session: Session, request: DiffRequest, result: OutputDiff): Promise<void> {
  const { spec } = request;
  result.rows = { v1: 0, v2: 0, both: 0, onlyV1: 0, onlyV2: 0, differing: 0 };
  const noun = request.tables ? 'table' : 'file';
  const keyList = spec.key.map(ident).join(', ');
  const nullKey = spec.key.map((k) => `${ident(k)} IS NULL`).join(' OR ');
  for (const { side, label, from } of sidesOf(request)) {
    const [row] = await session.rows(
      `SELECT (SELECT count(*) FROM ${from}) AS total, (SELECT count(*) FROM ${from} WHERE ${nullKey}) AS nulls,
              (SELECT count(*) FROM (SELECT 1 FROM ${from} WHERE NOT (${nullKey}) GROUP BY ${keyList} HAVING count(*) > 1)) AS groups`,
    );
    result.rows[side] = Number(row?.total);
    result.duplicates[side] = Number(row?.groups);
    if (result.duplicates[side] > 0) {
      const examples = await session.rows(
        `SELECT ${keyList}, count(*) AS copies FROM ${from} WHERE NOT (${nullKey}) GROUP BY ${keyList} HAVING count(*) > 1 ORDER BY ${keyList} LIMIT 5`,
      );
      for (const e of examples) result.duplicates.examples.push({ side, ...e });
      result.failures.push(
        `${result.duplicates[side]} duplicate key(s) in ${label}'s ${noun} (the join would fan out)`,
      );
    }
    if (Number(row?.nulls) > 0)
      result.failures.push(`${Number(row?.nulls)} row(s) with a NULL key in ${label}'s ${noun}`);
  }
}

/** The first `sample` differing rows by key, side by side: each group kept its first; the first of all of them. */
export function samplesOf(groups: Group[], spec: OutputSpec, plans: ColumnPlan[]): DiffSample[] {
  const candidates = groups.flatMap((g) => (Array.isArray(g.samples) ? g.samples : [])) as Group[];
  const keyTuple = (row: Group) => spec.key.map((_, i) => row[`k${i}`] ?? null);
  candidates.sort((x, y) => compareKeys(keyTuple(x), keyTuple(y)));
  return candidates.slice(0, spec.sample).map((row) => {
    const key = Object.fromEntries(spec.key.map((k, i) => [k, row[`k${i}`] ?? null]));
    const presence = row.in1 && row.in2 ? 'both' : row.in1 ? 'v1' : 'v2';
    const side = (prefix: 'a' | 'b') => Object.fromEntries(plans.map((p) => [p.name, row[`${prefix}${p.i}`] ?? null]));
    return {
      key,
      presence,
      ...(row.in1 ? { v1: side('a') } : {}),
      ...(row.in2 ? { v2: side('b') } : {}),
      differs: presence === 'both' ? plans.filter((p) => Number(row[`s${p.i}`]) >= 2).map((p) => p.name) : [],
    };
  });
}

/** Orders key tuples as DuckDB does for the usual key types: numbers by value, text by code point, NULL last. */
function compareKeys(a: SampleValue[], b: SampleValue[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? null;
    const y = b[i] ?? null;
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    const [p, q] = [
      typeof x === 'object' ? JSON.stringify(x) : String(x),
      typeof y === 'object' ? JSON.stringify(y) : String(y),
    ];
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

export function finish(result: OutputDiff, started: number): OutputDiff {
  result.verdict = result.failures.length === 0 ? 'pass' : 'fail';
  result.durationMs = Math.round(performance.now() - started);
  return result;
}

export interface ColumnPlan {
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
  {
    name,
    types,
    tolerance,
    i,
  }: { name: string; types: { v1: string; v2: string }; tolerance?: ColumnTolerance | undefined; i: number },
  /** How the expressions name the two sides' values. @default a."name" and b."name" */
  sides: { a: string; b: string } = { a: `a.${ident(name)}`, b: `b.${ident(name)}` },
): ColumnPlan {
  const { a, b } = sides;
  const numeric = NUMERIC.test(types.v1) && NUMERIC.test(types.v2);
  const nullOneSide = `((${a} IS NULL) <> (${b} IS NULL))`;
  if (numeric) {
    // FLOAT8: DuckDB's DOUBLE, PostgreSQL's double precision (the same plan serves both: activities/db-diff.ts).
    const x = `${a}::FLOAT8`;
    const y = `${b}::FLOAT8`;
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

/**
 * The records of a CSV (after its header) or JSON-lines file, by counting line ends, or undefined where lines and
 * records may differ: a CSV with any quote (a quoted field may hold a line break) or any blank line. A plain
 * byte scan rather than a parser, and on the main thread while DuckDB's threads join: exact where it answers.
 */
export async function countLines(file: string, format: OutputFormat): Promise<number | undefined> {
  const handle = await open(file, 'r');
  try {
    const buf = Buffer.alloc(4 << 20);
    let lines = 0;
    let offset = 0; // of the chunk in the file
    let previousEnd = -1; // the last line end seen, as an offset in the file
    let last = -1; // the last byte of the previous chunk
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
      if (format === 'csv' && chunk.includes(34)) return undefined;
      for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) {
        const length = offset + at - previousEnd - 1;
        const before = at > 0 ? chunk[at - 1] : last;
        if (length === 0 || (length === 1 && before === 13)) return undefined; // a blank line
        lines++;
        previousEnd = offset + at;
      }
      last = chunk[bytesRead - 1] as number;
      offset += bytesRead;
    }
    if (offset > previousEnd + 1) lines++; // a last line without a line end
    return format === 'csv' ? Math.max(0, lines - 1) : lines;
  } finally {
    await handle.close();
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]?.slice(0, 300) ?? '';
}

/** DuckDB's errors that mean the file is not what was declared (as opposed to out of memory or interrupted). */
function isInputError(err: unknown): boolean {
  return /^(Invalid Input|Conversion|IO|Parser|Binder|Invalid) Error/.test(firstLine(err).replace(/^Error: /, ''));
}
