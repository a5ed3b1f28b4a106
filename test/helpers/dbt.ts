/**
 * dbt projects for tests: dbt Labs' jaffle shop (../shared/dbt/jaffle-shop-classic, beside the checkout, never
 * edited) and V2s of it made by copying it and editing named files, each edit required to match.
 */
import { chmodSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { runDbt, type DbtRunResult } from '../../dbt/run';
import { startPostgres, type PostgresServer } from '../../toolchain/postgres';
import { ensureDbt } from '../../toolchain/tools';

/** The public jaffle shop project the dbt tests cut over. */
export const JAFFLE_SHOP = path.resolve(__dirname, '..', '..', '..', 'shared', 'dbt', 'jaffle-shop-classic');

/** dbt's python, installed by provisioning (a no-op once it is there). */
export const dbtPython = (): string => ensureDbt((line) => console.error(line));

/** One edit of a copy: in `file` (relative to the project), `from` (which must occur) becomes `to`. */
export interface Edit {
  file: string;
  from: string | RegExp;
  to: string;
}

/** A copy of `project` in `dir` with `edits` applied; throws when an edit finds nothing to change. */
export function projectVariant(project: string, dir: string, edits: readonly Edit[]): string {
  cpSync(project, dir, { recursive: true });
  for (const edit of edits) {
    const file = path.join(dir, edit.file);
    const text = readFileSync(file, 'utf8');
    const changed = text.replace(edit.from, edit.to);
    if (changed === text) throw new Error(`edit of ${edit.file}: ${String(edit.from)} not found`);
    writeFileSync(file, changed);
  }
  return dir;
}

/** jaffle shop's V2 that refactors `customers` (its CTEs renamed and reordered) with the same results. */
export const REFACTOR: Edit[] = [
  { file: 'models/customers.sql', from: /customer_payments/g, to: 'payments_per_customer' },
  { file: 'models/customers.sql', from: 'count(order_id) as number_of_orders', to: 'count(*) as number_of_orders' },
];

/**
 * jaffle shop's V2 that changes `customers.customer_lifetime_value` (net of a 10 % fee, in the column's own type on
 * either warehouse) and adds a column, `gross_lifetime_value`.
 */
export const CHANGED_CLV: Edit[] = [
  {
    file: 'models/customers.sql',
    from: 'customer_payments.total_amount as customer_lifetime_value',
    to: '(customer_payments.total_amount * 9) / 10 as customer_lifetime_value,\n        customer_payments.total_amount as gross_lifetime_value',
  },
];

/**
 * jaffle shop with noise of its own: `customers` gains `loaded_at`, the moment of the build (current_timestamp), so
 * two builds of it on the same data differ in that column, every row.
 */
export const NOISY: Edit[] = [
  {
    file: 'models/customers.sql',
    from: '        customers.last_name,\n',
    to: '        customers.last_name,\n        current_timestamp as loaded_at,\n',
  },
];

/** The noisy jaffle shop with its clock pinned: `loaded_at` is the moment the plan's dataset gives every build. */
export const PINNED: Edit[] = [
  {
    file: 'models/customers.sql',
    from: '        customers.last_name,\n',
    to: '        customers.last_name,\n        cast(\'{{ var("cutover_now", "2000-01-01") }}\' as timestamp) as loaded_at,\n',
  },
];

/** jaffle shop's V2 that rounds `customer_lifetime_value` to cents: on PostgreSQL a bigint becomes a numeric. */
export const RETYPED_CLV: Edit[] = [
  {
    file: 'models/customers.sql',
    from: 'customer_payments.total_amount as customer_lifetime_value',
    to: 'round(customer_payments.total_amount * 0.9, 2) as customer_lifetime_value',
  },
];

/** jaffle shop's changed V2 with `customers` left without its key (no unique / not_null tests): compared unkeyed. */
export const UNKEYED_CHANGED: Edit[] = [
  ...CHANGED_CLV,
  {
    file: 'models/schema.yml',
    from: '        description: This is a unique identifier for a customer\n        tests:\n          - unique\n          - not_null\n',
    to: '        description: This is a unique identifier for a customer\n',
  },
];

/**
 * A warehouse for one test file's dbt builds: dbt installed, a PostgreSQL server of the file's own in `work` (the
 * file's temporary folder, removed after) and a superuser client to it. Read `.server` and `.admin` inside tests.
 */
export function dbtWarehouse(work: string): { readonly server: PostgresServer; readonly admin: Client } {
  const state = {} as { server: PostgresServer; admin: Client };
  beforeAll(async () => {
    dbtPython();
    // The server runs as nobody when the tests run as root: its folder must be one nobody can enter.
    chmodSync(work, 0o755);
    state.server = await startPostgres({ dir: path.join(work, 'pg') });
    state.admin = new Client({ connectionString: state.server.url });
    await state.admin.connect();
  }, 120_000);
  afterAll(async () => {
    await state.admin?.end();
    await state.server?.stop();
    await rm(work, { recursive: true, force: true });
  });
  return state;
}

/** A build of a project into a DuckDB file, and the file. */
export type DuckdbBuild = DbtRunResult & { file: string };

/** Builds `project` with `dbt build` into `<name>.duckdb` of `work`, with `vars` where given. */
export async function buildDuckdb(
  work: string,
  project: string,
  name: string,
  vars?: Record<string, unknown>,
): Promise<DuckdbBuild> {
  const file = path.join(work, `${name}.duckdb`);
  const result = await runDbt(['build'], {
    python: dbtPython(),
    project,
    runDir: path.join(work, `run-${name}`),
    target: { type: 'duckdb', path: file },
    ...(vars ? { vars } : {}),
  });
  return { ...result, file };
}
