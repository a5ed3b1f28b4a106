/**
 * The stress comparison with the example's real V1 and V2 processes in MockActivityEnvironment: V2 passes at the
 * minimum pair count; `PORTFOLIO_KPI_SLOW=1.3` fails the phase with the interval in the reason; an attempt after
 * a crash resumes from the pairs already measured; the evidence keeps every sample, so the verdict recomputes.
 * Then the plan schema's and the policy's refusals, by path.
 */
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../../activities';
import { compareGroup, familySize, looks } from '../../../verdicts/relative';
import { compareSettings } from '../../../verdicts/thresholds';
import type { StressProgress, StressRun } from '../../../shapes/evidence';
import type { StressResult } from '../../../shapes/phases';
import { htmlReport } from '../../../lib/html-report';
import { markdownReport, renderStatus } from '../../../lib/format';
import { FailureType } from '../../../plan/failures';
import type { CutoverStatus } from '../../../shapes/status';
import { loadPlan } from '../../../plan/load';
import { planSchema, type CutoverPlan } from '../../../plan/schema';
import { tempDir } from '../../helpers/harness';
import { makePlanInput } from '../../helpers/plans';
import { exampleWarehouse } from '../../helpers/warehouse';

const EXAMPLE = path.resolve(__dirname, '..', '..', '..', 'examples', 'portfolio-kpi', 'plan.yaml');
const ROWS = 3000;

let example: CutoverPlan;
// The stress phase runs the example's V1 as the plan says: writing its tables to the warehouse.
exampleWarehouse();
beforeAll(async () => {
  example = await loadPlan(EXAMPLE);
});

function plan(
  candidateEnv: Record<string, string> = {},
  compare: Record<string, unknown> = {},
  rows = ROWS,
): CutoverPlan {
  return planSchema.parse({
    ...example,
    candidate: { ...example.candidate, env: candidateEnv },
    stress: {
      sizes: [rows],
      warmup: 1,
      compare: { maxSlowdown: '10%', maxMemoryGrowth: '20%', confidence: 0.95, minRuns: 6, maxRuns: 12, ...compare },
      thresholds: {},
    },
  });
}

const identity = (workflowId: string) => ({ workflowId, release: 'portfolio-kpi-v2', key: `${workflowId}/stress` });

