/**
 * The relative stress judge held to its promises by seeded simulation: the whole phase verdict (every size,
 * measure and statistic, with the sequential extension to maxRuns) on A/A samples fails at most 6 % of 1,000
 * trials at 95 % confidence; a true 20 % slowdown fails at least 90 %; a spread-only regression is caught by
 * the tail check at least 80 %. The rates are printed. Seconds of CPU each, so not in the fast tier; the
 * judge's unit tests are test/unit/relative.test.ts.
 */
import { prng } from '../../examples/portfolio-kpi/generate';
import {
  compareGroup,
  familySize,
  looks,
  type CompareSettings,
  type PairedSamples,
  type RelativeComparison,
} from '../../verdicts/relative';
import { heavy, logNormal, spread, STRICT, tied, type Draw } from '../helpers/judge-samples';

const TRIALS = 1000;
const GROUPS = 3; // the example's three stress sizes

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
