/** `cutover dbt dataset`: the scale a plan's stress or shadow asks of a dbt build, as the file it hands to it. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UserError } from '../../../lib/errors';

export function register(dbt: Command): void {
  dbt
    .command('dataset')
    .description(
      "a plan's generator for a dbt project: writes the rows and seed a build is asked for, and the moment every build of it takes for now (`cutover dbt build --dataset` passes them to dbt as the vars cutover_rows, cutover_seed and cutover_now, and now as CUTOVER_NOW: a project that reads them scales its sources and pins its clock)",
    )
    .requiredOption('--rows <n>', 'rows asked for')
    .option('--seed <n>', 'the seed', '1')
    .requiredOption('--out <file>', 'where to write it ({dataset})')
    .action(async (o: { rows: string; seed: string; out: string }) => {
      const rows = Number(o.rows);
      const seed = Number(o.seed);
      if (!Number.isInteger(rows) || rows < 1) throw new UserError(`--rows ${o.rows}: expected a whole number ≥ 1`);
      if (!Number.isInteger(seed) || seed < 0) throw new UserError(`--seed ${o.seed}: expected a whole number ≥ 0`);
      // One moment for every build on this dataset (V1, V2, V1 again): a project that reads it agrees with itself.
      const now = new Date().toISOString();
      await writeFile(o.out, `${JSON.stringify({ rows, seed, now })}\n`);
    });
}
