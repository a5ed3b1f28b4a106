/**
 * `cutover reference set | mark-bad | list`: the pinned run per pipeline that later cutovers are shown against.
 */
import type { Command } from 'commander';
import { me, print, withClient } from './common';

export function referenceCommands(program: Command): void {
  const reference = program
    .command('reference')
    .description(
      "reference runs: the pinned run per pipeline that later cutovers' shadow and stress are shown against",
    );
  reference
    .command('set')
    .argument('<id>', "a finished cutover's workflow id")
    .requiredOption('--pipeline <name>', "the pipeline it is the reference of (a plan's `pipeline`)")
    .option('--as <name>', 'who pins it', me())
    .description('pin a run as the reference of a pipeline')
    .addHelpText('after', '\nExample:\n  cutover reference set cutover-portfolio-kpi-v2 --pipeline portfolio-kpi')
    .action(async (id: string, o: { pipeline: string; as: string }) => {
      await withClient(async (c) => {
        const { pinReference } = await import('../../lib/api.js');
        await pinReference(c, o.pipeline, id, o.as);
        process.stdout.write(`${id} is the reference of pipeline ${o.pipeline}\n`);
      });
    });
  reference
    .command('mark-bad')
    .argument('<id>', "a cutover's workflow id")
    .requiredOption('--reason <text>', 'why it must never be a reference')
    .option('--as <name>', 'who marks it', me())
    .description('mark a run as bad: it is never used as a reference')
    .action(async (id: string, o: { reason: string; as: string }) => {
      await withClient(async (c) => {
        const { markBad } = await import('../../lib/api.js');
        await markBad(c, id, o.reason, o.as);
        process.stdout.write(`${id} is marked bad: never a reference\n`);
      });
    });
  reference
    .command('list')
    .option('--json', 'print JSON')
    .description('the pinned references and the runs marked bad')
    .action(async (o: { json?: boolean }) => {
      await withClient(async (c) => {
        const { references } = await import('../../lib/api.js');
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
