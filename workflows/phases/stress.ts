/** stress: V2 at each size and under sustained load, against the plan's thresholds and, if asked, against V1. */
import { long } from '../proxies';
import type { PhaseModule } from './context';

export const stress: PhaseModule<'stress'> = {
  phase: 'stress',
  evidenceKey: 'stress',
  keepsEvidenceOnFailure: true,
  async run(ctx) {
    const { plan } = ctx;
    const result = await ctx.routed('stress', (route) =>
      long.runStress.executeWithOptions({ ...route, summary: `stress: ${plan.stress.sizes.join(', ')} rows` }, [
        { ...ctx.identity('stress'), plan },
      ]),
    );
    const largest = result.sizes[result.sizes.length - 1];
    const time = largest?.relative?.comparisons.find((c) => c.measure === 'latency' && c.statistic === 'median');
    return {
      result,
      verdict: largest
        ? `p99 ${largest.latencyMs.p99.toFixed(0)} ms at ${largest.rows} rows, ${Math.round(largest.rowsPerSecond)} rows/s${
            time ? `, V2/V1 time ${time.ratio.toFixed(2)} [${time.low.toFixed(2)}, ${time.high.toFixed(2)}]` : ''
          }`
        : 'measured',
    };
  },
};
