/**
 * Samples for the relative judge's tests: seeded draws of run times (log-normal, spread, heavy-tailed, tied) and
 * the strictest settings, shared by the unit tests of the intervals and the simulations of whole phases.
 */
import type { CompareSettings } from '../../shapes/relative';

/** Settings as strict as they come: no slowdown and no growth allowed at all. */
export const STRICT: CompareSettings = {
  measures: ['latency', 'memory'],
  maxSlowdown: 0,
  maxMemoryGrowth: 0,
  confidence: 0.95,
  minRuns: 10,
  maxRuns: 40,
  onInconclusive: 'pass',
};

export type Draw = (random: () => number) => number;

export function normal(random: () => number): number {
  const u1 = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * random());
}
/** Log-normal with median 100 and the given coefficient of variation (scaled by `factor`). */
export const logNormal =
  (cv: number, factor = 1): Draw =>
  (random) =>
    factor * 100 * Math.exp(Math.sqrt(Math.log(1 + cv * cv)) * normal(random));
/** Log-normal with median 100 whose σ makes its p95 `p95Ratio` times the median. */
export const spread =
  (p95Ratio: number): Draw =>
  (random) =>
    100 * Math.exp((Math.log(p95Ratio) / 1.6449) * normal(random));
/** Heavy-tailed: Student's t with 3 degrees of freedom in log space (rare runs several times the median). */
export const heavy: Draw = (random) => {
  const z = normal(random);
  const chi = normal(random) ** 2 + normal(random) ** 2 + normal(random) ** 2;
  return 100 * Math.exp((0.1 * z) / Math.sqrt(chi / 3));
};
/** Tied and mostly equal: 90 % exactly 100, the rest 101 or 102 (a timer's or an RSS's granularity). */
export const tied: Draw = (random) => {
  const r = random();
  return r < 0.9 ? 100 : r < 0.95 ? 101 : 102;
};
