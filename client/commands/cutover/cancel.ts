/** `cutover cancel`. */
import { type Command } from 'commander';
import { api, withClient } from '../common';

export function register(program: Command): void {
  program
    .command('cancel')
    .argument('<id>', 'workflow id')
    .description('cancel a cutover (its compensations still run)')
    .addHelpText('after', '\nExample:\n  cutover cancel cutover-portfolio-kpi-v2')
    .action(async (id: string) => {
      const { cancel } = await api();
      await withClient(async (c) => {
        await cancel(c, id);
        process.stdout.write(`cancellation requested for ${id}\n`);
      });
    });
}
