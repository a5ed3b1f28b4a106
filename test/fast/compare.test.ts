import { compareMetrics } from '../../verdicts/metrics';
import { evaluateTriggers, rehearseTriggers } from '../../verdicts/triggers';
import { latencyStats, variation } from '../../activities/stats';

const tol = { x: { relative: 0.05 } };

describe('V1 vs V2 comparison', () => {
  test('a difference exactly at the tolerance passes; just past it fails', () => {
    expect(compareMetrics({ x: 100 }, { x: 105 }, { tolerances: tol })[0]).toMatchObject({
      verdict: 'pass',
      difference: 5,
      relative: 0.05,
    });
    expect(compareMetrics({ x: 100 }, { x: 105.001 }, { tolerances: tol })[0]).toMatchObject({ verdict: 'fail' });
    expect(compareMetrics({ x: 0.1 }, { x: 0.1 + 0.005 }, { tolerances: tol })[0]?.verdict).toBe('pass');
  });

  test('a zero baseline: a relative tolerance allows nothing, an absolute one applies', () => {
    const [rel] = compareMetrics({ x: 0 }, { x: 0.001 }, { tolerances: tol });
    expect(rel).toMatchObject({ verdict: 'fail' });
    expect(rel?.reason).toMatch(/V1 is 0/);
    expect(rel?.relative).toBeUndefined();
    expect(compareMetrics({ x: 0 }, { x: 0.001 }, { tolerances: { x: { absolute: 0.01 } } })[0]?.verdict).toBe('pass');
    expect(compareMetrics({ x: 0 }, { x: 0 }, { tolerances: tol })[0]?.verdict).toBe('pass');
  });

  test('negative values use the magnitude of V1', () => {
    expect(compareMetrics({ x: -100 }, { x: -104 }, { tolerances: tol })[0]?.verdict).toBe('pass');
    expect(compareMetrics({ x: -100 }, { x: -94 }, { tolerances: tol })[0]?.verdict).toBe('fail');
  });

  test('NaN or Infinity fails', () => {
    expect(compareMetrics({ x: NaN }, { x: 1 }, { tolerances: tol })[0]).toMatchObject({
      verdict: 'fail',
      reason: 'not a finite number',
    });
    expect(compareMetrics({ x: 1 }, { x: Infinity }, { tolerances: tol })[0]?.verdict).toBe('fail');
  });

  test('a metric on one side only fails', () => {
    const result = compareMetrics({ x: 1, y: 2 }, { x: 1, z: 3 }, { tolerances: {} });
    expect(result.map((m) => [m.metric, m.verdict, m.reason])).toEqual([
      ['x', 'pass', undefined],
      ['y', 'fail', 'produced by V1 only'],
      ['z', 'fail', 'produced by V2 only'],
    ]);
  });

  test('without a tolerance, metrics must be equal up to floating-point noise', () => {
    expect(compareMetrics({ x: 0.1 + 0.2 }, { x: 0.3 }, { tolerances: {} })[0]?.verdict).toBe('pass');
    expect(compareMetrics({ x: 1 }, { x: 1.0001 }, { tolerances: {} })[0]?.verdict).toBe('fail');
  });

  test('a difference within V1’s own noise does not fail', () => {
    const [m] = compareMetrics({ x: 100 }, { x: 110 }, { tolerances: tol, noiseRuns: [{ x: 112 }] });
    expect(m).toMatchObject({ verdict: 'pass', noise: 12 });
    expect(m?.reason).toMatch(/noise/);
    expect(compareMetrics({ x: 100 }, { x: 110 }, { tolerances: tol, noiseRuns: [{ x: 101 }] })[0]?.verdict).toBe(
      'fail',
    );
  });

  test('value ranges: a rate outside [0, 1] or a negative total fails on either side', () => {
    const ranges = { rate: { min: 0, max: 1 }, total: { min: 0 } };
    const result = compareMetrics(
      { rate: 0.5, total: -1 },
      { rate: 1.2, total: -1 },
      { tolerances: { rate: { absolute: 1 } }, ranges },
    );
    expect(result.map((m) => m.reason)).toEqual(['V2 value 1.2 outside [0, 1]', 'V1 value -1 outside [0, ∞]']);
  });
});

describe('rollback triggers', () => {
  const triggers = { errorRate: 0.01, kpiDrift: 0.05, failedProbes: 3 };
  const reference = { PAR30: 0.1, Total: 1000 };

  test('a healthy sample breaches nothing', () => {
    expect(evaluateTriggers(triggers, { ok: true, errorRate: 0, metrics: reference }, reference, 0)).toEqual({
      maxDrift: 0,
    });
  });

  test('each trigger fires on its own breach', () => {
    expect(
      evaluateTriggers(triggers, { ok: true, errorRate: 0.02, metrics: reference }, reference, 0).breach?.trigger,
    ).toBe('errorRate');
    expect(
      evaluateTriggers(triggers, { ok: true, errorRate: 0, metrics: { ...reference, PAR30: 0.11 } }, reference, 0)
        .breach?.trigger,
    ).toBe('kpiDrift');
    expect(evaluateTriggers(triggers, { ok: false }, reference, 2).breach).toBeUndefined();
    expect(evaluateTriggers(triggers, { ok: false }, reference, 3).breach?.trigger).toBe('failedProbes');
  });

  test('a KPI missing from the probe is infinite drift', () => {
    expect(
      evaluateTriggers(triggers, { ok: true, errorRate: 0, metrics: { Total: 1000 } }, reference, 0).breach?.detail,
    ).toMatch(/PAR30 moved \(missing\)/);
  });

  test('the rehearsal proves every configured trigger fires', () => {
    expect(rehearseTriggers(triggers, reference).map((c) => [c.trigger, c.fired])).toEqual([
      ['failedProbes', true],
      ['errorRate', true],
      ['kpiDrift', true],
    ]);
    expect(rehearseTriggers({ errorRate: 0.5 }, reference)).toHaveLength(1);
  });
});

describe('statistics', () => {
  test('percentiles, mean and spread of latencies', () => {
    const s = latencyStats(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(s).toMatchObject({ n: 100, p50: 50.5, max: 100, mean: 50.5 });
    expect(s.p99).toBeGreaterThanOrEqual(99);
    expect(s.sd).toBeCloseTo(29.01, 1);
    expect(variation([90, 100])).toBeCloseTo(0.1);
    expect(latencyStats([])).toMatchObject({ n: 0 });
  });
});
