/**
 * The relative stress judge's false alarms, by seeded simulation: the whole phase verdict on A/A samples (V2 is
 * V1) fails at most 6 % of 1,000 trials at 95 % confidence, whatever the samples' shape. Its power is in
 * judge-power.test.ts; the two files run side by side (seconds of CPU each, so not in the fast tier).
 */
import { heavy, logNormal, STRICT, tied } from '../helpers/judge-samples';
import { rate } from '../helpers/judge-simulation';

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
});
