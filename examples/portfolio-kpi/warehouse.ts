/**
 * The example's warehouse: V1, the legacy engine, writes its two output tables to PostgreSQL (schema `legacy`),
 * the way a legacy pipeline writes to its warehouse, with a login of its own; cutover's workers read them through
 * another login that may only read (CUTOVER_DATABASE_WAREHOUSE). `npm start` and the tests set it up on the
 * project's own server (toolchain/postgres.ts).
 *
 * An output target `postgres:legacy.loan_kpis` (`--loans-out`) is a table of the database at
 * PORTFOLIO_KPI_WAREHOUSE: its rows are replaced in one transaction, so a reader sees the old table or the new
 * one, never half of it.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { TapeError } from './kpis';

/** The writer's URL (V1's own login), in V1's environment: never a plan's, never the workers' diff login. */
export const WAREHOUSE_ENV = 'PORTFOLIO_KPI_WAREHOUSE';

/** V1's tables, as the example plan names them (shadow.outputs.NAME.v1.table). */
export const LEGACY_TABLES = { loans: 'legacy.loan_kpis', segments: 'legacy.segment_kpis' } as const;

/** The prefix of an output target that is a table (`postgres:schema.table`), not a file. */
const TABLE_TARGET = /^postgres:([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)$/;

// V1's types: amounts as the floats it computes. No primary key, as in the files: a duplicate loan is the diff's
// to count, not an insert error.
const DDL = `
  CREATE TABLE IF NOT EXISTS legacy.loan_kpis (
    loan_id text, segment text, origination_month text, bucket text, eligible boolean,
    outstanding double precision, provision double precision);
  CREATE TABLE IF NOT EXISTS legacy.segment_kpis (
    segment text, origination_month text, bucket text, loans integer,
    outstanding double precision, provision double precision);`;

/** The URL of `database` on the server of `adminUrl`, as `role` with `password`. */
export function loginUrl(adminUrl: string, login: { role: string; password: string; database: string }): string {
  const at = new URL(adminUrl);
  at.username = login.role;
  at.password = login.password;
  at.pathname = `/${login.database}`;
  return at.toString();
}

export interface WarehouseLogins {
  /** V1's login: owns the `legacy` schema and its tables. */
  writer: string;
  /** The workers' login: may read `legacy`, nothing else, and its sessions are read-only by default. */
  reader: string;
}

/**
 * Creates (or brings up to date) the example's database on a server whose superuser URL is `adminUrl`: the
 * database, V1's and the workers' logins (new passwords each time), the `legacy` schema and its two tables.
 */
export async function setUpWarehouse(adminUrl: string, database = 'portfolio'): Promise<WarehouseLogins> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new Error(`not a database name: ${database}`);
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  const passwords = { portfolio_v1: randomBytes(18).toString('hex'), cutover_reader: randomBytes(18).toString('hex') };
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${database}`);
    for (const [role, password] of Object.entries(passwords)) {
      const known = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      // The passwords are hex: nothing to quote.
      await admin.query(`${known.rowCount === 0 ? 'CREATE' : 'ALTER'} ROLE ${role} LOGIN PASSWORD '${password}'`);
    }
    await admin.query('ALTER ROLE cutover_reader SET default_transaction_read_only = on');
  } finally {
    await admin.end();
  }
  const url = (role: keyof typeof passwords) => loginUrl(adminUrl, { role, password: passwords[role], database });
  const inDatabase = new URL(adminUrl);
  inDatabase.pathname = `/${database}`;
  const setup = new Client({ connectionString: inDatabase.toString() });
  await setup.connect();
  try {
    await setup.query(`
      REVOKE ALL ON DATABASE ${database} FROM PUBLIC;
      GRANT CONNECT ON DATABASE ${database} TO portfolio_v1, cutover_reader;
      CREATE SCHEMA IF NOT EXISTS legacy AUTHORIZATION portfolio_v1;
      GRANT USAGE ON SCHEMA legacy TO cutover_reader;
      ALTER DEFAULT PRIVILEGES FOR ROLE portfolio_v1 IN SCHEMA legacy GRANT SELECT ON TABLES TO cutover_reader;`);
    // The tables are V1's: created as its login, so it owns them (and may empty them).
    await setup.query(`SET ROLE portfolio_v1; ${DDL} RESET ROLE;`);
  } finally {
    await setup.end();
  }
  return { writer: url('portfolio_v1'), reader: url('cutover_reader') };
}

/** Rows of one output table, whatever holds them: a file (outputs.ts's TableWriter) or a warehouse table. */
export interface RowSink {
  row(values: readonly (string | number | boolean)[]): void;
  /** Whether the caller should `await flush()` before more rows (a batch is full). */
  readonly full: boolean;
  flush(): Promise<void>;
  /** Every row written. */
  close(): void | Promise<void>;
}

/**
 * V1's connection for its run: one transaction in which each named table is emptied and refilled, committed at
 * the end (`commit`), rolled back on any failure (`abort`). Rows go in batches of 5,000 as one INSERT … SELECT
 * FROM unnest(arrays) each, cast to the table's own column types.
 */
export class Warehouse {
  private constructor(private readonly client: Client) {}

  static async open(env: NodeJS.ProcessEnv = process.env): Promise<Warehouse> {
    const url = env[WAREHOUSE_ENV];
    if (!url) throw new TapeError(`an output is a warehouse table (postgres:…), but ${WAREHOUSE_ENV} is not set`);
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw new TapeError(`cannot reach the warehouse (${WAREHOUSE_ENV}): ${(err as Error).message}`);
    }
    await client.query('BEGIN');
    return new Warehouse(client);
  }

  /** The table of `target` (`postgres:schema.table`), emptied in this transaction, with `columns` in order. */
  async table(target: string, columns: readonly string[]): Promise<RowSink> {
    const match = TABLE_TARGET.exec(target);
    if (!match) throw new TapeError(`expected postgres:schema.table, not ${JSON.stringify(target)}`);
    const name = `${match[1]}.${match[2]}`;
    let types: Map<string, string>;
    try {
      const found = await this.client.query<{ name: string; type: string }>(
        `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
          WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
        [name],
      );
      types = new Map(found.rows.map((r) => [r.name, r.type]));
      await this.client.query(`TRUNCATE ${name}`);
    } catch (err) {
      throw new TapeError(`warehouse table ${name}: ${(err as Error).message}`);
    }
    const missing = columns.filter((c) => !types.has(c));
    if (missing.length > 0) throw new TapeError(`warehouse table ${name} has no column ${missing.join(', ')}`);
    const insert =
      `INSERT INTO ${name} (${columns.join(', ')}) SELECT * FROM unnest(` +
      columns.map((c, i) => `$${i + 1}::${types.get(c) as string}[]`).join(', ') +
      ')';
    return new TableBatches(this.client, insert, columns.length);
  }

  async commit(): Promise<void> {
    try {
      await this.client.query('COMMIT');
    } finally {
      await this.client.end();
    }
  }

  async abort(): Promise<void> {
    await this.client.query('ROLLBACK').catch(() => undefined);
    await this.client.end().catch(() => undefined);
  }
}

const BATCH = 5000;

class TableBatches implements RowSink {
  private columns: unknown[][];
  private count = 0;
  /** The batch on its way: the next one is sent when it is in, so parsing overlaps one insert. */
  private sending: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: Client,
    private readonly insert: string,
    private readonly width: number,
  ) {
    this.columns = this.empty();
  }

  get full(): boolean {
    return this.count >= BATCH;
  }

  row(values: readonly (string | number | boolean)[]): void {
    for (let i = 0; i < this.width; i++) (this.columns[i] as unknown[]).push(values[i]);
    this.count++;
  }

  async flush(): Promise<void> {
    await this.sending;
    if (this.count === 0) return;
    const batch = this.columns;
    this.columns = this.empty();
    this.count = 0;
    this.sending = this.client.query(this.insert, batch);
    // Surfaces a failed insert here rather than as an unhandled rejection; the next flush awaits it again.
    this.sending.catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.sending;
  }

  private empty(): unknown[][] {
    return Array.from({ length: this.width }, () => []);
  }
}
