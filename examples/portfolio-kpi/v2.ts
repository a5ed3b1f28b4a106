/**
 * V2, the new engine: a streaming byte scanner over the CSV (RFC 4180), columnar sums in integer cents,
 * constant memory, and both cores on large files (a worker thread takes the last 40 % of the file).
 *
 * Definitions (KPIS.md): PAR30/PAR90 count loans with days_past_due strictly greater than 30/90; amounts
 * are rounded to cents per row (half away from zero) and summed exactly; PortfolioHealth has 2 decimals.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { addTotals, metricsFrom, REQUIRED_COLUMNS, TapeError, type PortfolioMetrics, type Totals } from './kpis';

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
const CR = 13;
const MINUS = 45;
const DOT = 46;

/** Field roles: what the scanner does with each column. */
const enum Role {
  Ignore = 0,
  Id = 1,
  Outstanding = 2,
  Dpd = 3,
  Scheduled = 4,
  Collected = 5,
  Eligible = 6,
}

const ROLE_OF: Record<(typeof REQUIRED_COLUMNS)[number], Role> = {
  loan_id: Role.Id,
  outstanding_principal: Role.Outstanding,
  days_past_due: Role.Dpd,
  scheduled_payment: Role.Scheduled,
  collected_amount: Role.Collected,
  is_eligible: Role.Eligible,
};

export interface Layout {
  roles: number[];
  names: string[];
  /** Byte offset where the first data row starts. */
  dataStart: number;
}

export interface V2Options {
  /** Threads to use on large files. @default 2 */
  threads?: number;
  /** Files smaller than this are scanned on one thread. @default 128 MiB */
  parallelMinBytes?: number;
  /** The demo fault: PAR90 counted from 60 days, wrong enough for shadow mode to block the cutover. */
  fault?: boolean;
  /** Read size (tests use tiny ones to split records across reads). @default 4 MiB */
  chunkBytes?: number;
}

export interface ScanResult {
  totals: Totals;
  /** The range ended inside a quoted field: the split was not a record boundary. */
  openQuoteAtEnd: boolean;
  error?: { message: string; row?: number; column?: string };
}

const CHUNK = 4 * 1024 * 1024;
/** The part of the file the worker thread scans on the parallel path. */
const WORKER_SHARE = 0.4;
/**
 * Files this big or bigger are split across two threads. A worker thread costs some 40 ms to start and warms
 * up its own compiled code: at 1M rows (62 MB) one thread was faster (213 vs 234 ms, median of 11), at 10M
 * rows two were.
 */
const PARALLEL_MIN_BYTES = 128 * 2 ** 20;

/** Reads the header: which column plays which role. */
export function readLayout(fd: number): Layout {
  const buf = Buffer.allocUnsafe(64 * 1024);
  const n = readSync(fd, buf, 0, buf.length, 0);
  if (n === 0) throw new TapeError('empty file: expected a header row');
  let end = buf.indexOf(LF);
  if (end < 0 || end >= n) {
    if (n === buf.length) throw new TapeError('header row longer than 64 KiB', 1);
    end = n;
  }
  const dataStart = Math.min(end + 1, n);
  let text = buf.toString('utf8', 0, end);
  if (text.endsWith('\r')) text = text.slice(0, -1);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const names = splitHeader(text);
  const roles = names.map((name) => ROLE_OF[name as keyof typeof ROLE_OF] ?? Role.Ignore);
  for (const column of REQUIRED_COLUMNS) {
    if (!names.includes(column)) throw new TapeError(`missing column ${column}`, 1, column);
  }
  return { roles, names, dataStart };
}

