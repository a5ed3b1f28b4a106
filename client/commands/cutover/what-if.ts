/** `cutover what-if`. */
import { type Command } from 'commander';
import { loadPlan } from '../../../plan/load';
import { UserError } from '../../../lib/errors';
import { renderWhatIf } from '../../../lib/format';
import type { WhatIfResult } from '../../../lib/what-if';
import { api, print, withClient } from '../common';

/** The change calendar a policy file gives `release` (what-if's `--policy`); a file that does not load is named. */
async function policyCalendar(file: string, release: string) {
  const { loadPolicy, PolicyError } = await import('../../../policy/load.js');
  const { rulesFor } = await import('../../../policy/schema.js');
  try {
    return rulesFor(loadPolicy(file).policy, release)?.calendar;
  } catch (err) {
    if (err instanceof PolicyError) throw new UserError(err.message);
    throw err;
  }
}

export function register(program: Command): void {
  program
    .command('what-if')
    .argument('[ids...]', 'workflow ids of finished or running cutovers')
    .requiredOption('--plan <file>', 'the plan whose checks to judge the recorded evidence by')
    .option('--policy <file>', "a workers' policy whose change calendar says when the deploy would have gone ahead")
    .option('--all', 'every cutover (with --query: every one it finds)')
    .option('--query <query>', 'a visibility query, such as \'CutoverState = "completed"\'')
    .option('--json', 'print JSON')
    .description('judge recorded evidence under another plan: every verdict that would change (reads only)')
    .addHelpText(
      'after',
      '\nExamples:\n  cutover what-if cutover-portfolio-kpi-v2 --plan tighter.yaml\n' +
        '  cutover what-if --all --query \'CutoverState = "completed"\' --plan tighter.yaml --json',
    )
    .action(
      async (ids: string[], o: { plan: string; policy?: string; all?: boolean; query?: string; json?: boolean }) => {
        const next = await loadPlan(o.plan);
        const calendar = o.policy ? await policyCalendar(o.policy, next.release) : undefined;
        const { whatIf } = await import('../../../lib/what-if.js');
        await withClient(async (c) => {
          const { cutoversMatching, recordedEvidence } = await api();
          let targets = ids;
          if (o.all || o.query !== undefined) targets = [...ids, ...(await cutoversMatching(c, o.query))];
          if (targets.length === 0)
            throw new UserError(
              o.query !== undefined ? `no cutover matches ${o.query}` : 'name at least one workflow id, or --all',
            );
          const results: WhatIfResult[] = [];
          for (const id of targets) results.push(whatIf(await recordedEvidence(c, id), next, calendar));
          print(!!o.json, results, () => renderWhatIf(results, o.plan));
        });
      },
    );
}
