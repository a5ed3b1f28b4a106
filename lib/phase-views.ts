/**
 * How each phase's evidence reads, one row per phase: its key figures beside its verdict in `cutover status` and
 * the reports, and its `cutover what-if` judgement (its recorded evidence judged again under another plan, with the
 * very functions the activities judge with, verdicts/). A mapped type over the phases, so a new phase without its
 * row does not compile (docs/architecture.md, "Adding a phase").
 */
import { decideWindow, describeWindows, effectiveCalendar, type Calendar } from '../plan/calendar';
import { formatMs, toMs } from '../plan/duration';
import type { CutoverPlan } from '../plan/schema';
import type { MetricComparison } from '../shapes/evidence';
import type { StressResult } from '../shapes/phases';
import type { Phase, PhaseResults, RecordingPhase } from '../shapes/phases';
import type { PhaseRecord } from '../shapes/status';
import type { CompareSettings } from '../shapes/relative';
import { judgeMetric } from '../verdicts/metrics';
import { outputLimitFailures } from '../verdicts/outputs';
import type { Recorded, RecordedRun } from '../verdicts/recorded';
import { compareGroup, compareStatistic, familySize, looks } from '../verdicts/relative';
import { compareSettings, stressGroups, thresholdFailures, timeFailure } from '../verdicts/thresholds';
import { evaluateTriggers } from '../verdicts/triggers';

/** One check judged again: its verdict under the plan it ran with and under the new one, the figure, the limit. */
export interface Judgement {
  check: string;
  before: string;
  after: string;
  figure: string;
  limit: string;
}

/** What a phase's what-if judgement gets: its recorded runs, both plans, and where to put what it finds. */
export interface WhatIfContext<P extends Phase> {
  recorded: Recorded;
  /** The phase's recorded runs (shapes/phases.ts `records`), in order; none for a phase that records none. */
  runs: P extends RecordingPhase ? RecordedRun<P>[] : never[];
  /** The plan to judge under. */
  plan: CutoverPlan;
  /** The plan the cutover ran with (absent from a history without one). */
  before?: CutoverPlan;
  /** A policy's calendar for the release (`--policy`). */
  calendar?: Calendar;
  /** Counts a verdict that holds, and keeps one that changes. */
  judge(judgement: Judgement): void;
  /** What the evidence cannot say under the new plan. */
  note(text: string): void;
}

export interface PhaseView<P extends Phase> {
  /** Its key figures, or nothing where the verdict says it all. */
  figures?: (result: PhaseResults[P]) => string;
  /** Its recorded evidence judged again under another plan; nothing where it measures nothing a plan sets. */
  whatIf?: (ctx: WhatIfContext<P>) => void;
}

const verdictOf = (failed: boolean) => (failed ? 'fail' : 'pass');
/** A KPI's verdict as people read it: a failing dry-run tolerance only would have failed. */
const label = (m: MetricComparison) => (m.verdict === 'fail' && m.dryRun ? 'fail (dry run)' : m.verdict);

