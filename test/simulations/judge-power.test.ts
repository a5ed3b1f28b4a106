/**
 * The relative stress judge's power, by seeded simulation: a true 20 % slowdown fails at least 90 % of 1,000
 * phases at 30 pairs, a V2 at the limit passes at most 5 %, and a spread-only regression is caught by the tail
 * check at least 80 %. Its false alarms
 * are in judge-aa.test.ts; the judge's unit tests in test/fast/relative.test.ts.
 */
import { logNormal, spread, STRICT } from '../helpers/judge-samples';
import { rate, type PhaseOutcome } from '../helpers/judge-simulation';

describe('simulation: the whole phase verdict', () => {
  test('a true 20 % slowdown (log-normal CV 10 %) fails at least 90 % at 30 pairs', () => {
    const settings = { ...STRICT, maxRuns: 30 };
    expect(
      rate('20 % slower, CV 10 %, fails', { v1: logNormal(0.1), v2: logNormal(0.1, 1.2) }, settings, 7),
    ).toBeGreaterThanOrEqual(0.9);
  }, 120_000);

  test('a V2 exactly at the limit (10 % slower, 10 % allowed) passes at most 5 % of phases: a pass needs every comparison to pass', () => {
    const settings = { ...STRICT, maxSlowdown: 0.1, maxMemoryGrowth: 0.2, maxRuns: 30 };
    expect(
      rate(
        'at the limit, passes',
        { v1: logNormal(0.1), v2: logNormal(0.1, 1.1) },
        settings,
        13,
        (o) => o.verdict === 'pass',
      ),
    ).toBeLessThanOrEqual(0.05);
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
