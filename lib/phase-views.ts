/**
 * How each phase's evidence reads in a few words: the key figures beside its verdict in `cutover status` and the
 * reports. One line per phase, a mapped type over the phases, so a new phase without its view does not compile
 * (docs/architecture.md, "Adding a phase").
 */
import { formatMs } from '../plan/duration';
import type { PhaseRecord } from '../shapes/status';
import type { Phase, PhaseResults } from '../shapes/phases';

export interface PhaseView<P extends Phase> {
  /** Its key figures, or nothing where the verdict says it all. */
  figures?: (result: PhaseResults[P]) => string;
}

export const PHASE_VIEWS: { readonly [P in Phase]: PhaseView<P> } = {
  staging: {},
  shadow: {
    figures: (result) => {
      const metrics = result.datasets.flatMap((d) => d.metrics);
      return `${metrics.filter((m) => m.verdict === 'pass').length}/${metrics.length} metrics within tolerance`;
    },
  },
  stress: {
    figures: (result) => {
      if (result.compare) {
        const ratios = result.sizes
          .flatMap((z) => z.relative?.comparisons ?? [])
          .filter((c) => c.measure === 'latency' && c.statistic === 'median')
          .map((c) => c.ratio.toFixed(2));
        return `V2/V1 median time ${ratios.join(', ')} by size: ${result.compare.verdict}`;
      }
      const last = result.sizes.at(-1);
      return last
        ? `${last.rows} rows: p99 ${last.latencyMs.p99.toFixed(0)} ms, ${Math.round(last.rowsPerSecond)} rows/s`
        : '';
    },
  },
  'rollback-rehearsal': { figures: (result) => `${formatMs(result.durationMs)} of ${formatMs(result.targetMs)}` },
  signoff: {},
  production: {},
  monitoring: {},
  reconciliation: {},
  decommission: {},
};

/** Key figures of a phase's evidence, in a few words (empty before it has any, or where its view has none). */
export function keyFigures(record: PhaseRecord): string {
  const figures = PHASE_VIEWS[record.phase].figures as ((result: unknown) => string) | undefined;
  return record.result && figures ? figures(record.result) : '';
}
