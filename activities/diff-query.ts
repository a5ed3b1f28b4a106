/**
 * The comparison every keyed diff shares, whatever reads the rows (DuckDB on files or attached databases, DuckDB on
 * the leaves a cross diff brought over, PostgreSQL pushed down): each column's plan (numbers within tolerance, text
 * exactly), the one full outer join on the key that counts per column and keeps samples, the tally of its groups,
 * and the result with its limits. SQL both DuckDB and PostgreSQL run.
 */
import type { ColumnTolerance, OutputSpec } from '../plan/schema';
import type { ColumnDiff, DiffSample, OutputDiff, SampleValue } from '../shapes/evidence';
import { outputLimitFailures } from '../verdicts/outputs';
import { ident, type Column } from './diff-engine';

/** A marker added to each side's rows: its presence marks the side, even where the key is NULL. */
const ROW = '__cutover_row';

export const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL)/;

/** Kinds compared as they are when both sides have the same type (dates and times by value, not as text). */
const COMPARABLE =
  /^(VARCHAR|BOOLEAN|DATE|TIME|TIME WITH(OUT)? TIME ZONE|TIMESTAMP(_S|_MS|_NS| WITH TIME ZONE| WITHOUT TIME ZONE)?|TIMESTAMPTZ|UUID|INTERVAL)$/;

export type Side = 'v1' | 'v2';

/** One row of the join's aggregate: one combination of presence and column statuses. */
export type Group = Record<string, SampleValue>;

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
  // A number's differences: equal values differ by nothing (NULL and NULL, 0 and 0 too), the others as they do.
  const differs = (p: ColumnPlan, by: string) => `CASE WHEN ${matched} AND ${p.equal} THEN 0::FLOAT8 ELSE ${by} END`;
  const perRow = plans.flatMap((p) => [
    `CASE WHEN ${matched} THEN ${p.status} END AS s${p.i}`,
    ...(p.numeric ? [`${differs(p, p.absolute)} AS d${p.i}`, `${differs(p, p.relative)} AS r${p.i}`] : []),
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
  /** The status-0 test alone: the two sides' values are equal (NULL equal to NULL). */
  equal: string;
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
    const equal = `${a} IS NOT DISTINCT FROM ${b}`;
    const status = `CASE WHEN ${equal} THEN 0 WHEN ${nullOneSide} THEN 3${
      within.length > 0 ? ` WHEN ${within.join(' OR ')} THEN 1` : ''
    } ELSE 2 END`;
    return { i, name, types, numeric, ...(tolerance ? { tolerance } : {}), status, equal, absolute, relative };
  }
  // Same kind: compared as they are. Different kinds (a number and a text), or kinds without an equality: as text.
  const sameKind = COMPARABLE.test(types.v1) && types.v1 === types.v2;
  const x = sameKind ? a : `CAST(${a} AS VARCHAR)`;
  const y = sameKind ? b : `CAST(${b} AS VARCHAR)`;
  const loosen = (side: string) => {
    let t = `${side}::VARCHAR`;
    if (tolerance?.trim) t = `trim(${t})`;
    if (tolerance?.ignoreCase) t = `lower(${t})`;
    return t;
  };
  const loose = tolerance?.trim || tolerance?.ignoreCase;
  const equal = `${x} IS NOT DISTINCT FROM ${y}`;
  const status = `CASE WHEN ${equal} THEN 0 WHEN ${nullOneSide} THEN 3${
    loose ? ` WHEN ${loosen(a)} = ${loosen(b)} THEN 1` : ''
  } ELSE 2 END`;
  return {
    i,
    name,
    types,
    numeric,
    ...(tolerance ? { tolerance } : {}),
    status,
    equal,
    absolute: 'NULL',
    relative: 'NULL',
  };
}
