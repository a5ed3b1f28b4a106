/** `cutover start`. */
import { type Command } from 'commander';
import { loadPlan } from '../../../plan/load';
import { UserError } from '../../../lib/errors';
import { api, me, print, uiLink, withClient } from '../common';

export function register(program: Command): void {
  program
    .command('start')
    .argument('<file>', 'plan file (YAML or JSON)')
    .option('--id <id>', 'workflow id (default cutover-<release>)')
    .option('--as <name>', "who starts it (may not sign it off); default: the plan's initiator or your user name")
    .option('--dry-run', 'validate only; start nothing')
    .option('--json', 'print JSON')
    .description('validate a plan and start its cutover')
    .addHelpText('after', '\nExample:\n  cutover start examples/portfolio-kpi/plan.yaml --as rm')
    .action(async (file: string, o: { id?: string; as?: string; dryRun?: boolean; json?: boolean }) => {
      const loaded = await loadPlan(file);
      const p = { ...loaded, initiator: o.as ?? loaded.initiator ?? me() };
      if (o.dryRun) {
        print(
          !!o.json,
          { valid: true, release: p.release, dryRun: true },
          () => `${file}: valid; --dry-run, nothing started`,
        );
        return;
      }
      const { awaitPlanCheck, startCutover } = await api();
      await withClient(async (c) => {
        const handle = await startCutover(c, p, o.id ? { workflowId: o.id } : {});
        const link = uiLink(c.namespace, handle.workflowId);
        // The workers check the plan again, against their policy: say at once if they refuse it.
        const check = await awaitPlanCheck(c, handle.workflowId);
        if (check.outcome === 'refused') {
          throw new UserError(`${handle.workflowId} was refused at the workers' plan check: ${check.message}`);
        }
        print(
          !!o.json,
          { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, ui: link, planCheck: check.outcome },
          () =>
            [
              `started ${handle.workflowId}`,
              ...(check.outcome === 'pending'
                ? ['  the plan check has not answered yet: is a worker polling the task queue?']
                : []),
              `  UI:   ${link}`,
              `  next: cutover status ${handle.workflowId} --watch`,
            ].join('\n'),
        );
      });
    });
}
