/**
 * The diffs' DuckDB engine: bounded memory and threads, spilling into the cutover's work folder, two connections,
 * every query interruptible and ticking the activity's heartbeat; and how it reads an output file (its reader by
 * format, a check that the file is what was declared, its records counted from its line ends).
 */
import { open, rm } from 'node:fs/promises';
import type * as DuckDB from '@duckdb/node-api';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { OutputFormat } from '../plan/schema';
import type { SampleValue } from '../shapes/evidence';

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

/** Bad input (a missing file, another format, a missing key column, too few rows): final, names what and where. */
export class DiffInputError extends Error {
  override readonly name = 'DiffInputError';
}

/** The query was interrupted because the activity was cancelled. */
export class DiffCancelledError extends Error {
  override readonly name = 'DiffCancelledError';
}

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

export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]?.slice(0, 300) ?? '';
}

/** DuckDB's errors that mean the file is not what was declared (as opposed to out of memory or interrupted). */
export function isInputError(err: unknown): boolean {
  return /^(Invalid Input|Conversion|IO|Parser|Binder|Invalid) Error/.test(firstLine(err).replace(/^Error: /, ''));
}
