/**
 * Dry-run checks: measured, shown and kept, never counted. The shared verdicts mark them; the shadow and stress
 * activities pass with them listed as "would have failed"; a dry-run trigger says it would have rolled back and
 * a real one still fires; the policy refuses a dry run on a check it requires, by path.
 */
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../../activities';
import type { ShadowResult, StressResult } from '../../../shapes/phases';
import { checkPlanAgainstPolicy } from '../../../policy/check';
import { fileSystemResolver, loadPolicy } from '../../../policy/load';
import { compareMetrics, counts } from '../../../verdicts/metrics';
import { thresholdVerdicts } from '../../../verdicts/thresholds';
import { evaluateTriggers, rehearseTriggers } from '../../../verdicts/triggers';
import { tempDir } from '../../helpers/harness';
import { makePlan, makePlanInput, nodeRun } from '../../helpers/plans';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

test('a failing dry-run tolerance is marked and not counted; the same without dryRun counts', () => {
  const [dry] = compareMetrics(
    { PAR30: 0.1 },
    { PAR30: 0.2 },
    { tolerances: { PAR30: { relative: 0.05, dryRun: true } } },
  );
  expect(dry).toMatchObject({ verdict: 'fail', dryRun: true });
  expect(counts(dry!)).toBe(false);
  const [real] = compareMetrics({ PAR30: 0.1 }, { PAR30: 0.2 }, { tolerances: { PAR30: { relative: 0.05 } } });
  expect(counts(real!)).toBe(true);
});

test('a dry-run trigger would have rolled back; a real trigger judged after it still fires', () => {
  const triggers = { errorRate: 0.01, kpiDrift: 0.05, dryRun: ['errorRate' as const] };
  const reference = { PAR30: 0.1 };
  const onlyDry = evaluateTriggers(triggers, { ok: true, errorRate: 0.5, metrics: reference }, reference, 0);
  expect(onlyDry.breach).toBeUndefined();
  expect(onlyDry.wouldBreach).toMatchObject({ trigger: 'errorRate' });
  const both = evaluateTriggers(triggers, { ok: true, errorRate: 0.5, metrics: { PAR30: 0.5 } }, reference, 0);
  expect(both.breach).toMatchObject({ trigger: 'kpiDrift' });
  expect(both.wouldBreach).toMatchObject({ trigger: 'errorRate' });
  // The rehearsal proves a dry-run trigger would fire too.
  expect(rehearseTriggers(triggers, reference).map((c) => [c.trigger, c.fired])).toEqual([
    ['errorRate', true],
    ['kpiDrift', true],
  ]);
});

test('dry-run thresholds are split from the ones that fail the phase', () => {
  const latency = { n: 3, p50: 100, p95: 100, p99: 100, max: 100, mean: 100, sd: 0 };
  const size = {
    rows: 10,
    iterations: 3,
    errors: 0,
    latencyMs: latency,
    rowsPerSecond: 1,
    usPerRow: 1,
    peakRssMb: 300,
    rssVariation: 0,
  };
  const split = thresholdVerdicts({ latencyP99: '50ms', peakRssMb: 200, dryRun: ['latencyP99'] }, [size], undefined);
  expect(split).toEqual({ failures: ['10 rows: peak RSS 300 MB > 200 MB'], wouldFail: ['10 rows: p99 100 ms > 50ms'] });
});

describe('the activities', () => {
  const activities = createActivities({ dataDir: tempDir('dry-run-') });
  const identity = (workflowId: string) => ({ workflowId, release: 'test-release', key: `${workflowId}/phase` });

  test('shadow passes with a dry-run tolerance V2 misses, listing it as would have failed', async () => {
    const out = (pa: number) => JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: pa }, rows: 10 });
    const plan = makePlan({
      baseline: { run: nodeRun(`process.stdout.write(${JSON.stringify(out(0.1))})`) },
      candidate: { run: nodeRun(`process.stdout.write(${JSON.stringify(out(0.2))})`) },
      shadow: {
        datasets: [{ generate: { rows: 10, seed: 1 } }],
        noiseRuns: 0,
        tolerances: { PAR30: { relative: 0.05, dryRun: true } },
      },
    });
    const result = (await new MockActivityEnvironment().run(activities.runShadow, {
      ...identity('dry-shadow'),
      plan,
    })) as ShadowResult;
    expect(result.verdict).toBe('pass');
    expect(result.failures).toEqual([]);
    expect(result.wouldFail).toEqual([expect.stringMatching(/^10 rows \(seed 1\): PAR30: \|difference\| 0\.1/)]);
  });

  test('stress passes with a dry-run threshold it misses, listing it as would have failed', async () => {
    const input = makePlanInput();
    const plan = makePlan({ stress: { ...input.stress, thresholds: { latencyP99: '1ms', dryRun: ['latencyP99'] } } });
    const result = (await new MockActivityEnvironment().run(activities.runStress, {
      ...identity('dry-stress'),
      plan,
    })) as StressResult;
    expect(result.verdict).toBe('pass');
    expect(result.wouldFail?.[0]).toMatch(/^10 rows: p99 \d+ ms > 1ms$/);
  }, 60_000);
});

test('the policy refuses a dry run on every check it bounds, by path, and lets one through where it bounds none', () => {
  const dir = tempDir('dry-policy-');
  const file = path.join(dir, 'policy.yaml');
  writeFileSync(
    file,
    stringify({
      version: 1,
      default: {
        ceilings: {
          tolerances: { PAR30: { relative: 0.05 } },
          stress: { latencyP99: '5s' },
          triggers: { errorRate: 0.01 },
          compare: { maxSlowdown: 0.1 },
          outputs: { maxDifferingRows: 0 },
        },
      },
    }),
  );
  const policy = loadPolicy(file);
  const input = makePlanInput();
  const plan = makePlan({
    baseline: { run: ['v1', '{output:t}'] },
    candidate: { run: ['v2', '{output:t}'] },
    shadow: {
      ...input.shadow,
      tolerances: { PAR30: { relative: 0.05, dryRun: true }, TotalReceivable: { relative: 0.01, dryRun: true } },
      outputs: { t: { key: ['id'], dryRun: true } },
    },
    stress: {
      ...input.stress,
      thresholds: { latencyP99: '1s', errorRate: 0, dryRun: ['latencyP99', 'errorRate'] },
      compare: { dryRun: true },
    },
    production: {
      ...input.production,
      monitor: {
        ...input.production.monitor,
        triggers: { errorRate: 0.01, kpiDrift: 0.05, dryRun: ['errorRate', 'kpiDrift'] },
      },
    },
  });
  const { problems } = checkPlanAgainstPolicy(plan, policy, fileSystemResolver);
  expect(problems.filter((p) => p.path.endsWith('dryRun') || /dryRun\[\d\]$/.test(p.path)).map((p) => p.path)).toEqual([
    'shadow.tolerances.PAR30.dryRun',
    'shadow.outputs.t.dryRun',
    'stress.thresholds.dryRun[0]',
    'stress.compare.dryRun',
    'production.monitor.triggers.dryRun[0]',
  ]);
  expect(problems.find((p) => p.path === 'shadow.tolerances.PAR30.dryRun')?.message).toBe(
    'the policy requires this check: it cannot be a dry run',
  );
});
