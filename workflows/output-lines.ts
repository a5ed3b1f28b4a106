/**
 * One line per output diff, as `cutover status`, the reports and the Temporal UI's current details show it.
 * Pure and free of I/O: the workflow and the client both use it.
 */
import type { ColumnDiff, DiffSample, ModelReport, OutputDiff, RoleView, SampleValue } from '../shapes/evidence';

/** The column with the most rows out of tolerance (differing or NULL on one side), if any. */
export function worstColumn(diff: OutputDiff): ColumnDiff | undefined {
  let worst: ColumnDiff | undefined;
  for (const c of diff.columns) {
    const bad = c.differing + c.nullOneSide;
    if (bad > 0 && (!worst || bad > worst.differing + worst.nullOneSide)) worst = c;
  }
  return worst;
}

/**
 * `loans · 20000 rows: 19988 matched, 0 only V1, 0 only V2, 12 differing (worst: bucket 12) · fail`, and across two
 * places `…, 12 differing (worst: bucket 12), 640 of 40000 rows transferred · fail`.
 */
export function outputLine(diff: OutputDiff): string {
  const { rows } = diff;
  const worst = worstColumn(diff);
  const duplicates = diff.duplicates.v1 + diff.duplicates.v2;
  const parts = [
    `${rows.both - rows.differing} matched`,
    `${rows.onlyV1} only V1`,
    `${rows.onlyV2} only V2`,
    `${rows.differing} differing${worst ? ` (worst: ${worst.column} ${worst.differing + worst.nullOneSide})` : ''}`,
  ];
  if (duplicates > 0) parts.push(`${duplicates} duplicate key(s)`);
  // Across two places (a database and a file, or two databases): how many rows crossed to be compared.
  if (diff.transfer) parts.push(`${diff.transfer.rows} of ${diff.transfer.of} rows transferred`);
  return `${diff.output} · ${diff.dataset}: ${parts.join(', ')} · ${diff.verdict}`;
}

/**
 * What changed in a dbt model, in words: its columns (+ added, − removed, ~ retyped), a broken contract, its rows
 * (the keyed diff's, or an unkeyed model's multisets), and what reads it downstream.
 */
export function modelParts(m: ModelReport): {
  columns: string;
  rows: string;
  downstream: string;
  noise: string;
} {
  const columns = [
    ...m.columns.added.map((c) => `+${c}`),
    ...m.columns.removed.map((c) => `−${c}`),
    ...m.columns.retyped.map((r) => `~${r.column} ${r.v1}→${r.v2}`),
    ...(m.contractBroken.length > 0 ? [`contract broken: ${m.contractBroken.join(', ')}`] : []),
  ].join(' ');
  const differing = (m.diff?.columns ?? [])
    .filter((c) => c.differing + c.nullOneSide > 0)
    .map((c) => `${c.column} ${c.differing + c.nullOneSide}`);
  const rows = m.diff
    ? `${m.diff.rows.differing} differing${differing.length > 0 ? ` (${differing.join(', ')})` : ''}, ${m.diff.rows.onlyV1} only V1, ${m.diff.rows.onlyV2} only V2 of ${m.diff.rows.v1}`
    : m.unkeyedRows
      ? `unkeyed: ${m.unkeyedRows.onlyV1} only V1, ${m.unkeyedRows.onlyV2} only V2 of ${m.unkeyedRows.v1}${m.unkeyedRows.sumsDiffer.length > 0 ? ` (sums differ: ${m.unkeyedRows.sumsDiffer.join(', ')})` : ''}`
      : 'not compared';
  const downstream = [...m.downstream.models, ...m.downstream.exposures.map((e) => `exposure ${e}`)].join(', ');
  return { columns, rows, downstream, noise: noiseText(m) };
}

/**
 * A model's noise as the approvers read it: what V1 differs from itself in (V1↔V1) beside V2's difference (V1↔V2),
 * what the noise may hide, and where its rows read the clock.
 */
export function noiseText(m: ModelReport): string {
  const parts: string[] = [];
  const n = m.noise;
  if (n) {
    const cols = n.columns.map((c) => `${c.column} V1↔V1 ${c.aa}, V1↔V2 ${c.v2}`);
    if (n.rows.aa > 0) cols.push(`rows V1↔V1 ${n.rows.aa}, V1↔V2 ${n.rows.v2}`);
    parts.push(`noisy: ${cols.join('; ')}`);
    if (n.mayHide.length > 0) parts.push(`noise may hide a change in ${n.mayHide.join(', ')}: the approvers decide`);
  }
  if (m.clock)
    parts.push(
      `reads the clock${m.clock[0] === 'itself' ? '' : ' through'} ${m.clock.filter((c) => c !== 'itself').join(', ')}`.trimEnd(),
    );
  return parts.join('; ');
}

/** One dbt model on one line: why it was diffed, what changed, its verdict. */
export function modelLine(m: ModelReport): string {
  const { columns, rows, downstream, noise } = modelParts(m);
  return `${m.model} (${m.reason}${m.key ? `, key ${m.key.join(', ')}` : ''}): ${rows}${columns ? `; columns ${columns}` : ''}${downstream ? `; downstream ${downstream}` : ''}${noise ? `; ${noise}` : ''} · ${m.verdict}`;
}

/** A sample row's key as text: `L00000042` or `retail/2020-01`. */
export function sampleKey(sample: DiffSample): string {
  return Object.values(sample.key).map(cell).join('/');
}

export function cell(value: SampleValue | undefined): string {
  if (value === null || value === undefined) return 'NULL';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** The record's phases as the dry-run lines need them (a structural view of CutoverStatus['phases']). */
interface DryRunPhases {
  phases: readonly { phase: string; result?: unknown }[];
}

/**
 * Every dry-run check that would have failed, by phase: measured, kept in the evidence, never counted. The
 * Temporal UI's current details, `cutover status` and the reports list them apart from the verdicts.
 */
export function dryRunLines(status: DryRunPhases): string[] {
  const out: string[] = [];
  for (const record of status.phases) {
    const result = record.result as
      | {
          wouldFail?: string[];
          wouldBreach?: { trigger: string; detail: string; probe: number };
          days?: { day: number; wouldFail?: string[] }[];
        }
      | undefined;
    if (!result) continue;
    for (const line of result.wouldFail ?? []) out.push(`${record.phase}: would have failed: ${line}`);
    for (const day of result.days ?? [])
      for (const line of day.wouldFail ?? []) out.push(`${record.phase} day ${day.day}: would have failed: ${line}`);
    const b = result.wouldBreach;
    if (b) out.push(`${record.phase}: ${b.trigger} would have rolled back at probe #${b.probe}: ${b.detail}`);
  }
  return out;
}

/** A role as the gate's tables name it: a conditional role says why it is awaited now, or that it is not. */
export function roleLabel(r: RoleView): string {
  if (!r.onlyWhen) return r.role;
  return r.onlyWhen.because.length > 0
    ? `${r.role} (needed: ${r.onlyWhen.because.join('; ')})`
    : `${r.role} (not awaited: only on ${r.onlyWhen.conditions.join(', ')})`;
}
