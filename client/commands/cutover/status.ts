/** `cutover status`. */
import { type Command } from 'commander';
import { isFinal } from '../../../shapes/status';
import { renderStatus } from '../../../lib/format';
import { api, withClient } from '../common';

export function register(program: Command): void {
  program
    .command('status')
    .argument('<id>', 'workflow id')
    .option('--watch', 'redraw on change until the cutover ends')
    .option('--json', 'print JSON')
    .description('phases, the gate and the latest audit entries')
    .addHelpText('after', '\nExample:\n  cutover status cutover-portfolio-kpi-v2 --watch')
    .action(async (id: string, o: { watch?: boolean; json?: boolean }) => {
      const { status } = await api();
      await withClient(async (c) => {
        let last = '';
        for (;;) {
          const s = await status(c, id);
          const text = o.json ? JSON.stringify(s, null, 2) : renderStatus(s);
          if (text !== last) {
            if (o.watch && !o.json && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
            process.stdout.write(text + '\n');
            last = text;
          }
          if (!o.watch || isFinal(s.state)) return;
          await new Promise((r) => setTimeout(r, 1000));
        }
      });
    });
}
