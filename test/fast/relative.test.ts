/**
 * The relative stress judge's parts: defined verdicts where samples are degenerate (constant, tied, missing,
 * apart) and the intervals it decides by. Its promises over whole phases are held by seeded simulation in
 * test/simulations/ (judge-aa, judge-power).
 */
import { prng } from '../../examples/portfolio-kpi/generate';
import {
  cliffsDelta,
  compareStatistic,
  hodgesLehmann,
  looks,
  hypergeometricUpper,
  mannWhitneyP,
  medianRatioInterval,
  tailRatioInterval,
} from '../../verdicts/relative';
import type { CompareSettings } from '../../shapes/relative';
import { logNormal, STRICT } from '../helpers/judge-samples';

describe('defined verdicts where samples are degenerate', () => {
  const settings: CompareSettings = { ...STRICT, maxSlowdown: 0.1, maxMemoryGrowth: 0.2 };

  test('all constant: ratio 1, interval [1, 1], pass; p-value 1, no effect', () => {
    const same = Array.from({ length: 10 }, () => 64);
    const c = compareStatistic({ measure: 'memory', statistic: 'median' }, { v1: same, v2: same }, settings, 12);
    expect(c).toMatchObject({
      ratio: 1,
      low: 1,
      high: 1,
      pValue: 1,
      cliffsDelta: 0,
      hodgesLehmann: 0,
      verdict: 'pass',
    });
  });

  test('all zero (a measure that never moved): defined, never NaN', () => {
    const zeros = Array.from({ length: 10 }, () => 0);
    const c = compareStatistic({ measure: 'memory', statistic: 'p95' }, { v1: zeros, v2: zeros }, settings, 12);
    expect(c).toMatchObject({ ratio: 1, low: 1, high: 1, verdict: 'pass' });
    // From nothing to something: infinitely more, and both statistics say so.
    for (const statistic of ['median', 'p95'] as const) {
      const grew = compareStatistic(
        { measure: 'memory', statistic: statistic },
        { v1: zeros, v2: zeros.map(() => 5) },
        settings,
        12,
      );
      expect(grew).toMatchObject({ ratio: Number.POSITIVE_INFINITY, verdict: 'fail' });
      expect(Number.isNaN(grew.low) || Number.isNaN(grew.high)).toBe(false);
    }
  });

  test('no samples on one side: inconclusive, not NaN verdicts', () => {
    const c = compareStatistic({ measure: 'latency', statistic: 'median' }, { v1: [], v2: [1, 2, 3] }, settings, 12);
    expect(c.verdict).toBe('inconclusive');
  });

  test('two versions that never overlap: Cliff’s delta ±1, a tiny p-value, the shift between them', () => {
    const v1 = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
    const v2 = v1.map((x) => x + 100);
    expect(cliffsDelta(v1, v2)).toBe(1);
    expect(cliffsDelta(v2, v1)).toBe(-1);
    expect(hodgesLehmann(v1, v2)).toBe(100);
    expect(mannWhitneyP(v1, v2)).toBeLessThan(0.001);
    expect(mannWhitneyP(v1, v1)).toBeGreaterThan(0.9);
  });
});

describe('the intervals', () => {
  test('the median interval is Moses’: 24th pairwise difference from each end at 10 + 10 runs and α = 2.5 %', () => {
    // Tables give 23 as the two-sided 5 % critical value of U for 10 and 10: P(U ≤ 23) ≤ 2.5 % < P(U ≤ 24).
    const v1 = Array.from({ length: 10 }, (_, i) => 100 + i);
    const v2 = Array.from({ length: 10 }, (_, i) => 1000 + 10 * i);
    const differences = v1.flatMap((x) => v2.map((y) => Math.log(y) - Math.log(x))).sort((a, b) => a - b);
    const { low, high } = medianRatioInterval(v1, v2, 0.025);
    expect(Math.log(low)).toBeCloseTo(differences[23] as number, 12);
    expect(Math.log(high)).toBeCloseTo(differences[100 - 24] as number, 12);
  });

  test('hypergeometric tails sum as they should', () => {
    expect(hypergeometricUpper(10, 5, 5, 0)).toBe(1);
    expect(hypergeometricUpper(10, 5, 5, 6)).toBe(0);
    // P(all 5 drawn are marked) = 1 / C(10, 5)
    expect(hypergeometricUpper(10, 5, 5, 5)).toBeCloseTo(1 / 252, 12);
  });

  test('the intervals hold the true ratio and narrow as pairs grow', () => {
    const random = prng(5);
    const draw = logNormal(0.1);
    const v1 = Array.from({ length: 40 }, () => draw(random));
    const v2 = Array.from({ length: 40 }, () => 1.5 * draw(random));
    const median10 = medianRatioInterval(v1.slice(0, 10), v2.slice(0, 10), 0.025);
    const median40 = medianRatioInterval(v1, v2, 0.025);
    expect(median40.low).toBeGreaterThan(1.35);
    expect(median40.high).toBeLessThan(1.65);
    expect(median40.high - median40.low).toBeLessThan(median10.high - median10.low);
    const tail = tailRatioInterval(v1, v2, 0.025);
    expect(tail.low).toBeLessThan(1.5);
    expect(tail.high).toBeGreaterThan(1.5);
  });

  test('looks go from minRuns to maxRuns in at most four steps', () => {
    expect(looks({ minRuns: 10, maxRuns: 40 })).toEqual([10, 20, 30, 40]);
    expect(looks({ minRuns: 10, maxRuns: 10 })).toEqual([10]);
    expect(looks({ minRuns: 5, maxRuns: 7 })).toEqual([5, 6, 7]);
  });
});
