/**
 * A dbt pipeline's build time model by model (the `timings` its builds print), V2 against V1 over a size's runs,
 * judged by the stress judge: a model V2 makes twice as slow fails, named in the phase's failures; a model as fast
 * as before passes; a model only one version builds is left out. The report lists every model.
 */
import { modelTimings } from '../../activities/stress';
import { markdownReport } from '../../lib/format';
import type { CompareSettings } from '../../shapes/relative';
import type { CutoverStatus } from '../../shapes/status';
import { modelFailures } from '../../verdicts/thresholds';
import { STRICT } from '../helpers/judge-samples';
import { makePlan } from '../helpers/plans';
import { whatIf } from '../../lib/what-if';
import type { Recorded } from '../../verdicts/recorded';

const settings: CompareSettings = { ...STRICT, maxSlowdown: 0.1, maxMemoryGrowth: 0.2 };
/** Twelve runs of a version: each model's seconds, with a little noise of its own. */
const runs = (seconds: Record<string, number>) =>
  Array.from({ length: 12 }, (_, i) =>
    Object.fromEntries(Object.entries(seconds).map(([model, s]) => [model, s * (1 + ((i * 7) % 5) / 200)])),
  );

test('a model V2 makes twice as slow fails, named; one as fast passes; one only V2 builds is left out', () => {
  const models = modelTimings(
    {
      v1: runs({ customers: 0.4, orders: 0.3 }),
      v2: runs({ customers: 0.8, orders: 0.3, customer_segments: 0.1 }),
    },
    settings,
  );
  expect(models.map((m) => [m.model, m.comparison.verdict])).toEqual([
    ['customers', 'fail'],
    ['orders', 'pass'],
  ]);
  const customers = models[0];
  expect(customers?.comparison.ratio).toBeCloseTo(2, 1);
  expect(customers?.v1Ms).toBeCloseTo(400, -1);
  const sizes = [{ rows: 1000, models }] as never;
  expect(modelFailures(sizes)).toEqual([
    expect.stringMatching(/^1000 rows: model customers: latency median V2\/V1 2\.0\d\d/),
  ]);
  const status = {
    workflowId: 'cutover-shop',
    release: 'shop',
    state: 'failed',
    phase: 'stress',
    startedAt: '2026-12-07T10:00:00.000Z',
    phases: [
      {
        phase: 'stress',
        outcome: 'failed',
        attempts: 1,
        result: { sizes: [{ rows: 1000, latencyMs: {}, rowsPerSecond: 0, iterations: 12, peakRssMb: 0, models }] },
      },
    ],
    gate: { status: 'closed', roles: [] },
    audit: [],
  } as unknown as CutoverStatus;
  const report = markdownReport(status);
  expect(report).toContain('### dbt models: build time, V2 against V1');
  expect(report).toMatch(/\| 1000 \| customers \| 40\d → 8\d\d ms, ×2\.0\d\d \[.*\] · fail \|/);
  expect(report).toMatch(/\| 1000 \| orders \| .* · pass \|/);
});

test("what-if judges each model's recorded build times again under another plan's comparison", () => {
  // V2 builds customers 15 % slower: within a 25 % allowance, past a 10 % one.
  const models = modelTimings(
    { v1: runs({ customers: 0.4, orders: 0.3 }), v2: runs({ customers: 0.46, orders: 0.3 }) },
    { ...settings, maxSlowdown: 0.25 },
  );
  expect(models.map((m) => [m.model, m.comparison.verdict])).toEqual([
    ['customers', 'pass'],
    ['orders', 'pass'],
  ]);
  const plan = (maxSlowdown: string) =>
    makePlan({
      stress: { sizes: [1000], iterations: 12, warmup: 0, compare: { maxSlowdown, minRuns: 5, maxRuns: 12 } },
    });
  const stress = {
    verdict: 'pass',
    sizes: [{ rows: 1000, latencyMs: {}, rowsPerSecond: 0, iterations: 12, peakRssMb: 0, models }],
    failures: [],
    attempt: 1,
  };
  const recorded = {
    workflowId: 'cutover-shop',
    plan: plan('25%'),
    phases: { stress: [{ result: stress, input: {} }] },
    monitors: [],
  } as unknown as Recorded;
  const tighter = whatIf(recorded, plan('10%'));
  expect(tighter.changes).toEqual([
    expect.objectContaining({
      check: 'stress 1000 rows, model customers: V2 against V1',
      before: 'pass',
      after: 'fail',
      limit: '10 % slower',
    }),
  ]);
  // The same plan judges them as they were.
  expect(whatIf(recorded, plan('25%')).changes).toEqual([]);
});
