/** `cutover reference set`. */
import type { Command } from 'commander';
import { me, withClient } from '../common';

export function register(reference: Command): void {
  reference
    .command('set')
    .argument('<id>', "a finished cutover's workflow id")
    .requiredOption('--pipeline <name>', "the pipeline it is the reference of (a plan's `pipeline`)")
    .option('--as <name>', 'who pins it', me())
    .description('pin a run as the reference of a pipeline')
    .addHelpText('after', '\nExample:\n  cutover reference set cutover-portfolio-kpi-v2 --pipeline portfolio-kpi')
    .action(async (id: string, o: { pipeline: string; as: string }) => {
      await withClient(async (c) => {
        const { pinReference } = await import('../../../lib/api.js');
        await pinReference(c, o.pipeline, id, o.as);
        process.stdout.write(`${id} is the reference of pipeline ${o.pipeline}\n`);
      });
    });
}
