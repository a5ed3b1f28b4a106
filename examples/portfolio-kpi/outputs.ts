/**
 * The pipeline's output tables (KPIS.md, "Output tables"): one row per loan, and one per segment (product ×
 * origination month × delinquency bucket). V1 and V2 each compute them their own way (V1 in floats inside its
 * csv-parse loop, V2 in integer cents in a pass of its own, see `writeV2Outputs`); what they share is the
 * bucket and provision definitions and the file writer.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { TapeError } from './kpis';
import type { RowSink } from './warehouse';

export const BUCKETS = ['current', '1-30', '31-60', '61-90', '91+'] as const;
export type Bucket = (typeof BUCKETS)[number];

/** Provision: the share of the outstanding principal set aside, by delinquency bucket. */
export const PROVISION_RATE: Record<Bucket, number> = {
  current: 0.01,
  '1-30': 0.05,
  '31-60': 0.2,
  '61-90': 0.5,
  '91+': 1,
};

/** The reporting buckets, the same in both versions (V1's legacy boundary lives only in its PAR KPIs). */
export function bucketOf(dpd: number): Bucket {
  if (dpd <= 0) return 'current';
  if (dpd <= 30) return '1-30';
  if (dpd <= 60) return '31-60';
  if (dpd <= 90) return '61-90';
  return '91+';
}

export const LOAN_COLUMNS = [
  'loan_id',
  'segment',
  'origination_month',
  'bucket',
  'eligible',
  'outstanding',
  'provision',
] as const;
export const SEGMENT_COLUMNS = ['segment', 'origination_month', 'bucket', 'loans', 'outstanding', 'provision'] as const;

/** Whether an output target is a warehouse table (`postgres:schema.table`, V1's: ./warehouse.ts), not a file. */
export function isTableTarget(target: string): boolean {
  return target.startsWith('postgres:');
}

/** Where to write the tables: `--loans-out`, `--segments-out`. */
export interface OutputFiles {
  loans?: string;
  segments?: string;
}

/**
 * Rows to a CSV or JSON-lines file (by extension), written in batches with plain synchronous writes: the
 * engines produce rows far faster than a stream's backpressure would help, and memory stays at one batch.
 */
export class TableWriter implements RowSink {
  /** A file takes rows as they come: never a batch to wait for. */
  readonly full = false;

  private readonly fd: number;
  private readonly jsonl: boolean;
  private batch: string[] = [];
  private size = 0;

  constructor(
    readonly file: string,
    private readonly columns: readonly string[],
  ) {
    this.jsonl = /\.jsonl?$/i.test(file);
    this.fd = openSync(file, 'w');
    if (!this.jsonl) this.push(columns.join(','));
  }

  row(values: readonly (string | number | boolean)[]): void {
    if (this.jsonl) {
      const record: Record<string, string | number | boolean> = {};
      this.columns.forEach((c, i) => (record[c] = values[i] as string | number | boolean));
      this.push(JSON.stringify(record));
    } else {
      const texts: string[] = [];
      for (const v of values)
        texts.push(typeof v === 'string' && NEEDS_QUOTES.test(v) ? `"${v.replace(/"/g, '""')}"` : String(v));
      this.push(texts.join(','));
    }
  }

  close(): void {
    this.flushBatch();
    closeSync(this.fd);
  }

  async flush(): Promise<void> {}

  private push(line: string): void {
    this.batch.push(line);
    this.size += line.length;
    if (this.size > 1 << 20) this.flushBatch();
  }

  private flushBatch(): void {
    if (this.batch.length > 0) writeSync(this.fd, this.batch.join('\n') + '\n');
    this.batch = [];
    this.size = 0;
  }
}

