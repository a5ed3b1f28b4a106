/** staging: deploy V2 to staging, run its tests and health checks. Its undo is registered before the first deploy step. */
import type { HealthResult, StepResult } from '../../shapes/evidence';
import { toMs } from '../../plan/duration';
import { stepOptions, steps } from '../proxies';
import type { PhaseModule } from './context';

export const staging: PhaseModule<'staging'> = {
  phase: 'staging',
  evidenceKey: 'staging',
  async run(ctx) {
    const { plan } = ctx;
    const baseDir = plan.baseDir;
    ctx.compensations.register({ label: 'rollback staging', action: plan.rollback, phase: 'staging' });
    const deployed: StepResult[] = [];
    for (const [index, action] of plan.staging.deploy.entries()) {
      deployed.push(await ctx.step(`deploy ${action.name ?? index + 1}`, action));
    }
    const tests = plan.staging.tests ? await ctx.step('tests', plan.staging.tests) : undefined;
    let health: HealthResult | undefined;
    if (plan.staging.healthChecks.length > 0) {
      const input = {
        ...ctx.identity('staging/health'),
        checks: plan.staging.healthChecks,
        timeoutMs: toMs(plan.staging.healthTimeout),
        ...(baseDir ? { baseDir } : {}),
        ...(plan.policyDigest !== undefined ? { policyDigest: plan.policyDigest } : {}),
      };
      health = await ctx.routed('staging health checks', (route) =>
        steps.checkHealth.executeWithOptions(
          { ...stepOptions(toMs(plan.staging.healthTimeout)), ...route, summary: 'staging health checks' },
          [input],
        ),
      );
    }
    const result = { deployed, tests, health };
    return {
      result,
      verdict: `${deployed.length} deploy step(s), tests ${tests ? 'passed' : 'none'}, ${health ? 'healthy' : 'no health checks'}`,
    };
  },
};
