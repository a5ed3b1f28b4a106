/**
 * The warehouse the `cutover dbt` commands work in, from a variable the plan names: a PostgreSQL URL, or a DuckDB
 * file (`duckdb:/path/to/warehouse.duckdb`).
 */
import { Client } from 'pg';
import { duckdbFileOf, withDuckdbFile, type DuckdbWarehouse } from '../../../dbt/duckdb-warehouse';
import { PublishError } from '../../../dbt/publish';
import { postgresTarget, type DbtTarget } from '../../../dbt/run';
import { UserError } from '../../../lib/errors';

/** Where the builds are: a PostgreSQL database, or a DuckDB file. */
export type Warehouse = { kind: 'postgres'; url: string } | { kind: 'duckdb'; file: string };

/** The warehouse in `variable`: `duckdb:` and an absolute path is a DuckDB file, anything else a PostgreSQL URL. */
export function warehouseOf(variable: string): Warehouse {
  const value = warehouseUrl(variable);
  if (!value.startsWith('duckdb:')) return { kind: 'postgres', url: value };
  const file = duckdbFileOf(value);
  if (file === undefined)
    throw new UserError(`${variable}: a DuckDB warehouse is duckdb:/absolute/path/to/file.duckdb`);
  return { kind: 'duckdb', file };
}

/** dbt's target for a build into `schema` of the warehouse. */
export function targetOf(warehouse: Warehouse, schema: string): DbtTarget {
  return warehouse.kind === 'postgres'
    ? postgresTarget(warehouse.url, schema)
    : { type: 'duckdb', path: warehouse.file, schema };
}

/** `work` on a DuckDB warehouse's file, under its lock; a refused publish or drop is one line. */
export async function withDuckdb<T>(file: string, work: (w: DuckdbWarehouse) => Promise<T>): Promise<T> {
  try {
    return await withDuckdbFile(file, work);
  } catch (err) {
    if (err instanceof PublishError) throw new UserError(err.message);
    throw err;
  }
}

/** The URL in `variable`, or a one-line refusal naming it; the URL itself is never printed (it holds a password). */
export function warehouseUrl(variable: string): string {
  const url = process.env[variable];
  if (!url)
    throw new UserError(`${variable} is not set: it names the warehouse (postgres://user:password@host:port/db)`);
  return url;
}

/** `work` on a connection to the warehouse in `variable`, closed after; a refused publish or drop is one line. */
export async function withWarehouse<T>(variable: string, work: (client: Client) => Promise<T>): Promise<T> {
  try {
    return await withPostgres(warehouseUrl(variable), work);
  } catch (err) {
    if (err instanceof PublishError) throw new UserError(err.message);
    throw err;
  }
}

/** `work` on a connection to the PostgreSQL warehouse at `url`, closed after. */
export async function withPostgres<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
