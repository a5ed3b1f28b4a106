/**
 * The relative stress judge held to its promises by seeded simulation: the whole phase verdict (every size,
 * measure and statistic, with the sequential extension to maxRuns) on A/A samples fails at most 6 % of 1,000
 * trials at 95 % confidence; a true 20 % slowdown fails at least 90 %; a spread-only regression is caught by
 * the tail check at least 80 %; constant and tied samples give a defined verdict. The rates are printed.
 */
import { prng } from '../../examples/portfolio-kpi/generate';
import {
  cliffsDelta,
  compareGroup,
  compareStatistic,
  familySize,
  hodgesLehmann,
  looks,
  hypergeometricUpper,
  mannWhitneyP,
  medianRatioInterval,
  tailRatioInterval,
  type CompareSettings,
  type PairedSamples,
  type RelativeComparison,
} from '../../verdicts/relative';

const TRIALS = 1000;
const GROUPS = 3; // the example's three stress sizes

/** Settings as strict as they come: no slowdown and no growth allowed at all. */
const STRICT: CompareSettings = {
  measures: ['latency', 'memory'],
  maxSlowdown: 0,
  maxMemoryGrowth: 0,
  confidence: 0.95,
  minRuns: 10,
  maxRuns: 40,
  onInconclusive: 'pass',
};

type Draw = (random: () => number) => number;

function normal(random: () => number): number {
  const u1 = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * random());
}
/** Log-normal with median 100 and the given coefficient of variation (scaled by `factor`). */
const logNormal =
  (cv: number, factor = 1): Draw =>
  (random) =>
    factor * 100 * Math.exp(Math.sqrt(Math.log(1 + cv * cv)) * normal(random));
/** Log-normal with median 100 whose σ makes its p95 `p95Ratio` times the median. */
const spread =
  (p95Ratio: number): Draw =>
  (random) =>
    100 * Math.exp((Math.log(p95Ratio) / 1.6449) * normal(random));
/** Heavy-tailed: Student's t with 3 degrees of freedom in log space (rare runs several times the median). */
const heavy: Draw = (random) => {
  const z = normal(random);
  const chi = normal(random) ** 2 + normal(random) ** 2 + normal(random) ** 2;
  return 100 * Math.exp((0.1 * z) / Math.sqrt(chi / 3));
};
/** Tied and mostly equal: 90 % exactly 100, the rest 101 or 102 (a timer's or an RSS's granularity). */
const tied: Draw = (random) => {
  const r = random();
  return r < 0.9 ? 100 : r < 0.95 ? 101 : 102;
};

interface PhaseOutcome {
  verdict: 'pass' | 'fail' | 'inconclusive';
  failed: RelativeComparison[];
  comparisons: RelativeComparison[];
}

/** One phase: GROUPS sizes, each measured pair by pair, judged at every look until decided or at maxRuns. */
function simulatePhase(
  random: () => number,
  draw: { v1: Draw; v2: Draw; memoryV1?: Draw; memoryV2?: Draw },
  settings: CompareSettings,
): PhaseOutcome {
  const family = familySize(settings, GROUPS);
  const failed: RelativeComparison[] = [];
  const all: RelativeComparison[] = [];
  let verdict: PhaseOutcome['verdict'] = 'pass';
  for (let g = 0; g < GROUPS; g++) {
    const samples: PairedSamples = { v1: { latency: [], memory: [] }, v2: { latency: [], memory: [] } };
    for (let i = 0; i < settings.maxRuns; i++) {
      samples.v1.latency.push(draw.v1(random));
      samples.v2.latency.push(draw.v2(random));
      samples.v1.memory.push((draw.memoryV1 ?? draw.v1)(random));
      samples.v2.memory.push((draw.memoryV2 ?? draw.v1)(random));
    }
    let group: ReturnType<typeof compareGroup> | undefined;
    for (const n of looks(settings)) {
      const cut = (side: PairedSamples['v1']) => ({
        latency: side.latency.slice(0, n),
        memory: side.memory.slice(0, n),
      });
      group = compareGroup({ v1: cut(samples.v1), v2: cut(samples.v2) }, settings, family);
      if (group.verdict !== 'inconclusive') break;
    }
    const result = group as ReturnType<typeof compareGroup>;
    all.push(...result.comparisons);
    failed.push(...result.comparisons.filter((c) => c.verdict === 'fail'));
    if (result.verdict === 'fail') verdict = 'fail';
    else if (result.verdict === 'inconclusive' && verdict === 'pass') verdict = 'inconclusive';
  }
  return { verdict, failed, comparisons: all };
}

