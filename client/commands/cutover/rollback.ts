/** `cutover rollback`. */
import { type Command } from 'commander';
import { api, me, withClient } from '../common';

export function register(program: Command): void {
  program
    .command('rollback')
    .argument('<id>', 'workflow id')
    .requiredOption('--reason <text>', 'why')
    .option('--as <name>', 'who asks (default: your user name)')
    .description('roll back now: after the production deploy its undo runs; before it, the cutover stops cleanly')
    .addHelpText(
      'after',
      '\nExample:\n  cutover rollback cutover-portfolio-kpi-v2 --reason "PAR30 spike in the dashboard"',
    )
    .action(async (id: string, o: { reason: string; as?: string }) => {
      const { requestRollback } = await api();
      await withClient(async (c) => {
        await requestRollback(c, id, o.as ?? me(), o.reason);
        process.stdout.write(`rollback requested for ${id}; follow it with: cutover status ${id} --watch\n`);
      });
    });
}