export const PHASE_VIEWS: { readonly [P in Phase]: PhaseView<P> } = {
  staging: {
    figures: (result) => {
      const checks = [...result.deployed, ...(result.tests ? [result.tests] : [])].flatMap((step) => step.checks ?? []);
      return checks.length > 0 ? `${checks.filter((c) => c.ok).length}/${checks.length} checks passed` : '';
    },
  },
  shadow: {
    figures: (result) => {
      const metrics = result.datasets.flatMap((d) => d.metrics);
      const models = result.datasets.flatMap((d) => d.models ?? []);
      return [
        `${metrics.filter((m) => m.verdict === 'pass').length}/${metrics.length} metrics within tolerance`,
        ...(models.length > 0
          ? [`${models.filter((m) => m.verdict === 'pass').length}/${models.length} dbt models`]
          : []),
      ].join(', ');
    },
    whatIf: (ctx) => {
      for (const { result } of ctx.runs.slice(-1)) for (const dataset of result.datasets) judgeDataset(dataset, ctx);
    },
  },
  stress: {
    figures: (result) => {
      if (result.compare) {
        const ratios = result.sizes
          .flatMap((z) => z.relative?.comparisons ?? [])
          .filter((c) => c.measure === 'latency' && c.statistic === 'median')
          .map((c) => c.ratio.toFixed(2));
        return `V2/V1 median time ${ratios.join(', ')} by size: ${result.compare.verdict}`;
      }
      const last = result.sizes.at(-1);
      return last
        ? `${last.rows} rows: p99 ${last.latencyMs.p99.toFixed(0)} ms, ${Math.round(last.rowsPerSecond)} rows/s`
        : '';
    },
    whatIf: (ctx) => {
      const stress = ctx.runs.at(-1)?.result;
      if (!stress) return;
      // The thresholds on V2's figures, and the comparison again from the recorded pairs.
      const { plan, before, judge } = ctx;
      const was = new Set(before ? thresholdFailures(before.stress.thresholds, stress.sizes, stress.sustained) : []);
      const now = new Set(thresholdFailures(plan.stress.thresholds, stress.sizes, stress.sustained));
      for (const f of now)
        if (!was.has(f))
          judge({ check: `stress threshold`, before: 'pass', after: 'fail', figure: f, limit: thresholdText(plan) });
      for (const f of was)
        if (!now.has(f))
          judge({ check: `stress threshold`, before: 'fail', after: 'pass', figure: f, limit: thresholdText(plan) });
      for (const f of now)
        if (was.has(f))
          judge({ check: `stress threshold`, before: 'fail', after: 'fail', figure: f, limit: thresholdText(plan) });
      judgeComparison(stress, ctx);
    },
  },
  'rollback-rehearsal': {
    figures: (result) => `${formatMs(result.durationMs)} of ${formatMs(result.targetMs)}`,
    whatIf: ({ runs, plan, judge }) => {
      const rehearsal = runs.at(-1)?.result;
      if (!rehearsal) return;
      // The rehearsal's time against the new target.
      const targetMs = toMs(plan.rollback.target);
      const was = timeFailure('rollback', rehearsal.durationMs, rehearsal.targetMs);
      const now = timeFailure('rollback', rehearsal.durationMs, targetMs);
      judge({
        check: 'rollback rehearsal time',
        before: verdictOf(!!was),
        after: verdictOf(!!now),
        figure: `${rehearsal.durationMs} ms`,
        limit: `${targetMs} ms`,
      });
    },
  },
  signoff: {},
  production: { whatIf: (ctx) => judgeDeployTime(ctx) },
  monitoring: {
    whatIf: ({ runs, recorded, plan, before, judge, note }) => {
      if (runs.length === 0) {
        if (recorded.monitors.length > 0) note('monitoring: no probe samples found in the monitor histories');
        return;
      }
      // The recorded probe samples through the new triggers, in order.
      const firstBreach = (triggers: CutoverPlan['production']['monitor']['triggers']) => {
        let inARow = 0;
        for (const [i, { result, input }] of runs.entries()) {
          inARow = result.ok ? 0 : inARow + 1;
          const sample = {
            ok: result.ok,
            ...(result.errorRate !== undefined ? { errorRate: result.errorRate } : {}),
            ...(result.metrics ? { metrics: result.metrics } : {}),
          };
          const reference = (input as { reference?: Record<string, number> } | undefined)?.reference;
          const { breach } = evaluateTriggers(triggers, sample, reference, inARow);
          if (breach) return `rollback at probe #${i + 1} (${breach.trigger}: ${breach.detail})`;
        }
        return 'no rollback';
      };
      const was = before ? firstBreach(before.production.monitor.triggers) : 'unknown';
      const now = firstBreach(plan.production.monitor.triggers);
      judge({
        check: 'monitoring',
        before: was,
        after: now,
        figure: `${runs.length} probe samples`,
        limit: JSON.stringify(plan.production.monitor.triggers),
      });
    },
  },
  reconciliation: {
    whatIf: ({ runs, plan, judge }) => {
      // Each day's KPIs against the new tolerances.
      for (const { result: day } of runs) {
        const now = day.comparisons.map((m) => judgeMetric(m, plan.shadow.tolerances, plan.shadow.ranges));
        const clean = now.every((m) => m.verdict === 'pass');
        judge({
          check: `reconciliation day ${day.day}`,
          before: day.clean ? 'clean' : 'not clean',
          after: clean ? 'clean' : 'not clean',
          figure: `${day.comparisons.length} KPIs`,
          limit: 'shadow tolerances',
        });
      }
    },
  },
  decommission: {},
};

/** Key figures of a phase's evidence, in a few words (empty before it has any, or where its view has none). */
export function keyFigures(record: PhaseRecord): string {
  const figures = PHASE_VIEWS[record.phase].figures as ((result: unknown) => string) | undefined;
  return record.result && figures ? figures(record.result) : '';
}

