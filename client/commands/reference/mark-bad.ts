/** `cutover reference mark-bad`. */
import type { Command } from 'commander';
import { me, withClient } from '../common';

export function register(reference: Command): void {
  reference
    .command('mark-bad')
    .argument('<id>', "a cutover's workflow id")
    .requiredOption('--reason <text>', 'why it must never be a reference')
    .option('--as <name>', 'who marks it', me())
    .description('mark a run as bad: it is never used as a reference')
    .action(async (id: string, o: { reason: string; as: string }) => {
      await withClient(async (c) => {
        const { markBad } = await import('../../../lib/api.js');
        await markBad(c, id, o.reason, o.as);
        process.stdout.write(`${id} is marked bad: never a reference\n`);
      });
    });
}
