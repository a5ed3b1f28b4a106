/** `cutover dbt drop`: a build's schema dropped (V1's, at decommission), never while it is live. */
import type { Command } from 'commander';
import { Client } from 'pg';
import { dropBuild, PublishError } from '../../../dbt/publish';
import { UserError } from '../../../lib/errors';
import { warehouseUrl } from './warehouse';

export function register(dbt: Command): void {
  dbt
    .command('drop')
    .description("drop a build's schema (V1's, at decommission); refused while a published view reads it")
    .requiredOption('--published <schema>', 'the schema consumers read')
    .requiredOption('--build <schema>', 'the build to drop')
    .option('--warehouse-env <var>', "the environment variable with the warehouse's URL", 'CUTOVER_DBT_WAREHOUSE')
    .addHelpText('after', '\nExample:\n  cutover dbt drop --published jaffle --build jaffle_v1')
    .action(async (o: { published: string; build: string; warehouseEnv: string }) => {
      const client = new Client({ connectionString: warehouseUrl(o.warehouseEnv) });
      await client.connect();
      try {
        await dropBuild(client, { published: o.published, build: o.build });
        process.stdout.write(`${JSON.stringify({ dropped: o.build })}\n`);
      } catch (err) {
        if (err instanceof PublishError) throw new UserError(err.message);
        throw err;
      } finally {
        await client.end();
      }
    });
}
