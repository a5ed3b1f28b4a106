/**
 * Write-audit-publish for a dbt project on DuckDB: the warehouse is one `.duckdb` file, each version built into a
 * schema of its own in it, and consumers read a published schema of views over whichever build is live, re-pointed in
 * one transaction (DuckDB's DDL is transactional), as on PostgreSQL (dbt/publish.ts). A view keeps its columns once
 * published (a rollback to a V1 without a column V2 added reads NULL there).
 *
 * A DuckDB file has one writer process at a time: every `cutover dbt` command on it (a build, a publish, a probe, a
 * drop) and every diff of its models holds the file's lock (`<file>.cutover-lock`, made exclusively, its holder's pid
 * in it) for as long as it uses the file, so V1's and V2's builds, started side by side, run one after the other.
 */
import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type * as DuckDB from '@duckdb/node-api';
import { PublishError, refuseLive, viewColumns } from './publish';

/** A DuckDB file's SQL, as the commands need it: rows as objects (JSON-safe), and statements. */
export interface DuckdbWarehouse {
  rows(sql: string): Promise<Record<string, unknown>[]>;
}

/** A quoted identifier (DuckDB's, as PostgreSQL's). */
const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const literal = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** Whether process `pid` is alive (a lock whose holder died is stale). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Holds `file`'s lock while `work` runs: made with O_EXCL, retried every 100 ms until `timeoutMs`; a lock whose holder
 * is gone is taken over. Hand-written because the file is a plain marker beside the warehouse that dbt's own process
 * (a child of the holder) never touches; a library's lock would bring a dependency for these twenty lines.
 */
export async function withFileLock<T>(file: string, work: () => Promise<T>, timeoutMs = 30 * 60_000): Promise<T> {
  const lock = `${file}.cutover-lock`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(await readFile(lock, 'utf8').catch(() => ''));
      if (Number.isInteger(holder) && holder > 0 && !alive(holder)) await rm(lock, { force: true });
      else if (Date.now() > deadline) throw new PublishError(`${file}: still locked by process ${holder}`);
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}

/** `work` on the warehouse file (created if absent), opened read-write under its lock, closed after. */
export async function withDuckdbFile<T>(
  file: string,
  work: (warehouse: DuckdbWarehouse) => Promise<T>,
  /** `held`: the caller holds the lock already (a build, between dbt's run and its counts). */
  options: { held?: boolean } = {},
): Promise<T> {
  const opened = async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DuckDBInstance } = require('@duckdb/node-api') as typeof DuckDB;
    const instance = await DuckDBInstance.create(file);
    const connection = await instance.connect();
    try {
      return await work({
        rows: async (sql) => (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[],
      });
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  };
  return options.held ? opened() : withFileLock(file, opened);
}

/** The views of other schemas that read `build` (it is live): never rebuilt in place, as on PostgreSQL. */
export async function readersOfDuckdb(w: DuckdbWarehouse, build: string): Promise<string[]> {
  const rows = await w.rows(
    `SELECT schema_name || '.' || view_name AS name, sql FROM duckdb_views() WHERE NOT internal AND schema_name <> ${literal(build)}`,
  );
  return rows.filter((r) => schemaRead(String(r.sql)) === build).map((r) => String(r.name));
}

/** A relation's columns in order, with their types; none when it does not exist. */
async function columnsOf(w: DuckdbWarehouse, schema: string, relation: string) {
  const rows = await w.rows(
    `SELECT column_name AS name, data_type AS type FROM information_schema.columns
      WHERE table_schema = ${literal(schema)} AND table_name = ${literal(relation)} ORDER BY ordinal_position`,
  );
  return rows.map((r) => ({ name: String(r.name), type: String(r.type) }));
}