const NEEDS_QUOTES = /[",\n]/;

/** Per-segment sums, in whatever unit the engine keeps. */
export interface SegmentSums {
  loans: number;
  outstanding: number;
  provision: number;
}

/** Writes the segment table, rows in key order; `money` turns the engine's unit into the printed amount. */
export async function writeSegments(
  writer: RowSink,
  sums: Map<string, SegmentSums>,
  money: (value: number) => number | string,
): Promise<void> {
  for (const key of [...sums.keys()].sort()) {
    const s = sums.get(key) as SegmentSums;
    writer.row([...key.split('|'), s.loans, money(s.outstanding), money(s.provision)]);
    if (writer.full) await writer.flush();
  }
  await writer.close();
}

/** The demo fault of `PORTFOLIO_KPI_FAULT=segment`: one small segment's 31–40 days late go to bucket 1–30. */
export function faultyBucket(segment: string, month: string, dpd: number): Bucket | undefined {
  return segment === 'micro' && month.startsWith('2020-') && dpd > 30 && dpd <= 40 ? '1-30' : undefined;
}

/**
 * V2's output tables: one pass of its own over the tape in 4 MiB reads, amounts in integer cents (half away
 * from zero), provision rounded to the cent per loan. Quoted fields (names with commas) are split by quote
 * state; a record with a quoted line break is joined with the next line.
 */
export async function writeV2Outputs(file: string, out: OutputFiles, options: { fault: boolean }): Promise<void> {
  const loans = out.loans ? openFile(out.loans, LOAN_COLUMNS) : undefined;
  const segments = new Map<string, SegmentSums>();
  const fd = openSync(file, 'r');
  const buf = Buffer.alloc(4 << 20);
  let carry = '';
  // Column positions, found in the header.
  let at: number[] | undefined;
  let row = 0;
  const take = (line: string): void => {
    row++;
    const fields = splitRecord(line);
    if (!at) {
      const names = fields.map((name) => name.trim());
      at = V2_INPUT_COLUMNS.map((c) => {
        const i = names.indexOf(c);
        if (i < 0) throw new TapeError(`missing column ${c}`, 1, c);
        return i;
      });
      return;
    }
    const [loanId, segment, date, principal, daysPastDue, isEligible] = at.map((i) => (fields[i] ?? '').trim()) as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const cents = toCents(principal, row);
    const dpd = Number(daysPastDue);
    if (daysPastDue === '' || !Number.isFinite(dpd)) throw new TapeError('not a number', row, 'days_past_due');
    const month = date.slice(0, 7);
    const bucket = (options.fault ? faultyBucket(segment, month, dpd) : undefined) ?? bucketOf(dpd);
    const provision = roundHalfAway(cents * PROVISION_RATE[bucket]);
    const eligible = isEligible === '1' || isEligible.toLowerCase() === 'true';
    loans?.row([loanId, segment, month, bucket, eligible, money(cents), money(provision)]);
    const key = `${segment}|${month}|${bucket}`;
    let sums = segments.get(key);
    if (!sums) segments.set(key, (sums = { loans: 0, outstanding: 0, provision: 0 }));
    sums.loans++;
    sums.outstanding += cents;
    sums.provision += provision;
  };
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const text = carry + buf.toString('utf8', 0, n);
      let start = 0;
      for (;;) {
        let end = text.indexOf('\n', start);
        // A quoted line break (an odd number of quotes so far) belongs to the record: read on to the next one.
        while (end >= 0 && text.charCodeAt(text.indexOf('"', start)) === 34 && oddQuotes(text, start, end))
          end = text.indexOf('\n', end + 1);
        if (end < 0) break;
        const line = text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end);
        if (line !== '') take(line);
        start = end + 1;
      }
      carry = text.slice(start);
    }
    if (carry.trim() !== '') take(carry.replace(/\r$/, ''));
  } finally {
    closeSync(fd);
  }
  await loans?.close();
  if (out.segments) await writeSegments(openFile(out.segments, SEGMENT_COLUMNS), segments, money);
}

/** The tables' column types in Parquet (text otherwise): amounts as doubles, V1's floats and V2's cents alike. */
const PARQUET_TYPES: Record<string, 'BOOLEAN' | 'INT32' | 'DOUBLE'> = {
  eligible: 'BOOLEAN',
  loans: 'INT32',
  outstanding: 'DOUBLE',
  provision: 'DOUBLE',
};

/** A table file: CSV or JSON lines by extension, or Parquet (`.parquet`). */
export function openFile(file: string, columns: readonly string[]): RowSink {
  if (isTableTarget(file))
    throw new TapeError(`${file}: V2 writes files (.csv, .jsonl, .parquet), not warehouse tables`);
  return /\.parquet$/i.test(file) ? new ParquetTable(file, columns) : new TableWriter(file, columns);
}

