/**
 * `cutover what-if`: the recorded evidence of cutovers, judged again under another plan. It reads histories
 * (the cutover's and its monitor's), never signals, starts or changes anything, and judges with the very
 * functions the activities judge with (verdicts/), so it cannot disagree with a real run on the same figures.
 * Where the evidence lacks what a new check needs (rows a diff did not keep, pairs a comparison did not
 * measure), it says so instead of guessing.
 */
import type { Metrics, MetricComparison, StressResult } from '../shapes/evidence';
import { toMs } from '../plan/duration';
import { decideWindow, describeWindows, effectiveCalendar, type Calendar } from '../plan/calendar';
import type { CutoverPlan } from '../plan/schema';
import type { Recorded } from '../verdicts/recorded';
import { compareMetrics } from '../verdicts/metrics';
import { outputLimitFailures } from '../verdicts/outputs';
import { compareGroup, familySize, looks } from '../verdicts/relative';
import type { CompareSettings } from '../shapes/relative';
import { compareSettings, rehearsalTimeFailure, stressGroups, thresholdFailures } from '../verdicts/thresholds';
import { evaluateTriggers } from '../verdicts/triggers';

/** One verdict that would change: before → after, with the figure and the limit. */
export interface VerdictChange {
  check: string;
  before: string;
  after: string;
  figure: string;
  limit: string;
}

export interface WhatIfResult {
  workflowId: string;
  changes: VerdictChange[];
  /** Checks judged again whose verdict holds. */
  unchanged: number;
  /** What the evidence could not say under the new plan. */
  notes: string[];
}

const verdictOf = (failed: boolean) => (failed ? 'fail' : 'pass');
/** A KPI's verdict as people read it: a failing dry-run tolerance only would have failed. */
const label = (m: MetricComparison) => (m.verdict === 'fail' && m.dryRun ? 'fail (dry run)' : m.verdict);

/**
 * The recorded evidence, judged under `plan` and under the plan it ran with; every verdict that differs. With
 * `calendar` (a policy's calendar for the release, `--policy`), and the plan's `production.window`, also when the
 * production deploy would have gone ahead.
 */
