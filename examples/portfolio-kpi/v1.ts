/**
 * V1, the legacy engine: row by row with a general CSV library (csv-parse), amounts as floats.
 *
 * Where V1 differs from the V2 definitions (KPIS.md): PAR30 and PAR90 count days_past_due of 30 / 90 or
 * more (the legacy boundary day), amounts are summed as floating-point currency, and PortfolioHealth is
 * rounded to 1 decimal.
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import {
  bucketOf,
  LOAN_COLUMNS,
  isTableTarget,
  openFile,
  PROVISION_RATE,
  SEGMENT_COLUMNS,
  writeSegments,
  type OutputFiles,
  type SegmentSums,
} from './outputs';
import { Warehouse, type RowSink } from './warehouse';
import { emptyTotals, metricsFrom, parseEligible, REQUIRED_COLUMNS, TapeError, type PortfolioMetrics } from './kpis';

function amount(text: string | undefined, row: number, column: string): number {
  const t = (text ?? '').trim();
  const value = t === '' ? Number.NaN : Number(t);
  if (!Number.isFinite(value))
    throw new TapeError(`not a number: ${JSON.stringify((text ?? '').slice(0, 40))}`, row, column);
  return value;
}

export async function runV1(file: string, out: OutputFiles = {}): Promise<{ metrics: PortfolioMetrics; rows: number }> {
  // A table in the warehouse (postgres:legacy.loan_kpis) is refilled in one transaction, committed at the end.
  const warehouse = [out.loans, out.segments].some((t) => t && isTableTarget(t)) ? await Warehouse.open() : undefined;
  try {
    const result = await computeV1(file, out, warehouse);
    await warehouse?.commit();
    return result;
  } catch (err) {
    await warehouse?.abort();
    throw err;
  }
}

async function sinkFor(target: string, columns: readonly string[], warehouse?: Warehouse): Promise<RowSink> {
  return isTableTarget(target) && warehouse ? warehouse.table(target, columns) : openFile(target, columns);
}

async function computeV1(
  file: string,
  out: OutputFiles,
  warehouse: Warehouse | undefined,
): Promise<{ metrics: PortfolioMetrics; rows: number }> {
  // The output tables, V1's way: amounts as the floats it read, provision as a float product, sums in floats.
  const loans = out.loans ? await sinkFor(out.loans, LOAN_COLUMNS, warehouse) : undefined;
  const segments = new Map<string, SegmentSums>();
  const parser = createReadStream(file).pipe(parse({ bom: true, relax_column_count: true, skip_empty_lines: true }));
  const totals = emptyTotals();
  let header: string[] | undefined;
  let index: Record<string, number> = {};
  let row = 0;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      row++;
      if (!header) {
        header = record.map((name) => name.trim());
        for (const column of REQUIRED_COLUMNS) {
          if (!header.includes(column)) throw new TapeError(`missing column ${column}`, 1, column);
        }
        index = Object.fromEntries(header.map((name, i) => [name, i]));
        continue;
      }
      if (record.length !== header.length)
        throw new TapeError(`expected ${header.length} fields, found ${record.length}`, row);
      const get = (column: string) => record[index[column] as number];
      if (!(get('loan_id') ?? '').trim()) throw new TapeError('empty loan_id', row, 'loan_id');
      const outstanding = amount(get('outstanding_principal'), row, 'outstanding_principal');
      const dpd = amount(get('days_past_due'), row, 'days_past_due');
      const scheduled = amount(get('scheduled_payment'), row, 'scheduled_payment');
      const collected = amount(get('collected_amount'), row, 'collected_amount');
      const eligible = parseEligible(get('is_eligible') ?? '', row);
      totals.rows++;
      totals.outstanding += outstanding;
      totals.collected += collected;
      totals.scheduled += scheduled;
      if (eligible) totals.eligible += outstanding;
      if (dpd >= 30) totals.par30 += outstanding;
      if (dpd >= 90) totals.par90 += outstanding;
      if (loans || out.segments) {
        const segment = (get('segment') ?? '').trim();
        const month = (get('origination_date') ?? '').trim().slice(0, 7);
        const bucket = bucketOf(dpd);
        const provision = outstanding * PROVISION_RATE[bucket];
        if (loans) {
          loans.row([(get('loan_id') ?? '').trim(), segment, month, bucket, eligible, outstanding, provision]);
          if (loans.full) await loans.flush();
        }
        const key = `${segment}|${month}|${bucket}`;
        const sums = segments.get(key) ?? { loans: 0, outstanding: 0, provision: 0 };
        sums.loans++;
        sums.outstanding += outstanding;
        sums.provision += provision;
        segments.set(key, sums);
      }
    }
  } catch (err) {
    if (err instanceof TapeError) throw err;
    const e = err as { code?: string; lines?: number; message: string };
    throw new TapeError(`malformed CSV: ${e.message.split('\n')[0]}`, e.lines);
  }
  await loans?.close();
  if (!header) throw new TapeError('empty file: expected a header row');
  if (out.segments) await writeSegments(await sinkFor(out.segments, SEGMENT_COLUMNS, warehouse), segments, (v) => v);
  return { metrics: metricsFrom(totals, 1, 1), rows: totals.rows };
}
