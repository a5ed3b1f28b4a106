/**
 * The key figures each phase's view declares (lib/phase-views.ts), as `cutover status` shows them beside the
 * verdict: read from the phase's own evidence, and nothing for a phase without evidence yet or without figures.
 */
import { keyFigures } from '../../lib/phase-views';
import type { PhaseRecord } from '../../shapes/status';

const record = (phase: string, result?: unknown) => ({ phase, outcome: 'passed', attempts: 1, result }) as PhaseRecord;

test('shadow: the metrics within tolerance, over every dataset', () => {
  const metric = (verdict: string) => ({ metric: 'PAR30', verdict });
  const shadow = { datasets: [{ metrics: [metric('pass'), metric('fail')] }, { metrics: [metric('pass')] }] };
  expect(keyFigures(record('shadow', shadow))).toBe('2/3 metrics within tolerance');
});

test('stress: the largest size’s p99 and rate, or the V2/V1 median time per size when V2 was judged against V1', () => {
  const sizes = [
    { rows: 1000, latencyMs: { p99: 12.4 }, rowsPerSecond: 9000.4 },
    { rows: 10000, latencyMs: { p99: 80.6 }, rowsPerSecond: 12345.6 },
  ];
  expect(keyFigures(record('stress', { sizes }))).toBe('10000 rows: p99 81 ms, 12346 rows/s');
  const comparisons = (ratio: number) => [
    { measure: 'latency', statistic: 'median', ratio },
    { measure: 'latency', statistic: 'p95', ratio: 9 },
  ];
  const compared = {
    compare: { verdict: 'pass' },
    sizes: sizes.map((z, i) => ({ ...z, relative: { comparisons: comparisons(0.5 + i / 10) } })),
  };
  expect(keyFigures(record('stress', compared))).toBe('V2/V1 median time 0.50, 0.60 by size: pass');
});

test('the rehearsal’s time against its target; nothing before a result, nothing for a phase without figures', () => {
  expect(keyFigures(record('rollback-rehearsal', { durationMs: 1500, targetMs: 300_000 }))).toMatch(/^1\.5 ?s of 5 ?m/);
  expect(keyFigures(record('shadow'))).toBe('');
  expect(keyFigures(record('production', { deployed: {} }))).toBe('');
});
