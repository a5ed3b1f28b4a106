/**
 * The keyed diff of V1's and V2's output files, on DuckDB: a full outer join on the output's key that counts,
 * per column, equal / within tolerance / differing / null on one side, with the largest differences and a
 * sample of differing rows side by side (the comparison: ./diff-query.ts; the engine: ./diff-engine.ts). Runs in
 * activities only (never in workflow code).
 *
 * Both files are read straight by the join (no copy into tables), in a database whose memory is bounded
 * (`memory_limit`) and whose overflow spills to `temp_directory` in the cutover's work folder; every query is
 * interruptible. `npm run bench diff` measures it against DuckDB's bare join and a hand-written one.
 */
import type { OutputSpec } from '../plan/schema';
import type { OutputDiff } from '../shapes/evidence';
import {
  checkFormat,
  countLines,
  DiffCancelledError,
  DiffInputError,
  firstLine,
  ident,
  isInputError,
  readerFor,
  type Column,
  type Session,
} from './diff-engine';
import {
  count,
  finish,
  finishWithLimits,
  joinQuery,
  matchColumns,
  newResult,
  samplesOf,
  Tally,
  type Group,
  type Side,
} from './diff-query';

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
