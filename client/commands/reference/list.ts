/** `cutover reference list`. */
import type { Command } from 'commander';
import { print, withClient } from '../common';

export function register(reference: Command): void {
  reference
    .command('list')
    .option('--json', 'print JSON')
    .description('the pinned references and the runs marked bad')
    .action(async (o: { json?: boolean }) => {
      await withClient(async (c) => {
        const { references } = await import('../../../lib/api.js');
        const r = await references(c);
        print(
          !!o.json,
          r,
          () =>
            [
              ...Object.entries(r.pinned).map(([p, m]) => `pinned  ${p}: ${m.workflowId} (by ${m.by}, ${m.at})`),
              ...Object.entries(r.bad).map(([id, m]) => `bad     ${id} (by ${m.by}, ${m.at}): ${m.reason ?? ''}`),
            ].join('\n') || 'no references pinned, no runs marked bad',
        );
      });
    });
}