function rate(
  name: string,
  draw: Parameters<typeof simulatePhase>[1],
  settings: CompareSettings,
  seed: number,
  counts: (o: PhaseOutcome) => boolean = (o) => o.verdict === 'fail',
): number {
  const random = prng(seed);
  let hits = 0;
  let inconclusive = 0;
  for (let t = 0; t < TRIALS; t++) {
    const outcome = simulatePhase(random, draw, settings);
    for (const c of outcome.comparisons) {
      for (const v of [c.ratio, c.low, c.high, c.pValue, c.cliffsDelta, c.hodgesLehmann]) {
        if (Number.isNaN(v)) throw new Error(`${name}: NaN in ${JSON.stringify(c)}`);
      }
    }
    if (counts(outcome)) hits++;
    if (outcome.verdict === 'inconclusive') inconclusive++;
  }
  const r = hits / TRIALS;
  process.stdout.write(
    `relative judge, ${name}: ${(r * 100).toFixed(1)} % of ${TRIALS} trials (inconclusive ${((inconclusive / TRIALS) * 100).toFixed(1)} %)\n`,
  );
  return r;
}

describe('simulation: the whole phase verdict', () => {
  test.each([
    ['A/A log-normal CV 10 %', logNormal(0.1)],
    ['A/A log-normal CV 30 %', logNormal(0.3)],
    ['A/A heavy-tailed (t₃ in log space)', heavy],
    ['A/A tied, mostly equal', tied],
  ])(
    '%s fails at most 6 % of trials with no slowdown allowed',
    (name, draw) => {
      expect(rate(`${name}, fails`, { v1: draw, v2: draw }, STRICT, 20261126)).toBeLessThanOrEqual(0.06);
    },
    120_000,
  );

  test('a true 20 % slowdown (log-normal CV 10 %) fails at least 90 % at 30 pairs', () => {
    const settings = { ...STRICT, maxRuns: 30 };
    expect(
      rate('20 % slower, CV 10 %, fails', { v1: logNormal(0.1), v2: logNormal(0.1, 1.2) }, settings, 7),
    ).toBeGreaterThanOrEqual(0.9);
  }, 120_000);

  test('a spread-only regression (same median, p95 doubled, CV 10 %) is caught by the tail check at least 80 %', () => {
    const caughtByTail = (o: PhaseOutcome) =>
      o.verdict === 'fail' && o.failed.some((c) => c.measure === 'latency' && c.statistic === 'p95');
    const v1 = logNormal(0.1);
    // V1's p95 is 1.18 × its median: doubled, 2.36 ×, with the same median.
    expect(
      rate('spread only, caught by p95', { v1, v2: spread(2 * 1.1787) }, STRICT, 11, caughtByTail),
    ).toBeGreaterThanOrEqual(0.8);
  }, 120_000);
});

describe('defined verdicts where samples are degenerate', () => {
  const settings: CompareSettings = { ...STRICT, maxSlowdown: 0.1, maxMemoryGrowth: 0.2 };

  test('all constant: ratio 1, interval [1, 1], pass; p-value 1, no effect', () => {
    const same = Array.from({ length: 10 }, () => 64);
    const c = compareStatistic('memory', 'median', same, same, settings, 12);
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
    const c = compareStatistic('memory', 'p95', zeros, zeros, settings, 12);
    expect(c).toMatchObject({ ratio: 1, low: 1, high: 1, verdict: 'pass' });
    // From nothing to something: infinitely more, and both statistics say so.
    for (const statistic of ['median', 'p95'] as const) {
      const grew = compareStatistic(
        'memory',
        statistic,
        zeros,
        zeros.map(() => 5),
        settings,
        12,
      );
      expect(grew).toMatchObject({ ratio: Number.POSITIVE_INFINITY, verdict: 'fail' });
      expect(Number.isNaN(grew.low) || Number.isNaN(grew.high)).toBe(false);
    }
  });

  test('no samples on one side: inconclusive, not NaN verdicts', () => {
    const c = compareStatistic('latency', 'median', [], [1, 2, 3], settings, 12);
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