/** The stress phase of `p` that must fail on its thresholds: its ApplicationFailure (ThresholdFailed). */
async function stressFailure(p: CutoverPlan, workflowId: string): Promise<ApplicationFailure> {
  const activities = createActivities({ dataDir: tempDir(`${workflowId}-`) });
  const err = await new MockActivityEnvironment().run(activities.runStress, { ...identity(workflowId), plan: p }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect((err as ApplicationFailure).type).toBe(FailureType.ThresholdFailed);
  return err as ApplicationFailure;
}

test('V2, faster than V1, passes at one of its looks; the evidence recomputes to the same verdict', async () => {
  // 20,000 rows: long enough that V2's lead over V1 is not lost in process start-up on a busy machine. Up to 30
  // pairs, as the example plan: at 12, beside two spinning shells and a build, one slow V2 run left the p95's
  // interval across the limit ([0.220, 4.418]) and the phase failed as inconclusive.
  const p = plan({}, { maxRuns: 30 }, 20000);
  const activities = createActivities({ dataDir: tempDir('compare-') });
  const result = (await new MockActivityEnvironment().run(activities.runStress, {
    ...identity('compare-pass'),
    plan: p,
  })) as StressResult;
  expect(result.verdict).toBe('pass');
  expect(result.compare?.verdict).toBe('pass');
  const relative = result.sizes[0]?.relative;
  // Decided at a look (6, 14, 22 or 30 pairs): on a quiet machine the first; a busy one needs more pairs.
  expect(looks({ minRuns: 6, maxRuns: 30 })).toContain(relative?.pairs);
  expect(relative?.samples.v1.latency).toHaveLength(relative?.pairs ?? -1);
  expect(relative?.samples.v2.latency).toHaveLength(relative?.pairs ?? -1);
  const time = relative?.comparisons.find((c) => c.measure === 'latency' && c.statistic === 'median');
  expect(time?.ratio).toBeLessThan(0.8);
  expect(time?.high).toBeLessThanOrEqual(1.1);
  // A large effect in V2's favour (Cliff's delta past -0.474, Romano's "large"): -1 on a quiet machine (every V2
  // run faster than every V1 run); beside two spinning shells one slow V2 run made it -0.94.
  expect(time?.cliffsDelta).toBeLessThan(-0.474);
  // From the recorded samples alone, the judge gives the very same comparisons.
  const settings = compareSettings(p);
  const again = compareGroup(relative!.samples, settings!, familySize(settings!, 1));
  expect(again.comparisons).toEqual(relative?.comparisons);
}, 120_000);

test('PORTFOLIO_KPI_SLOW=1.3: V2 takes 1.3 × V1’s time and the phase fails with the interval in the reason', async () => {
  // Up to 30 pairs: a busy machine widens the interval, and more pairs narrow it again.
  const failure = await stressFailure(plan({ PORTFOLIO_KPI_SLOW: '1.3' }, { maxRuns: 30 }), 'compare-slow');
  // What the judge promises: a V2 1.3 × slower never passes. It fails on latency, with the ratio, its interval
  // and the limit: decided (after N pairs), or, where a busy machine's noise keeps the interval across the limit
  // for all 30 pairs, as inconclusive, which fails the phase (onInconclusive: fail). Which statistic decides
  // first (the median or the p95 tail) and whether 30 pairs decide depend on the machine's noise, not on the judge.
  expect(failure.message).toMatch(
    /3000 rows: (inconclusive after 30 pairs \(onInconclusive: fail\): )?latency (median|p95) V2\/V1 \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] at \d+\.\d{2} %\/\d+\.\d{2} %, limit 1\.100/,
  );
  const evidence = failure.details?.[0] as StressResult;
  // Every latency statistic that did not pass has an interval reaching past the limit: V2 was not shown to be
  // within it. The measured ratios themselves are the machine's: the median read 1.149 beside other work, 1.715 and
  // 0.978 beside two spinning shells (where the p95 tail or the pairs' count decided), so no figure is held here.
  const latency = (evidence.sizes[0]?.relative?.comparisons ?? []).filter((c) => c.measure === 'latency');
  const notPassed = latency.filter((c) => c.verdict !== 'pass');
  expect(notPassed.length).toBeGreaterThan(0);
  for (const c of notPassed) expect(c.high).toBeGreaterThan(c.limit);

  // Seen by people: status, the Markdown report's table, the html report's ECDF of both versions.
  const status = {
    workflowId: 'compare-slow',
    release: 'portfolio-kpi-v2',
    phase: 'stress',
    state: 'failed',
    startedAt: new Date().toISOString(),
    phases: [{ phase: 'stress', outcome: 'failed', attempts: 1, result: evidence }],
    gate: { status: 'closed', roles: [] },
    reconciliation: { day: 0, days: 0, cleanDays: 0 },
    audit: [],
    auditDropped: 0,
  } as unknown as CutoverStatus;
  // The line of a statistic that did not pass, as people read it, with its verdict as the judge gave it (fail, or
  // inconclusive on a busy machine).
  const shown = notPassed[0];
  expect(renderStatus(status)).toMatch(
    new RegExp(
      String.raw`3000 rows, \d+ pairs: latency ${shown?.statistic} V1 \d+\.\d ms → V2 \d+\.\d ms, V2/V1 \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] at \d+\.\d{2} %/\d+\.\d{2} %, limit 1\.100 · ${shown?.verdict}`,
    ),
  );
  expect(['fail', 'inconclusive']).toContain(shown?.verdict);
  expect(markdownReport(status)).toMatch(
    /\| 3000 rows \| \d+ \| latency \| (median|p95) \| [\d.]+ ms \| [\d.]+ ms \| \d\.\d{3} \| \[/,
  );
  const html = htmlReport(status);
  expect(html).toContain('<canvas id="ecdf-0">');
  expect(html).toContain('"ecdf":[{"label":"3000 rows","v1":[');
}, 120_000);

test('an attempt after a crash resumes from the pairs already measured', async () => {
  // Three pairs "measured" by an earlier attempt, with times no real run has: they must be in the evidence.
  const earlier: StressRun = { ok: true, durationMs: 1.25, peakBytes: 50 * 2 ** 20 };
  const details: StressProgress = {
    completedSizes: [],
    current: { rows: ROWS, v1: [earlier, earlier, earlier], v2: [earlier, earlier, earlier] },
  };
  const activities = createActivities({ dataDir: tempDir('compare-resume-') });
  const env = new MockActivityEnvironment({ heartbeatDetails: details, attempt: 2 });
  const beats: StressProgress[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(JSON.parse(JSON.stringify(d)) as StressProgress));
  // One look, at six pairs; whatever the mixed samples say, this test is about what was measured.
  const resumable = plan({}, { minRuns: 6, maxRuns: 6, onInconclusive: 'pass' });
  const result = (await env.run(activities.runStress, {
    ...identity('compare-resume'),
    plan: resumable,
  })) as StressResult;
  const relative = result.sizes[0]?.relative;
  expect(relative?.samples.v1.latency.slice(0, 3)).toEqual([1.25, 1.25, 1.25]);
  // Three more pairs to the first look at six: no warm-up again, no pair measured twice.
  expect(relative?.pairs).toBe(6);
  expect(beats.some((b) => b.current?.v2.length === 4)).toBe(true);
  expect(beats.some((b) => (b.current?.v2.length ?? 99) < 3)).toBe(false);
}, 120_000);

describe('the plan schema', () => {
  const parse = (compare: unknown) => {
    const input = makePlanInput();
    const parsed = planSchema.safeParse({ ...input, stress: { ...input.stress, compare } });
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  test('takes percentages and fractions, with the defaults', () => {
    expect(parse({ maxSlowdown: '10%', maxMemoryGrowth: 0.25 })).toEqual([]);
    const input = makePlanInput();
    const p = planSchema.parse({ ...input, stress: { ...input.stress, compare: { maxSlowdown: '7.5%' } } });
    expect(p.stress.compare).toEqual({
      measures: ['latency', 'memory'],
      maxSlowdown: 0.075,
      maxMemoryGrowth: 0.2,
      confidence: 0.95,
      minRuns: 10,
      maxRuns: 40,
      onInconclusive: 'fail',
    });
  });

  test.each([
    ['an unknown measure', { measures: ['cpu'] }, /stress\.compare\.measures\.0: expected latency or memory/],
    ['a confidence of 0.5', { confidence: 0.5 }, /stress\.compare\.confidence: expected a confidence above 0\.5/],
    ['a confidence of 1', { confidence: 1 }, /stress\.compare\.confidence: expected a confidence below 1/],
    ['minRuns above maxRuns', { minRuns: 20, maxRuns: 10 }, /stress\.compare\.minRuns: minRuns is more than maxRuns/],
    ['fewer than 5 runs', { minRuns: 3 }, /stress\.compare\.minRuns: expected at least 5 runs/],
    [
      'a percentage that is not one',
      { maxSlowdown: 'ten percent' },
      /stress\.compare\.maxSlowdown: expected a percentage/,
    ],
  ])('refuses %s by path', (_name, compare, message) => {
    expect(parse(compare).join('\n')).toMatch(message);
  });
});

test('a V2 that does its work in a child process is measured with it: a 300 MB child fails peakRssMb 200, and the comparison sees the memory', async () => {
  // The candidate is a shell (a few MB) that first runs a child holding 300 MB for a moment, then the real V2:
  // the way a wrapper, a shell script or a JVM launcher hides what it costs when only its own RSS is read.
  const hog = `"${process.execPath}" -e "const b = Buffer.alloc(300 * 2 ** 20, 1); const t = Date.now(); while (Date.now() - t < 150) {} process.exit(b[9] - 1)"`;
  const v2 = example.candidate as { run: string[] };
  const quoted = v2.run
    .slice(1)
    .map((arg) => `"${arg}"`)
    .join(' ');
  const candidate = { ...v2, run: ['sh', '-c', `${hog} && exec "${process.execPath}" ${quoted}`] };
  const p = planSchema.parse({
    ...plan({}, { maxRuns: 12 }),
    candidate,
    stress: { ...plan().stress, thresholds: { peakRssMb: 200 } },
  });
  const failure = await stressFailure(p, 'compare-fork');
  expect(failure.message).toMatch(/3000 rows: peak RSS \d{3} MB > 200 MB/);
  const evidence = failure.details?.[0] as StressResult;
  // The evidence says how: the kernel's account of the tree, and the process group's sampled sum.
  expect(evidence.memoryMethod).toMatch(/^the larger of the kernel's account of the process tree .* process group/);
  // And each size's median CPU time of V2's whole tree (the shell, the 300 MB child, node), from the same account.
  expect(evidence.sizes[0]?.cpuMs).toBeGreaterThan(0);
  const memory = evidence.sizes[0]?.relative?.comparisons.find(
    (c) => c.measure === 'memory' && c.statistic === 'median',
  );
  // V2's median memory is the child's 300 MB against V1's own tens of MB: far past the 20 % allowed.
  expect(memory?.ratio).toBeGreaterThan(2);
  expect(memory?.verdict).toBe('fail');
}, 120_000);
