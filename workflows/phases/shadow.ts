/** shadow: V1 and V2 on the same datasets, KPI by KPI, against the plan's tolerances and V1's own noise. */
import { long } from '../proxies';
import type { PhaseModule } from './context';

export const shadow: PhaseModule<'shadow'> = {
  phase: 'shadow',
  evidenceKey: 'shadow',
  keepsEvidenceOnFailure: true,
  async run(ctx) {
    const result = await ctx.routed('shadow', (route) =>
      long.runShadow.executeWithOptions({ ...route, summary: 'shadow: V1 vs V2 on every dataset' }, [
        { ...ctx.identity('shadow'), plan: ctx.plan },
      ]),
    );
    const compared = result.datasets.reduce((n: number, d) => n + d.metrics.length, 0);
    return { result, verdict: `${compared} metric comparison(s) within tolerance and noise` };
  },
};
