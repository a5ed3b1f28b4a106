/** `cutover plan init`. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UserError } from '../../../lib/errors';

export function register(plan: Command): void {
  plan
    .command('init')
    .option('--out <file>', 'where to write it', 'plan.yaml')
    .option('--release <name>', "the release's name", 'my-pipeline-v2')
    .option('--force', 'overwrite an existing file')
    .description('write a commented starting plan that validates')
    .addHelpText('after', '\nExample:\n  cutover plan init --out plan.yaml --release orders-v2')
    .action(async (o: { out: string; release: string; force?: boolean }) => {
      const { initPlan } = await import('../../../plan/init-plan.js');
      const text = initPlan(o.release);
      const { parsePlanText, planFromDocument } = await import('../../../plan/load.js');
      // What it writes must validate: a release name the schema refuses is said before anything is written.
      planFromDocument(parsePlanText(text, o.out), o.out, process.cwd());
      try {
        await writeFile(o.out, text, { flag: o.force ? 'w' : 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST')
          throw new UserError(`${o.out}: exists (--force overwrites it)`);
        throw err;
      }
      process.stdout.write(
        `${o.out}: a starting plan for ${o.release}; replace its commands, then cutover plan validate ${o.out}\n`,
      );
    });
}
