/**
 * The example's warehouse for one test file: a PostgreSQL server of the file's own on loopback
 * (toolchain/postgres.ts), with the example's database set up as `npm start` sets it up
 * (examples/portfolio-kpi/warehouse.ts). V1's login goes into this process's environment (PORTFOLIO_KPI_WAREHOUSE,
 * which the in-process workers' actions inherit, and `env` for a worker process); the workers' read-only login
 * into `databases.warehouse` (the worker option, filled in before the file's tests run). Stopped after them.
 */
import { chmodSync } from 'node:fs';
import path from 'node:path';
import { setUpWarehouse, WAREHOUSE_ENV } from '../../examples/portfolio-kpi/warehouse';
import { startPostgres, type PostgresServer } from '../../toolchain/postgres';
import { tempDir } from './harness';

export interface ExampleWarehouse {
  /** `{ warehouse: <read-only URL> }`, for WorkerOptions.databases. */
  databases: Record<string, string>;
  /** A worker process's variables: CUTOVER_DATABASE_WAREHOUSE and PORTFOLIO_KPI_WAREHOUSE. */
  env: Record<string, string>;
  readonly server: PostgresServer;
}

export function exampleWarehouse(): ExampleWarehouse {
  const state = { databases: {}, env: {} } as { databases: Record<string, string>; env: Record<string, string> } & {
    server: PostgresServer;
  };
  beforeAll(async () => {
    const dir = tempDir('warehouse-');
    // The server runs as nobody when the tests run as root: its folder must be one nobody can enter.
    chmodSync(dir, 0o755);
    state.server = await startPostgres({ dir: path.join(dir, 'pg') });
    const logins = await setUpWarehouse(state.server.url);
    state.databases.warehouse = logins.reader;
    Object.assign(state.env, { CUTOVER_DATABASE_WAREHOUSE: logins.reader, [WAREHOUSE_ENV]: logins.writer });
    process.env[WAREHOUSE_ENV] = logins.writer;
  }, 120_000);
  afterAll(async () => {
    delete process.env[WAREHOUSE_ENV];
    await state.server?.stop();
  }, 30_000);
  return state;
}
