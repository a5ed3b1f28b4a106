/** decommission: V1 removed after enough clean days of reconciliation; kept otherwise. */
import { awaitChangeWindow, windowApplies } from '../change-window';
import type { PhaseModule } from './context';

export const decommission: PhaseModule<'decommission'> = {
  phase: 'decommission',
  async run(ctx) {
    const { decommission } = ctx.plan.production;
    const clean = ctx.books.status.reconciliation.cleanDays;
    if (clean < decommission.afterCleanDays) {
      return {
        result: { skipped: true },
        verdict: `kept V1: ${clean} clean day(s), ${decommission.afterCleanDays} needed`,
        outcome: 'skipped',
      };
    }
    if (windowApplies(ctx.plan)) await awaitChangeWindow(ctx, 'decommission', 'the decommission');
    // From here V1 is being removed: nothing can roll back to it, so the compensations are dropped first
    // (a failing decommission must not switch production back to a half-removed V1), and a rollback
    // request is refused.
    ctx.markDecommissioning();
    ctx.compensations.dropAll('V1 is being decommissioned, nothing to roll back to');
    const { afterCleanDays: _unused, ...action } = decommission;
    const result = await ctx.step('decommission V1', action);
    return { result, verdict: `V1 decommissioned after ${clean} clean day(s)` };
  },
};
