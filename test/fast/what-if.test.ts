/**
 * `cutover what-if` on the recorded histories of the replay fixtures: the evidence read back from history and
 * judged by the shared verdict functions agrees with every verdict the runs recorded (so a what-if under the
 * same plan changes nothing), and a changed plan changes exactly the verdicts it should, saying where the
 * evidence cannot tell.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { whatIf } from '../../lib/what-if';
import { judgeMetric } from '../../verdicts/metrics';
import { decoder, lastRecorded, recordedFromHistory, recordedRuns, type Recorded } from '../../verdicts/recorded';
import { planSchema, type CutoverPlan, type CutoverPlanInput } from '../../plan/schema';

const DIR = path.resolve(__dirname, '..', 'workflows', 'replay', 'histories');

async function load(file: string): Promise<Recorded> {
  const recorded = JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as { workflowId: string; history: unknown };
  return recordedFromHistory(recorded.workflowId, historyFromJSON(recorded.history), decoder());
}

/** The recorded plan with `change` applied, as a plan file would give it. */
function replan(recorded: Recorded, change: (input: CutoverPlanInput) => CutoverPlanInput): CutoverPlan {
  return planSchema.parse(change(structuredClone(recorded.plan) as CutoverPlanInput));
}

const fixtures = readdirSync(DIR).filter((f) => f.endsWith('.json'));

describe.each(fixtures)('%s', (file) => {
  test('the recorded verdicts are what the shared functions say, so the same plan changes nothing', async () => {
    const recorded = await load(file);
    expect(recorded.plan?.release).toBeTruthy();
    for (const dataset of lastRecorded(recorded, 'shadow')?.datasets ?? []) {
      for (const m of dataset.metrics) {
        const plan = recorded.plan as CutoverPlan;
        expect(judgeMetric(m, plan.shadow.tolerances, plan.shadow.ranges).verdict).toBe(m.verdict);
      }
    }
    const result = whatIf(recorded, recorded.plan as CutoverPlan);
    expect(result.changes).toEqual([]);
  });
});

test('the evidence of a full run: shadow, stress, the rehearsal and reconciliation are all read back', async () => {
  const recorded = await load('happy-path.1.0.json');
  expect(lastRecorded(recorded, 'shadow')?.datasets.length).toBeGreaterThan(0);
  expect(lastRecorded(recorded, 'stress')?.sizes.length).toBeGreaterThan(0);
  expect(lastRecorded(recorded, 'rollback-rehearsal')?.durationMs).toBeGreaterThanOrEqual(0);
  expect(recordedRuns(recorded, 'reconciliation').length).toBeGreaterThan(0);
  expect(recorded.monitors.length).toBe(1);
});

test('a looser tolerance turns the failed shadow phase into a pass, naming the metric, its figure and the limit', async () => {
  const recorded = await load('failure-shadow.1.0.json');
  const looser = replan(recorded, (p) => ({ ...p, shadow: { ...p.shadow, tolerances: { PAR30: { relative: 2 } } } }));
  const result = whatIf(recorded, looser);
  expect(result.changes).toEqual([
    {
      check: 'shadow 10 rows (seed 1): PAR30',
      before: 'fail',
      after: 'pass',
      figure: 'relative 1.000',
      limit: 'relative 2',
    },
  ]);
});

test('a tighter rehearsal target and stress threshold fail a run that passed; a comparison it never measured is said', async () => {
  const recorded = await load('happy-path.1.0.json');
  const tighter = replan(recorded, (p) => ({
    ...p,
    rollback: { ...p.rollback, target: '1ms' },
    stress: { ...p.stress, thresholds: { latencyP99: '1ms' }, compare: { minRuns: 5, maxRuns: 10 } },
  }));
  const result = whatIf(recorded, tighter);
  expect(result.changes).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ check: 'rollback rehearsal time', before: 'pass', after: 'fail', limit: '1 ms' }),
      expect.objectContaining({ check: 'stress threshold', before: 'pass', after: 'fail' }),
    ]),
  );
  expect(result.notes.join('\n')).toMatch(/V1 was not measured \(the cutover ran without stress\.compare\)/);
});

test('tighter reconciliation tolerances are judged on each recorded day', async () => {
  const recorded = await load('happy-path.1.0.json');
  // The recorded days compare equal figures: only a range that excludes them can turn a day.
  const ranged = replan(recorded, (p) => ({ ...p, shadow: { ...p.shadow, ranges: { TotalReceivable: { max: 1 } } } }));
  const result = whatIf(recorded, ranged);
  const days = result.changes.filter((c) => c.check.startsWith('reconciliation day'));
  expect(days.length).toBe(recordedRuns(recorded, 'reconciliation').length);
  expect(days.every((d) => d.before === 'clean' && d.after === 'not clean')).toBe(true);
});

describe('the production deploy’s time under a new change calendar', () => {
  // Approved on a Sunday at 00:30 UTC, deployed when Monday's 09:00 London window opened (08:00 UTC, in summer time).
  const FIXTURE = 'change-window.1.0.json';

  test('the history says when the deploy was ready and when it ran; the same plan changes nothing', async () => {
    const recorded = await load(FIXTURE);
    expect(recorded.deploy?.readyAt).toMatch(/^2027-03-28T00:3/);
    expect(recorded.deploy?.deployedAt).toMatch(/^2027-03-29T08:0/);
    expect(whatIf(recorded, recorded.plan as CutoverPlan).changes).toEqual([]);
  });

  test('without the window it would have gone at once; a policy freeze on Monday moves it to Tuesday', async () => {
    const recorded = await load(FIXTURE);
    const open = replan(recorded, (input) => ({
      ...input,
      production: { ...input.production, window: undefined },
    }));
    expect(whatIf(recorded, open, { zone: 'Europe/London', freezes: [], holidays: [] }).changes).toEqual([
      {
        check: 'production deploy time',
        before: `at ${recorded.deploy?.deployedAt}`,
        after: `at ${recorded.deploy?.readyAt}`,
        figure: `ready ${recorded.deploy?.readyAt}`,
        limit: 'any time Europe/London',
      },
    ]);
    const easter = { zone: 'Europe/London', freezes: [{ name: 'Easter Monday', dates: ['2027-03-29'] }], holidays: [] };
    expect(whatIf(recorded, recorded.plan as CutoverPlan, easter).changes).toEqual([
      expect.objectContaining({
        before: `at ${recorded.deploy?.deployedAt}`,
        after: 'at 2027-03-30T08:00:00.000Z (Tue 30 Mar 2027, 09:00, Europe/London)',
        limit: 'outside the change windows (mon,tue,wed,thu,fri 09:00–15:00 Europe/London)',
      }),
    ]);
  });

  test("a calendar's notice counts from the gate's approval", async () => {
    const recorded = await load(FIXTURE);
    const open = replan(recorded, (input) => ({ ...input, production: { ...input.production, window: undefined } }));
    const ready = Date.parse(recorded.deploy?.readyAt as string);
    const notice = { zone: 'Europe/London', freezes: [], holidays: [], notice: '2h' };
    expect(whatIf(recorded, open, notice).changes).toEqual([
      expect.objectContaining({ after: expect.stringContaining(`at ${new Date(ready + 7_200_000).toISOString()}`) }),
    ]);
  });

  test('a cutover that never reached production says so', async () => {
    const recorded = await load('failure-shadow.1.0.json');
    const result = whatIf(recorded, recorded.plan as CutoverPlan, { zone: 'UTC', freezes: [], holidays: [] });
    expect(result.notes).toContain('change window: the cutover never reached the production deploy');
  });
});
