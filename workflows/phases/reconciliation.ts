/** reconciliation: V2 against V1 once a day for the plan's days; unclean days are noted, not fatal. */
import { sleep } from '@temporalio/workflow';
import { long } from '../proxies';
import type { PhaseModule } from './context';

export const reconciliation: PhaseModule<'reconciliation'> = {
  phase: 'reconciliation',
  async run(ctx) {
    const { plan, books } = ctx;
    const { reconcile } = plan.production;
    const days = [];
    for (let day = 1; day <= reconcile.days; day++) {
      await sleep(reconcile.every);
      books.status.reconciliation.day = day;
      const result = await ctx.routed(`reconciliation day ${day}`, (route) =>
        long.reconcile.executeWithOptions({ ...route, summary: `reconcile day ${day}` }, [
          { ...ctx.identity(`reconciliation/day-${day}`), plan, day },
        ]),
      );
      if (result.clean) books.status.reconciliation.cleanDays++;
      else books.audit({ kind: 'note', message: `reconciliation day ${day}: ${result.failures.join('; ')}` });
      days.push({
        day,
        clean: result.clean,
        failures: result.failures,
        ...(result.wouldFail ? { wouldFail: result.wouldFail } : {}),
        // The day's output diffs (where V1's and V2's tables live), kept as the evidence of the day.
        ...(result.outputs ? { outputs: result.outputs } : {}),
      });
      books.refreshDetails();
    }
    const clean = books.status.reconciliation.cleanDays;
    return { result: { days }, verdict: `${clean} of ${reconcile.days} day(s) clean` };
  },
};