function splitHeader(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= text.length) {
    if (text[i] === '"') {
      let value = '';
      i++;
      while (i < text.length) {
        if (text[i] === '"' && text[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else value += text[i++];
      }
      out.push(value.trim());
      i++;
    } else {
      const comma = text.indexOf(',', i);
      const stop = comma < 0 ? text.length : comma;
      out.push(text.slice(i, stop).trim());
      i = stop + 1;
    }
  }
  return out;
}

/** Slots of the running sums (a Float64Array: sums in cents pass 2^31 without a deoptimisation). */
const enum Sum {
  Outstanding = 0,
  Collected = 1,
  Scheduled = 2,
  Eligible = 3,
  Par30 = 4,
  Par90 = 5,
  /** Records counted. */
  Rows = 6,
}

/** sums[slot] += value (inlined by the compiler). */
function add(sums: Float64Array, slot: Sum, value: number): void {
  sums[slot] = (sums[slot] as number) + value;
}

/** One record into the sums: V2's definitions (KPIS.md), PAR past 30 and 90 days (60 with the demo fault). */
function addRecord(
  sums: Float64Array,
  outstanding: number,
  collected: number,
  scheduled: number,
  eligible: boolean,
  dpdCents: number,
  par90Cents: number,
): void {
  add(sums, Sum.Rows, 1);
  add(sums, Sum.Outstanding, outstanding);
  add(sums, Sum.Collected, collected);
  add(sums, Sum.Scheduled, scheduled);
  if (eligible) add(sums, Sum.Eligible, outstanding);
  if (dpdCents > 3000) add(sums, Sum.Par30, outstanding);
  if (dpdCents > par90Cents) add(sums, Sum.Par90, outstanding);
}

/** Reads into buf[filled..] from `filePos`, no further than `end`: the bytes read. */
function readMore(fd: number, buf: Buffer, filled: number, filePos: number, end: number): number {
  const want = Math.min(buf.length - filled, end - filePos);
  return want > 0 ? readSync(fd, buf, filled, want, filePos) : 0;
}

/** The index of the last newline in buf[0, filled), or -1. */
function lastNewline(buf: Buffer, filled: number): number {
  return filled > 0 ? buf.lastIndexOf(LF, filled - 1) : -1;
}

function totalsOf(sums: Float64Array): Totals {
  return {
    rows: sums[Sum.Rows] as number,
    outstanding: sums[Sum.Outstanding] as number,
    collected: sums[Sum.Collected] as number,
    scheduled: sums[Sum.Scheduled] as number,
    eligible: sums[Sum.Eligible] as number,
    par30: sums[Sum.Par30] as number,
    par90: sums[Sum.Par90] as number,
  };
}

/**
 * Scans the records in [start, end) of the file. `firstRow` is the row number of the first record (for
 * messages; only exact on the sequential path). Never throws on bad data: it reports the first error.
 *
 * Two paths, one answer: `fastRecords` takes the plain records; any other record (or the last one, without
 * a newline, or one cut by the end of the buffer) goes through the general path here, which handles all of
 * RFC 4180 and names the row and column of a bad value.
 */
export function scanRange(
  fd: number,
  start: number,
  end: number,
  layout: Layout,
  firstRow: number,
  fault: boolean,
  chunkBytes = CHUNK,
): ScanResult {
  const sums = new Float64Array(7);
  const roles = Uint8Array.from(layout.roles);
  const fieldCount = roles.length;
  const par90Cents = fault ? 6000 : 9000;
  let buf = Buffer.allocUnsafe(chunkBytes);
  let filled = 0;
  let filePos = start;
  let eof = false;
  let row = firstRow;
  // Index of the last newline in the buffer: the fast path runs only on records that start before it.
  let safeEnd = -1;
  let pos = 0;
  let error: { message: string; column?: string } | undefined;

  // The state stays in this function's locals (no closures over it: a closure would keep it in a context
  // object, and the loops below would pay for that on every byte). The first turn reads the first chunk.
  scan: for (;;) {
    if (pos >= filled) {
      if (eof) break;
      const n = readMore(fd, buf, 0, filePos, end);
      filePos += n;
      filled = n;
      pos = 0;
      eof = filePos >= end || n === 0;
      safeEnd = lastNewline(buf, filled);
      continue;
    }
    let p = pos;
    // An empty line (LF or CRLF) is skipped, as V1 does.
    if (buf[p] === LF || (buf[p] === CR && p + 1 < filled && buf[p + 1] === LF)) {
      pos = buf[p] === LF ? p + 1 : p + 2;
      row++;
      continue;
    }

    // ---- fast path: as many plain records as it can take, then (if need be) one through the general path.
    if (p < safeEnd) {
      const before = sums[Sum.Rows] as number;
      pos = fastRecords(buf, p, safeEnd, roles, par90Cents, sums);
      row += (sums[Sum.Rows] as number) - before;
      if (pos !== p) continue;
    }

    // ---- general path: one record, any shape.
    let field = 0;
    let outstanding = 0;
    let dpd = 0;
    let scheduled = 0;
    let collected = 0;
    let eligible = -1;
    let needMore = false;
    for (;;) {
      const role = field < fieldCount ? (roles[field] as number) : Role.Ignore;
      let fStart: number;
      let fEnd: number;
      let quoted = false;
      if (p < filled && buf[p] === QUOTE) {
        quoted = true;
        p++;
        fStart = p;
        for (;;) {
          if (p >= filled) break;
          if (buf[p] === QUOTE) {
            if (p + 1 >= filled && !eof) break;
            if (buf[p + 1] === QUOTE) {
              p += 2;
              continue;
            }
            break;
          }
          p++;
        }
        // Stopped at the buffer's end, or at a quote whose next byte (a second quote?) is not read yet.
        if (p >= filled || (!eof && p + 1 >= filled)) {
          if (eof && p >= filled)
            return {
              totals: totalsOf(sums),
              openQuoteAtEnd: true,
              error: { message: 'unterminated quoted field', row },
            };
          needMore = true;
          break;
        }
        fEnd = p;
        p++; // the closing quote
        while (p < filled) {
          const c = buf[p] as number;
          if (c === COMMA || c === LF) break;
          p++;
        }
      } else {
        fStart = p;
        while (p < filled) {
          const c = buf[p] as number;
          if (c === COMMA || c === LF) break;
          p++;
        }
        fEnd = p;
      }
      if (p >= filled && !eof) {
        needMore = true;
        break;
      }
      const atEnd = p >= filled;
      const endOfRecord = atEnd || buf[p] === LF;
      if (endOfRecord && !quoted && fEnd > fStart && buf[fEnd - 1] === CR) fEnd--;
      if (field >= fieldCount) {
        error = { message: `expected ${fieldCount} fields, found more` };
        break scan;
      }
      if (role >= Role.Outstanding && role <= Role.Collected) {
        const cents = parseCents(buf, fStart, fEnd);
        if (Number.isNaN(cents)) {
          error = {
            message: `not a number: ${JSON.stringify(buf.toString('utf8', fStart, Math.min(fEnd, fStart + 40)))}`,
            column: layout.names[field] as string,
          };
          break scan;
        }
        if (role === Role.Outstanding) outstanding = cents;
        else if (role === Role.Dpd) dpd = cents;
        else if (role === Role.Scheduled) scheduled = cents;
        else collected = cents;
      } else if (role === Role.Eligible) {
        eligible = parseBool(buf, fStart, fEnd);
        if (eligible < 0) {
          error = {
            message: `expected 1, 0, true or false, found ${JSON.stringify(buf.toString('utf8', fStart, Math.min(fEnd, fStart + 40)))}`,
            column: 'is_eligible',
          };
          break scan;
        }
      } else if (role === Role.Id && fEnd === fStart && !quoted) {
        error = { message: 'empty loan_id', column: 'loan_id' };
        break scan;
      }
      field++;
      if (endOfRecord) {
        if (!atEnd) p++;
        break;
      }
      p++; // the comma
    }
    if (needMore) {
      if (pos === 0 && filled === buf.length) {
        if (buf.length >= 256 * 2 ** 20) {
          error = { message: 'row longer than 256 MiB' };
          break;
        }
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      } else {
        buf.copy(buf, 0, pos, filled);
        filled -= pos;
        pos = 0;
      }
      const n = readMore(fd, buf, filled, filePos, end);
      filePos += n;
      filled += n;
      eof = filePos >= end || n === 0;
      safeEnd = lastNewline(buf, filled);
      continue;
    }
    if (field !== fieldCount) {
      error = { message: `expected ${fieldCount} fields, found ${field}` };
      break;
    }
    addRecord(sums, outstanding, collected, scheduled, eligible === 1, dpd, par90Cents);
    row++;
    pos = p;
  }
  const totals = totalsOf(sums);
  if (error) {
    return { totals, openQuoteAtEnd: false, error: { ...error, row } };
  }
  return { totals, openQuoteAtEnd: false };
}

/**
 * The fast path: plain records (numbers as `-?digits(.digits)?` and flags `1`, `0`, `true`, `false`, unquoted
 * and without spaces; other columns quoted or not) from
 * `p` while they start before `safeEnd`, the buffer's last newline, in one pass with no bounds checks: every
 * loop stops at a comma or a newline, and a newline lies ahead. Returns where it stopped: at `safeEnd` or
 * later, or at the start of a record it leaves to the general path. A small function of its own, so the
 * compiler optimises it within the first megabytes and no branch of the general path ever deoptimises it.
 */
function fastRecords(
  buf: Buffer,
  p: number,
  safeEnd: number,
  roles: Uint8Array,
  par90Cents: number,
  sums: Float64Array,
): number {
  const fieldCount = roles.length;
  let start = p;
  record: while (start < safeEnd) {
    p = start;
    let f = 0;
    let out = 0;
    let dpd = 0;
    let sch = 0;
    let col = 0;
    let elig = 0;
    let c = 0;
    for (;;) {
      const role = roles[f] as number;
      c = buf[p] as number;
      if (role === Role.Ignore || role === Role.Id) {
        if (c === QUOTE) {
          // A quoted text ("Diallo, F."): to its closing quote, "" being a quote inside. Bounded: a quoted
          // field may hold newlines and run past the buffer's last one.
          p++;
          for (;;) {
            if (p >= safeEnd) break record;
            c = buf[p] as number;
            if (c === QUOTE) {
              if (buf[p + 1] !== QUOTE) break;
              p += 2;
            } else p++;
          }
          c = buf[++p] as number;
        } else if (role === Role.Id && (c === COMMA || c === LF || c === CR)) {
          break record; // an empty loan_id: the general path names it
        }
        while (c !== COMMA && c !== LF && c !== QUOTE) c = buf[++p] as number;
        if (c === QUOTE) break record;
      } else if (role === Role.Eligible) {
        // 1, 0, true, false (other spellings: the general path). A mismatch stops at the newline ahead at the
        // latest.
        if (c === 49) elig = 1;
        else if (c === 116 && buf[p + 1] === 114 && buf[p + 2] === 117 && buf[p + 3] === 101) {
          elig = 1;
          p += 3;
        } else if (c === 102 && buf[p + 1] === 97 && buf[p + 2] === 108 && buf[p + 3] === 115 && buf[p + 4] === 101) {
          p += 4;
        } else if (c !== 48) break record;
        c = buf[++p] as number;
      } else {
        const negative = c === MINUS;
        if (negative) c = buf[++p] as number;
        let v = 0;
        let digits = 0;
        while (c >= 48 && c <= 57) {
          v = v * 10 + (c - 48);
          digits++;
          c = buf[++p] as number;
        }
        v *= 100;
        if (c === DOT) {
          c = buf[++p] as number;
          if (c >= 48 && c <= 57) {
            v += (c - 48) * 10;
            digits++;
            c = buf[++p] as number;
            if (c >= 48 && c <= 57) {
              v += c - 48;
              c = buf[++p] as number;
              if (c >= 48 && c <= 57) {
                if (c >= 53) v += 1;
                c = buf[++p] as number;
                while (c >= 48 && c <= 57) c = buf[++p] as number;
              }
            }
          }
        }
        if (digits === 0) break record;
        if (negative) v = -v;
        if (role === Role.Outstanding) out = v;
        else if (role === Role.Dpd) dpd = v;
        else if (role === Role.Scheduled) sch = v;
        else col = v;
      }
      // After a value: CRLF, LF or a comma; anything else is for the general path.
      if (c === CR && role !== Role.Ignore && role !== Role.Id) {
        if (buf[p + 1] !== LF) break record;
        c = buf[++p] as number;
      }
      f++;
      if (c === LF) {
        if (f !== fieldCount) break record;
        addRecord(sums, out, col, sch, elig === 1, dpd, par90Cents);
        start = p + 1;
        continue record;
      }
      if (c !== COMMA || f === fieldCount) break record;
      p++;
    }
  }
  return start;
}

/** Parses `-?digits(.digits)?` into integer cents, rounding half away from zero; NaN if not a number. */
function parseCents(buf: Buffer, start: number, end: number): number {
  while (start < end && buf[start] === 32) start++;
  while (end > start && buf[end - 1] === 32) end--;
  if (start === end) return Number.NaN;
  let negative = false;
  if (buf[start] === MINUS) {
    negative = true;
    start++;
  }
  let whole = 0;
  let digits = 0;
  let i = start;
  for (; i < end; i++) {
    const d = (buf[i] as number) - 48;
    if (d < 0 || d > 9) break;
    whole = whole * 10 + d;
    digits++;
  }
  let cents = whole * 100;
  if (i < end) {
    if (buf[i] !== DOT) return Number.NaN;
    i++;
    let place = 0;
    let roundUp = false;
    for (; i < end; i++) {
      const d = (buf[i] as number) - 48;
      if (d < 0 || d > 9) return Number.NaN;
      if (place === 0) cents += d * 10;
      else if (place === 1) cents += d;
      else if (place === 2) roundUp = d >= 5;
      place++;
      digits++;
    }
    if (roundUp) cents += 1;
  }
  if (digits === 0) return Number.NaN;
  return negative ? -cents : cents;
}

function parseBool(buf: Buffer, start: number, end: number): number {
  while (start < end && buf[start] === 32) start++;
  while (end > start && buf[end - 1] === 32) end--;
  const len = end - start;
  if (len === 1) {
    if (buf[start] === 49) return 1;
    if (buf[start] === 48) return 0;
    return -1;
  }
  const text = buf.toString('latin1', start, end).toLowerCase();
  if (text === 'true') return 1;
  if (text === 'false') return 0;
  return -1;
}

/** The first record boundary at or after `offset` (the byte after a newline), assuming no quoted newline. */
function nextLineStart(fd: number, offset: number, size: number): number {
  const buf = Buffer.allocUnsafe(64 * 1024);
  let at = offset;
  while (at < size) {
    const n = readSync(fd, buf, 0, buf.length, at);
    const i = buf.subarray(0, n).indexOf(LF);
    if (i >= 0) return at + i + 1;
    at += n;
  }
  return size;
}

/** Runs V2 on `file`. Throws TapeError (naming the row and column) on bad input. */
export async function runV2(
  file: string,
  options: V2Options = {},
): Promise<{ metrics: PortfolioMetrics; rows: number }> {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const layout = readLayout(fd);
    const fault = options.fault ?? false;
    const threads = options.threads ?? 2;
    let result: ScanResult | undefined;
    if (threads > 1 && size >= (options.parallelMinBytes ?? PARALLEL_MIN_BYTES) && workerScript()) {
      result = await scanParallel(fd, file, size, layout, fault);
    }
    // Sequential: small files, and any doubt in the parallel pass (an error needs its exact row number;
    // a quoted newline at the split means the split was not a record boundary).
    if (!result || result.error || result.openQuoteAtEnd)
      result = scanRange(fd, layout.dataStart, size, layout, 2, fault);
    if (result.error) throw new TapeError(result.error.message, result.error.row, result.error.column);
    return { metrics: metricsFrom(result.totals, 100, 2), rows: result.totals.rows };
  } finally {
    closeSync(fd);
  }
}

function workerScript(): string | undefined {
  // Worker threads need the compiled file; under ts-jest/swc the sequential path is used.
  const compiled = path.join(__dirname, 'v2-worker.js');
  return __filename.endsWith('.js') ? compiled : undefined;
}

async function scanParallel(
  fd: number,
  file: string,
  size: number,
  layout: Layout,
  fault: boolean,
): Promise<ScanResult> {
  // The worker thread starts some 40 ms after this thread and warms up its own compiled code, so it takes the
  // smaller part: at 1M rows 0.4 beat 0.5 and 0.35 (bench/README.md).
  const split = nextLineStart(fd, size - Math.floor((size - layout.dataStart) * WORKER_SHARE), size);
  const worker = new Worker(workerScript() as string, { workerData: { file, start: split, end: size, layout, fault } });
  const second = new Promise<ScanResult>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const first = scanRange(fd, layout.dataStart, split, layout, 2, fault);
  const rest = await second;
  await worker.terminate();
  const merged: ScanResult = {
    totals: addTotals(first.totals, rest.totals),
    openQuoteAtEnd: first.openQuoteAtEnd || rest.openQuoteAtEnd,
  };
  const error = first.error ?? rest.error;
  if (error) merged.error = error;
  return merged;
}