export function whatIf(recorded: Recorded, plan: CutoverPlan, calendar?: Calendar): WhatIfResult {
  const before = recorded.plan;
  const out: WhatIfResult = { workflowId: recorded.workflowId, changes: [], unchanged: 0, notes: [] };
  const judge = (check: string, was: string, now: string, figure: string, limit: string) => {
    if (was === now) out.unchanged++;
    else out.changes.push({ check, before: was, after: now, figure, limit });
  };
  if (!before) out.notes.push('no plan in the history: nothing to judge against');

  // Shadow: each KPI against the new tolerances and ranges, with the noise V1 showed then.
  for (const dataset of recorded.shadow?.datasets ?? []) {
    for (const m of dataset.metrics) {
      const now = judgeMetric(m, plan.shadow.tolerances, plan.shadow.ranges);
      const was = before ? judgeMetric(m, before.shadow.tolerances, before.shadow.ranges) : m;
      judge(
        `shadow ${dataset.dataset}: ${m.metric}`,
        label(was),
        label(now),
        m.relative !== undefined ? `relative ${m.relative.toPrecision(4)}` : `difference ${m.difference ?? 'n/a'}`,
        describeTolerance(now.tolerance),
      );
    }
    // Output diffs: the limits from the recorded counts; other changes need rows the diff did not keep.
    for (const diff of dataset.outputs ?? []) {
      const spec = plan.shadow.outputs[diff.output];
      if (!spec) {
        out.notes.push(`shadow ${dataset.dataset}: output ${diff.output}: the new plan declares no such output`);
        continue;
      }
      const oldSpec = before?.shadow.outputs[diff.output];
      if (
        oldSpec &&
        (JSON.stringify(oldSpec.tolerances) !== JSON.stringify(spec.tolerances) ||
          JSON.stringify(oldSpec.ignore) !== JSON.stringify(spec.ignore) ||
          JSON.stringify(oldSpec.key) !== JSON.stringify(spec.key))
      ) {
        out.notes.push(
          `shadow ${dataset.dataset}: output ${diff.output}: its key, tolerances or ignored columns changed, which needs the rows themselves (the diff kept counts and ${diff.samples.length} sample rows): judged on its limits only`,
        );
      }
      const limitsThen = outputLimitFailures(diff, diff.limits);
      const others = diff.failures.filter((f) => !limitsThen.some((l) => f.startsWith(l.split(';')[0] as string)));
      const now = [...others, ...outputLimitFailures(diff, spec)];
      judge(
        `shadow ${dataset.dataset}: output ${diff.output}`,
        diff.verdict,
        verdictOf(now.length > 0),
        `${diff.rows.differing} differing, ${diff.rows.onlyV1} / ${diff.rows.onlyV2} missing`,
        `${spec.maxDifferingRows} differing, ${spec.maxMissingRows} missing`,
      );
    }
  }

  // Stress: the thresholds on V2's figures, and the comparison again from the recorded pairs.
  const stress = recorded.stress;
  if (stress) {
    const was = new Set(before ? thresholdFailures(before.stress.thresholds, stress.sizes, stress.sustained) : []);
    const now = new Set(thresholdFailures(plan.stress.thresholds, stress.sizes, stress.sustained));
    for (const f of now) if (!was.has(f)) judge(`stress threshold`, 'pass', 'fail', f, thresholdText(plan));
    for (const f of was) if (!now.has(f)) judge(`stress threshold`, 'fail', 'pass', f, thresholdText(plan));
    out.unchanged += [...now].filter((f) => was.has(f)).length;
    judgeComparison(recorded, plan, out, judge);
  }

  // The rehearsal's time against the new target.
  if (recorded.rehearsal) {
    const targetMs = toMs(plan.rollback.target);
    const was = rehearsalTimeFailure(recorded.rehearsal.durationMs, recorded.rehearsal.targetMs);
    const now = rehearsalTimeFailure(recorded.rehearsal.durationMs, targetMs);
    judge(
      'rollback rehearsal time',
      verdictOf(!!was),
      verdictOf(!!now),
      `${recorded.rehearsal.durationMs} ms`,
      `${targetMs} ms`,
    );
  }

  // Monitoring: the recorded probe samples through the new triggers, in order.
  if (recorded.probes.length > 0) {
    const firstBreach = (triggers: CutoverPlan['production']['monitor']['triggers']) => {
      let inARow = 0;
      for (const [i, { result, reference }] of recorded.probes.entries()) {
        inARow = result.ok ? 0 : inARow + 1;
        const sample = {
          ok: result.ok,
          ...(result.errorRate !== undefined ? { errorRate: result.errorRate } : {}),
          ...(result.metrics ? { metrics: result.metrics } : {}),
        };
        const { breach } = evaluateTriggers(triggers, sample, reference, inARow);
        if (breach) return `rollback at probe #${i + 1} (${breach.trigger}: ${breach.detail})`;
      }
      return 'no rollback';
    };
    const was = before ? firstBreach(before.production.monitor.triggers) : 'unknown';
    const now = firstBreach(plan.production.monitor.triggers);
    judge(
      'monitoring',
      was,
      now,
      `${recorded.probes.length} probe samples`,
      JSON.stringify(plan.production.monitor.triggers),
    );
  } else if (recorded.monitors.length > 0) {
    out.notes.push('monitoring: no probe samples found in the monitor histories');
  }

  judgeDeployTime(recorded, plan, calendar, out, judge);

  // Reconciliation: each day's KPIs against the new tolerances.
  for (const day of recorded.reconciliation) {
    const now = day.comparisons.map((m) => judgeMetric(m, plan.shadow.tolerances, plan.shadow.ranges));
    const clean = now.every((m) => m.verdict === 'pass');
    judge(
      `reconciliation day ${day.day}`,
      day.clean ? 'clean' : 'not clean',
      clean ? 'clean' : 'not clean',
      `${day.comparisons.length} KPIs`,
      'shadow tolerances',
    );
  }
  return out;
}

/**
 * When the deploy would have gone ahead under the new calendar, from the moment the gate let it (the first
 * change-window answer's time, or the deploy's): at once, or at the window's opening. The calendar's answer at that
 * moment, as the workers would give it; a freeze lifted or added since counts as the new calendar says.
 */