/** The tables and views of a build's schema. */
export async function relationsOf(w: DuckdbWarehouse, build: string): Promise<string[]> {
  const rows = await w.rows(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ${literal(build)} ORDER BY 1`,
  );
  return rows.map((r) => String(r.name));
}

/**
 * Every view of `published` pointed at `build`'s relation of the same name, in one transaction: V2's publish and
 * the rollback to V1. The view keeps its columns (NULL where the build lacks one), then takes the build's new ones.
 */
export async function publishDuckdb(
  w: DuckdbWarehouse,
  request: { published: string; build: string; relations: readonly string[] },
): Promise<{ live: string; relations: string[]; ms: number }> {
  const started = performance.now();
  await w.rows('BEGIN TRANSACTION');
  try {
    await w.rows(`CREATE SCHEMA IF NOT EXISTS ${ident(request.published)}`);
    for (const relation of request.relations) {
      const [current, source] = [
        await columnsOf(w, request.published, relation),
        await columnsOf(w, request.build, relation),
      ];
      if (source.length === 0)
        throw new PublishError(`${request.build}.${relation} does not exist; nothing was published`);
      const select = viewColumns(current, source);
      await w.rows(
        `CREATE OR REPLACE VIEW ${ident(request.published)}.${ident(relation)} AS SELECT ${select} FROM ${ident(request.build)}.${ident(relation)}`,
      );
    }
    await w.rows('COMMIT');
  } catch (err) {
    await w.rows('ROLLBACK').catch(() => undefined);
    throw err instanceof PublishError
      ? err
      : new PublishError(`publishing ${request.build} as ${request.published}: ${(err as Error).message}`);
  }
  return { live: request.build, relations: [...request.relations], ms: performance.now() - started };
}

/** The build each published view reads now, from the views' own SQL (the publish writes `FROM "build"."name"`). */
export async function liveBuildsDuckdb(w: DuckdbWarehouse, published: string): Promise<Record<string, string>> {
  const rows = await w.rows(
    `SELECT view_name AS name, sql FROM duckdb_views() WHERE schema_name = ${literal(published)} AND NOT internal`,
  );
  const live: Record<string, string> = {};
  for (const row of rows) {
    const from = schemaRead(String(row.sql));
    if (from) live[String(row.name)] = from;
  }
  return live;
}

/** A name in DuckDB's SQL: quoted, or plain. */
const NAME = '("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)';
const FROM = new RegExp(`\\bFROM\\s+(?:${NAME}\\.)?${NAME}\\.${NAME}`, 'i');

/**
 * The schema a view's SQL reads its relation from (`FROM schema.relation`, or `catalog.schema.relation`), as DuckDB
 * keeps it: it writes the SQL back with names unquoted where it can.
 */
function schemaRead(sql: string): string | undefined {
  const schema = FROM.exec(sql)?.[2];
  return schema?.startsWith('"') ? schema.slice(1, -1).replace(/""/g, '"') : schema;
}

/** A build's schema dropped, refused while a published view reads it. */
export async function dropBuildDuckdb(w: DuckdbWarehouse, request: { published: string; build: string }) {
  refuseLive(await liveBuildsDuckdb(w, request.published), request);
  await w.rows(`DROP SCHEMA IF EXISTS ${ident(request.build)} CASCADE`);
}

/** Each relation's rows (a build's models, each where it was built; a published schema's views), in order. */
export async function rowCountsDuckdb(w: DuckdbWarehouse, relations: readonly { schema: string; relation: string }[]) {
  const counts: number[] = [];
  for (const { schema, relation } of relations) {
    const [row] = await w.rows(`SELECT count(*) AS n FROM ${ident(schema)}.${ident(relation)}`);
    counts.push(Number(row?.n));
  }
  return counts;
}

/** The file a DuckDB warehouse URL names (`duckdb:/path/file.duckdb`, or `duckdb:///path/…`): absolute, or none. */
export function duckdbFileOf(url: string | undefined): string | undefined {
  if (!url?.startsWith('duckdb:')) return undefined;
  const file = url.slice('duckdb:'.length).replace(/^\/\/(?=\/)/, '');
  return path.isAbsolute(file) && file.endsWith('.duckdb') ? file : undefined;
}