/** A shadow dataset's KPIs against the new tolerances and ranges (with the noise V1 showed then), and its outputs. */
function judgeDataset(
  dataset: RecordedRun<'shadow'>['result']['datasets'][number],
  { plan, before, judge, note }: WhatIfContext<'shadow'>,
): void {
  for (const m of dataset.metrics) {
    const now = judgeMetric(m, plan.shadow.tolerances, plan.shadow.ranges);
    const was = before ? judgeMetric(m, before.shadow.tolerances, before.shadow.ranges) : m;
    judge({
      check: `shadow ${dataset.dataset}: ${m.metric}`,
      before: label(was),
      after: label(now),
      figure:
        m.relative !== undefined ? `relative ${m.relative.toPrecision(4)}` : `difference ${m.difference ?? 'n/a'}`,
      limit: describeTolerance(now.tolerance),
    });
  }
  // Output diffs: the limits from the recorded counts; other changes need rows the diff did not keep.
  for (const diff of dataset.outputs ?? []) {
    const spec = plan.shadow.outputs[diff.output];
    if (!spec) {
      note(`shadow ${dataset.dataset}: output ${diff.output}: the new plan declares no such output`);
      continue;
    }
    const oldSpec = before?.shadow.outputs[diff.output];
    if (
      oldSpec &&
      (JSON.stringify(oldSpec.tolerances) !== JSON.stringify(spec.tolerances) ||
        JSON.stringify(oldSpec.ignore) !== JSON.stringify(spec.ignore) ||
        JSON.stringify(oldSpec.key) !== JSON.stringify(spec.key))
    ) {
      note(
        `shadow ${dataset.dataset}: output ${diff.output}: its key, tolerances or ignored columns changed, which needs the rows themselves (the diff kept counts and ${diff.samples.length} sample rows): judged on its limits only`,
      );
    }
    const limitsThen = outputLimitFailures(diff, diff.limits);
    const others = diff.failures.filter((f) => !limitsThen.some((l) => f.startsWith(l.split(';')[0] as string)));
    const now = [...others, ...outputLimitFailures(diff, spec)];
    judge({
      check: `shadow ${dataset.dataset}: output ${diff.output}`,
      before: diff.verdict,
      after: verdictOf(now.length > 0),
      figure: `${diff.rows.differing} differing, ${diff.rows.onlyV1} / ${diff.rows.onlyV2} missing`,
      limit: `${spec.maxDifferingRows} differing, ${spec.maxMissingRows} missing`,
    });
  }
}

/**
 * When the deploy would have gone ahead under the new calendar, from the moment the gate let it (the first
 * change-window answer's time, or the deploy's): at once, or at the window's opening. The calendar's answer at that
 * moment, as the workers would give it; a freeze lifted or added since counts as the new calendar says.
 */
function judgeDeployTime({ recorded, plan, calendar, judge, note }: WhatIfContext<'production'>): void {
  const effective = effectiveCalendar(calendar, plan.production.window);
  if (!effective) return;
  const deploy = recorded.deploy;
  if (!deploy) {
    note('change window: the cutover never reached the production deploy');
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
  judge({
    check: 'production deploy time',
    before: was,
    after: now,
    figure: `ready ${deploy.readyAt}`,
    limit: decision.open ? describeWindows(effective) : decision.reason,
  });
}

function judgeComparison(stress: StressResult, { plan, judge, note }: WhatIfContext<'stress'>): void {
  const compare = plan.stress.compare;
  const groups = stressGroups(stress.sizes, stress.sustained);
  if (!compare) {
    if (stress.compare) note('stress: the new plan compares V2 with V1 no more; its verdict no longer counts');
    return;
  }
  const settings = compareSettings(plan) as CompareSettings;
  const family = familySize(settings, groups.length);
  for (const { label, relative } of groups) {
    if (!relative) {
      note(`stress ${label}: V1 was not measured (the cutover ran without stress.compare): no samples to compare`);
      continue;
    }
    const at = looks(settings).filter((n) => n <= relative.pairs);
    if (at.length === 0) {
      note(
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
      note(
        `stress ${label}: inconclusive on the ${relative.pairs} pairs measured; a run would have measured up to ${settings.maxRuns}`,
      );
    const time = judged.comparisons.find((c) => c.measure === 'latency' && c.statistic === 'median');
    judge({
      check: `stress ${label}: V2 against V1`,
      before: relative.verdict,
      after: judged.verdict,
      figure: time ? `time ×${time.ratio.toFixed(3)} [${time.low.toFixed(3)}, ${time.high.toFixed(3)}]` : '',
      limit: `${(settings.maxSlowdown * 100).toFixed(0)} % slower, ${(settings.maxMemoryGrowth * 100).toFixed(0)} % more memory`,
    });
  }
  judgeModels(stress, settings, judge);
}

/**
 * A dbt pipeline's models, each judged again from its recorded build times under the new comparison (their family
 * the size's models, as the stress phase judges them); a result recorded without its samples is left as it was.
 */
function judgeModels(stress: StressResult, settings: CompareSettings, judge: WhatIfContext<'stress'>['judge']): void {
  for (const size of stress.sizes) {
    const models = size.models ?? [];
    for (const m of models) {
      if (!m.samples) continue;
      const again = compareStatistic({ measure: 'latency', statistic: 'median' }, m.samples, settings, models.length);
      judge({
        check: `stress ${size.rows} rows, model ${m.model}: V2 against V1`,
        before: m.comparison.verdict,
        after: again.verdict,
        figure: `time ×${again.ratio.toFixed(3)} [${again.low.toFixed(3)}, ${again.high.toFixed(3)}]`,
        limit: `${(settings.maxSlowdown * 100).toFixed(0)} % slower`,
      });
    }
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