function judgeDeployTime(
  recorded: Recorded,
  plan: CutoverPlan,
  calendar: Calendar | undefined,
  out: WhatIfResult,
  judge: (check: string, was: string, now: string, figure: string, limit: string) => void,
): void {
  const effective = effectiveCalendar(calendar, plan.production.window);
  if (!effective) return;
  const deploy = recorded.deploy;
  if (!deploy) {
    out.notes.push('change window: the cutover never reached the production deploy');
    return;
  }
  const ready = Date.parse(deploy.readyAt);
  // The gate let it at `ready`: the calendar's notice counts from then.
  const decision = decideWindow(effective, ready, ready);
  const would = decision.open ? ready : decision.opensAt ? Date.parse(decision.opensAt) : undefined;
  const now =
    would === undefined
      ? 'not within a year'
      : `at ${new Date(would).toISOString()}${decision.open ? '' : ` (${decision.local}, ${decision.zone})`}`;
  const deployed = deploy.deployedAt ? Date.parse(deploy.deployedAt) : undefined;
  // Within a minute of each other is the same time: a workflow task, an activity's start.
  const same = deployed !== undefined && would !== undefined && Math.abs(deployed - would) < 60_000;
  const was = deployed === undefined ? 'not yet' : same ? now : `at ${deploy.deployedAt}`;
  judge(
    'production deploy time',
    was,
    now,
    `ready ${deploy.readyAt}`,
    decision.open ? describeWindows(effective) : decision.reason,
  );
}

function judgeComparison(
  recorded: Recorded,
  plan: CutoverPlan,
  out: WhatIfResult,
  judge: (check: string, was: string, now: string, figure: string, limit: string) => void,
): void {
  const stress = recorded.stress as StressResult;
  const compare = plan.stress.compare;
  const groups = stressGroups(stress.sizes, stress.sustained);
  if (!compare) {
    if (stress.compare)
      out.notes.push('stress: the new plan compares V2 with V1 no more; its verdict no longer counts');
    return;
  }
  const settings = compareSettings(plan) as CompareSettings;
  const family = familySize(settings, groups.length);
  for (const { label, relative } of groups) {
    if (!relative) {
      out.notes.push(
        `stress ${label}: V1 was not measured (the cutover ran without stress.compare): no samples to compare`,
      );
      continue;
    }
    const at = looks(settings).filter((n) => n <= relative.pairs);
    if (at.length === 0) {
      out.notes.push(
        `stress ${label}: the new comparison needs at least ${settings.minRuns} pairs; ${relative.pairs} were measured`,
      );
      continue;
    }
    let judged = compareGroup(cut(relative.samples, at[0] as number), settings, family);
    for (const n of at.slice(1)) {
      if (judged.verdict !== 'inconclusive') break;
      judged = compareGroup(cut(relative.samples, n), settings, family);
    }
    if (judged.verdict === 'inconclusive' && relative.pairs < settings.maxRuns && at.at(-1) === relative.pairs)
      out.notes.push(
        `stress ${label}: inconclusive on the ${relative.pairs} pairs measured; a run would have measured up to ${settings.maxRuns}`,
      );
    const time = judged.comparisons.find((c) => c.measure === 'latency' && c.statistic === 'median');
    judge(
      `stress ${label}: V2 against V1`,
      relative.verdict,
      judged.verdict,
      time ? `time ×${time.ratio.toFixed(3)} [${time.low.toFixed(3)}, ${time.high.toFixed(3)}]` : '',
      `${(settings.maxSlowdown * 100).toFixed(0)} % slower, ${(settings.maxMemoryGrowth * 100).toFixed(0)} % more memory`,
    );
  }
}

function cut(
  samples: { v1: { latency: number[]; memory: number[] }; v2: { latency: number[]; memory: number[] } },
  n: number,
) {
  const side = (s: { latency: number[]; memory: number[] }) => ({
    latency: s.latency.slice(0, n),
    memory: s.memory.slice(0, n),
  });
  return { v1: side(samples.v1), v2: side(samples.v2) };
}

/** A recorded KPI comparison judged again: the same values and V1's noise then, the given tolerances now. */
export function judgeMetric(
  m: MetricComparison,
  tolerances: CutoverPlan['shadow']['tolerances'],
  ranges: CutoverPlan['shadow']['ranges'],
): MetricComparison {
  const v1: Metrics = m.v1 !== undefined ? { [m.metric]: m.v1 } : {};
  const v2: Metrics = m.v2 !== undefined ? { [m.metric]: m.v2 } : {};
  return compareMetrics(v1, v2, { tolerances, ranges, noise: { [m.metric]: m.noise } })[0] as MetricComparison;
}

function describeTolerance(t: MetricComparison['tolerance']): string {
  if (!t) return 'exact';
  return [
    t.relative !== undefined ? `relative ${t.relative}` : '',
    t.absolute !== undefined ? `absolute ${t.absolute}` : '',
  ]
    .filter(Boolean)
    .join(', ');
}

function thresholdText(plan: CutoverPlan): string {
  return Object.entries(plan.stress.thresholds)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
}