/**
 * Rows per Parquet row group: what the writer holds at a time. Measured on V2 at 100,000 loans (peak RSS): 4,096
 * 111 MB, 8,192 116 MB, 16,384 140 MB (CSV: 106 MB).
 */
const ROW_GROUP = 4096;

/**
 * A Parquet file written a row group at a time with hyparquet-writer (pure JavaScript, so V2 stays light: DuckDB's
 * COPY … TO parquet, measured, put 60 MB on a 10,000-loan run of V2, more than V2's own footprint, and the stress
 * phase compares V2's memory with V1's). Uncompressed, every column required.
 */
class ParquetTable implements RowSink {
  readonly full = false;
  private data: unknown[][];
  private writer: { write(o: object): void; finish(): void } | undefined;

  constructor(
    private readonly file: string,
    private readonly columns: readonly string[],
  ) {
    this.data = columns.map(() => []);
  }

  row(values: readonly (string | number | boolean)[]): void {
    this.columns.forEach((column, i) => {
      const value = values[i] as string | number | boolean;
      const type = PARQUET_TYPES[column];
      (this.data[i] as unknown[]).push(
        type === 'DOUBLE' || type === 'INT32' ? Number(value) : type === 'BOOLEAN' ? value === true : String(value),
      );
    });
    if ((this.data[0] as unknown[]).length >= ROW_GROUP) this.writeGroup();
  }

  async flush(): Promise<void> {}

  close(): void {
    if (!this.writer || (this.data[0] as unknown[]).length > 0) this.writeGroup();
    this.writer?.finish();
  }

  private writeGroup(): void {
    const columnData = this.columns.map((name, i) => ({
      name,
      data: this.data[i] as unknown[],
      type: PARQUET_TYPES[name] ?? 'STRING',
      nullable: false,
    }));
    // An ES module only, loaded when a Parquet file is written (Node 20.19 and later can require() ES modules).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const parquet = require('hyparquet-writer') as HyparquetWriter;
    this.writer ??= new parquet.ParquetWriter({
      writer: parquet.fileWriter(this.file),
      schema: parquet.schemaFromColumnData({ columnData }),
      codec: 'UNCOMPRESSED',
    });
    this.writer.write({ columnData, rowGroupSize: columnData[0]?.data.length || 1 });
    this.data = this.columns.map(() => []);
  }
}

/** What ParquetTable uses of hyparquet-writer (whose own types, ESM, a CommonJS build cannot import). */
interface HyparquetWriter {
  ParquetWriter: new (options: { writer: unknown; schema: unknown; codec: string }) => {
    write(o: object): void;
    finish(): void;
  };
  fileWriter(file: string): unknown;
  schemaFromColumnData(options: { columnData: object[] }): unknown;
}

const V2_INPUT_COLUMNS = [
  'loan_id',
  'segment',
  'origination_date',
  'outstanding_principal',
  'days_past_due',
  'is_eligible',
] as const;

/** One CSV record's fields (RFC 4180 quoting). */
export function splitRecord(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  fields.push(field);
  return fields;
}

function oddQuotes(text: string, start: number, end: number): boolean {
  let quotes = 0;
  for (let i = text.indexOf('"', start); i >= 0 && i < end; i = text.indexOf('"', i + 1)) quotes++;
  return quotes % 2 === 1;
}

/** Integer cents as `1234.05`: exact, and several times quicker than toFixed on a hot path. */
export function money(cents: number): string {
  const abs = Math.abs(cents);
  const fraction = abs % 100;
  return `${cents < 0 ? '-' : ''}${(abs - fraction) / 100}.${fraction < 10 ? '0' : ''}${fraction}`;
}

function toCents(text: string, row: number): number {
  const value = Number(text);
  if (text === '' || !Number.isFinite(value))
    throw new TapeError(`not a number: ${JSON.stringify(text.slice(0, 40))}`, row, 'outstanding_principal');
  return roundHalfAway(value * 100);
}

function roundHalfAway(value: number): number {
  return Math.sign(value) * Math.round(Math.abs(value));
}
