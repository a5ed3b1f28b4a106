/** `cutover dbt probe`: what consumers read, counted, as a plan's monitoring probe. */
import type { Command } from 'commander';
import { ident } from '../../../dbt/publish';
import { withWarehouse } from './warehouse';

export function register(dbt: Command): void {
  dbt
    .command('probe')
    .description(
      'count the rows of every view of the published schema, and print them as a probe\'s {"metrics": …}: the monitor holds them to the reading before the deploy',
    )
    .requiredOption('--published <schema>', 'the schema consumers read')
    .option('--warehouse-env <var>', "the environment variable with the warehouse's URL", 'CUTOVER_DBT_WAREHOUSE')
    .action(async (o: { published: string; warehouseEnv: string }) => {
      await withWarehouse(o.warehouseEnv, async (client) => {
        const { rows } = await client.query<{ name: string }>(
          'SELECT table_name AS name FROM information_schema.views WHERE table_schema = $1 ORDER BY 1',
          [o.published],
        );
        const metrics: Record<string, number> = {};
        for (const { name } of rows) {
          const counted = await client.query<{ n: string }>(
            `SELECT count(*)::text AS n FROM ${ident(o.published)}.${ident(name)}`,
          );
          metrics[`rows_${name}`] = Number(counted.rows[0]?.n);
        }
        process.stdout.write(`${JSON.stringify({ metrics, errorRate: 0 })}\n`);
      });
    });
}
