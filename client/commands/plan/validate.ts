/** `cutover plan validate`. */
import type { Command } from 'commander';
import { loadPlan, PlanError } from '../../../plan/load';
import { print } from '../common';

export function register(plan: Command): void {
  plan
    .command('validate')
    .argument('<file>', 'plan file (YAML or JSON)')
    .option('--policy <file>', "also check it against an organisation policy, as the workers' plan check will")
    .option('--json', 'print JSON')
    .description('check a plan; every problem is listed by its path')
    .addHelpText(
      'after',
      '\nExamples:\n  cutover plan validate examples/portfolio-kpi/plan.yaml\n' +
        '  cutover plan validate examples/portfolio-kpi/plan.yaml --policy examples/portfolio-kpi/policy.yaml',
    )
    .action(async (file: string, o: { json?: boolean; policy?: string }) => {
      const p = await loadPlan(file);
      let digest: string | undefined;
      if (o.policy !== undefined) {
        const { checkPlanAgainstPolicy } = await import('../../../policy/check.js');
        const { fileSystemResolver, loadPolicy, PolicyError } = await import('../../../policy/load.js');
        let policy;
        try {
          policy = loadPolicy(o.policy);
        } catch (err) {
          if (err instanceof PolicyError) throw new PlanError(o.policy, err.problems);
          throw err;
        }
        const { problems } = checkPlanAgainstPolicy(p, policy, fileSystemResolver);
        if (problems.length > 0) throw new PlanError(`${file} (against policy ${o.policy})`, problems);
        digest = policy.digest;
      }
      print(
        !!o.json,
        { valid: true, release: p.release, ...(digest ? { policyDigest: digest } : {}) },
        () =>
          `${file}: valid plan for release ${p.release} (${Object.keys(p.signoff.roles).length} sign-off roles)` +
          (digest ? `, within policy ${o.policy} (digest ${digest.slice(0, 12)})` : ''),
      );
    });
}
