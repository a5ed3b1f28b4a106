/** `cutover list`. */
import { Option, type Command } from 'commander';
import { STATES } from '../../../shapes/status';
import { api, print, withClient } from '../common';

export function register(program: Command): void {
  program
    .command('list')
    .addOption(new Option('--state <state>', 'only this state').choices([...STATES]))
    .option('--release <release>', 'only this release')
    .option('--json', 'print JSON')
    .description('cutovers, found by their search attributes')
    .addHelpText('after', '\nExample:\n  cutover list --state awaiting-signoff')
    .action(async (o: { state?: string; release?: string; json?: boolean }) => {
      const { list } = await api();
      await withClient(async (c) => {
        const rows = await list(c, {
          ...(o.state ? { state: o.state } : {}),
          ...(o.release ? { release: o.release } : {}),
        });
        print(!!o.json, rows, () =>
          rows.length === 0
            ? 'no cutovers'
            : rows
                .map(
                  (r) =>
                    `${r.workflowId}  ${r.release ?? ''}  ${r.phase ?? ''}  ${r.state ?? ''}  ${r.status}  ${r.startTime}`,
                )
                .join('\n'),
        );
      });
    });
}
