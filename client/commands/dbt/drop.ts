/** `cutover dbt drop`: a build's schema dropped (V1's, at decommission), never while it is live. */
import type { Command } from 'commander';
import { dropBuild } from '../../../dbt/publish';
import { withWarehouse } from './warehouse';

export function register(dbt: Command): void {
  dbt
    .command('drop')
    .description("drop a build's schema (V1's, at decommission); refused while a published view reads it")
    .requiredOption('--published <schema>', 'the schema consumers read')
    .requiredOption('--build <schema>', 'the build to drop')
    .option('--warehouse-env <var>', "the environment variable with the warehouse's URL", 'CUTOVER_DBT_WAREHOUSE')
    .addHelpText('after', '\nExample:\n  cutover dbt drop --published jaffle --build jaffle_v1')
    .action(async (o: { published: string; build: string; warehouseEnv: string }) => {
      await withWarehouse(o.warehouseEnv, async (client) => {
        await dropBuild(client, { published: o.published, build: o.build });
        process.stdout.write(`${JSON.stringify({ dropped: o.build })}\n`);
      });
    });
}
