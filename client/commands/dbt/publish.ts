/** `cutover dbt publish`: the published schema's views re-pointed at a build, in one transaction. */
import type { Command } from 'commander';
import { publish } from '../../../dbt/publish';
import { UserError } from '../../../lib/errors';
import { publishDuckdb, relationsOf } from '../../../dbt/duckdb-warehouse';
import { warehouseOf, withDuckdb, withWarehouse } from './warehouse';

export function register(dbt: Command): void {
  dbt
    .command('publish')
    .description(
      "point the published schema's views at a build's relations, every one in one transaction: V2's deploy, and the undo that points them back at V1",
    )
    .requiredOption('--published <schema>', 'the schema consumers read')
    .requiredOption('--build <schema>', 'the build to publish (a schema `cutover dbt build` wrote)')
    .option('--warehouse-env <var>', "the environment variable with the warehouse's URL", 'CUTOVER_DBT_WAREHOUSE')
    .addHelpText('after', '\nExample:\n  cutover dbt publish --published jaffle --build jaffle_v2')
    .action(async (o: { published: string; build: string; warehouseEnv: string }) => {
      const warehouse = warehouseOf(o.warehouseEnv);
      const done =
        warehouse.kind === 'duckdb'
          ? await withDuckdb(warehouse.file, async (w) =>
              publishDuckdb(w, { ...o, relations: nonEmpty(o.build, await relationsOf(w, o.build)) }),
            )
          : await withWarehouse(o.warehouseEnv, async (client) => {
              const { rows } = await client.query<{ name: string }>(
                'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
                [o.build],
              );
              return publish(client, {
                ...o,
                relations: nonEmpty(
                  o.build,
                  rows.map((r) => r.name),
                ),
              });
            });
      const answer = {
        published: o.published,
        live: done.live,
        relations: done.relations.length,
        ms: Math.round(done.ms),
      };
      process.stdout.write(`${JSON.stringify(answer)}\n`);
    });
}

/** A build's relations, or a one-line refusal when it has none. */
function nonEmpty(build: string, relations: string[]): string[] {
  if (relations.length === 0) throw new UserError(`${build}: no such schema, or nothing built in it`);
  return relations;
}
