/** `cutover dbt drop`: a build's schema dropped (V1's, at decommission), never while it is live. */
import type { Command } from 'commander';
import { dropBuild } from '../../../dbt/publish';
import { dropBuildDuckdb } from '../../../dbt/duckdb-warehouse';
import { warehouseOf, withDuckdb, withWarehouse } from './warehouse';

export function register(dbt: Command): void {
  dbt
    .command('drop')
    .description("drop a build's schema (V1's, at decommission); refused while a published view reads it")
    .requiredOption('--published <schema>', 'the schema consumers read')
    .requiredOption('--build <schema...>', "the builds to drop (V1's, and the rebuilds of reconciliation days)")
    .option('--warehouse-env <var>', "the environment variable with the warehouse's URL", 'CUTOVER_DBT_WAREHOUSE')
    .addHelpText('after', '\nExample:\n  cutover dbt drop --published jaffle --build jaffle_v1')
    .action(async (o: { published: string; build: string[]; warehouseEnv: string }) => {
      const warehouse = warehouseOf(o.warehouseEnv);
      if (warehouse.kind === 'duckdb')
        await withDuckdb(warehouse.file, async (w) => {
          for (const build of o.build) await dropBuildDuckdb(w, { published: o.published, build });
        });
      else
        await withWarehouse(o.warehouseEnv, async (client) => {
          for (const build of o.build) await dropBuild(client, { published: o.published, build });
        });
      process.stdout.write(`${JSON.stringify({ dropped: o.build })}\n`);
    });
}
