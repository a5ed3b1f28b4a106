/**
 * How a cutover reads in a terminal and in a report.
 */
import Table from 'cli-table3';
import { formatMs } from '../plan/duration';
import type { ModelReport, ModelTiming, OutputDiff, RelativeResult } from '../shapes/evidence';
import type { StressResult } from '../shapes/phases';
import { cell, dryRunLines, modelLine, modelParts, outputLine, roleLabel, sampleKey } from '../workflows/output-lines';
import { stressGroups } from '../verdicts/thresholds';
import { levels } from '../verdicts/relative';
import type { WhatIfResult } from './what-if';
import {
  describeBreakGlass,
  describeWaitingForWindow,
  describeWaitingForWorker,
  phaseResult,
  type CutoverStatus,
} from '../shapes/status';
import { keyFigures } from './phase-views';
import type { PhaseResults } from '../shapes/phases';

/** No colour codes when the output is not a terminal (pipes, files, tests). */
const PLAIN = process.stdout.isTTY ? {} : { head: [], border: [] };

/** Each phase's outcome, time, attempts and its verdict with its key figures, as a table. */
function phasesTable(s: CutoverStatus): string {
  const phases = new Table({
    head: ['phase', 'outcome', 'duration', 'attempts', 'verdict / key figures'],
    colWidths: [20, 10, 10, 10, 70],
    wordWrap: true,
    style: PLAIN,
  });
  for (const p of s.phases) {
    const figures = keyFigures(p);
    const verdict =
      figures && !(p.verdict ?? '').includes(figures.split(':')[0] as string)
        ? [p.verdict, figures].filter(Boolean).join(' · ')
        : (p.verdict ?? '');
    phases.push([
      p.phase,
      p.outcome,
      p.durationMs !== undefined ? formatMs(p.durationMs) : '',
      p.attempts ? String(p.attempts) : '',
      verdict,
    ]);
  }
  return phases.toString();
}

/** The gate: its state and times, the evidence digest, each role's sign-offs, and who rejected. */
function gateLines(s: CutoverStatus): string[] {
  const out: string[] = [];
  const g = s.gate;
  out.push(
    `gate: ${g.status}${g.deadline ? `  deadline ${g.deadline}` : ''}${g.escalatedAt ? `  escalated ${g.escalatedAt}` : ''}${g.expiresAt ? `  expires ${g.expiresAt}` : ''}`,
  );
  if (s.evidenceDigest) out.push(`evidence digest: ${s.evidenceDigest}`);
  const gate = new Table({ head: ['role', 'signed by', 'missing', 'approvers'], style: PLAIN });
  for (const r of g.roles)
    gate.push([roleLabel(r), r.approvedBy.join(', ') || '-', String(r.missing), r.approvers.join(', ')]);
  out.push(gate.toString());
  if (g.rejectedBy)
    out.push(
      `rejected by ${g.rejectedBy.approver} (${g.rejectedBy.role})${g.rejectedBy.comment ? `: ${g.rejectedBy.comment}` : ''}`,
    );
  return out;
}

export function renderStatus(s: CutoverStatus, auditLines = 8): string {
  const out: string[] = [];
  out.push(`${s.workflowId}  release ${s.release}  phase ${s.phase}  state ${s.state.toUpperCase()}`);
  if (s.error) out.push(`error: ${s.error.type ? `${s.error.type}: ` : ''}${s.error.message}`);
  if (s.waitingForPolicy) {
    const w = s.waitingForPolicy;
    out.push(
      `waiting since ${w.since}: ${w.what} refused ${w.refusals}× by workers with another policy (${w.message})`,
    );
  }
  if (s.waitingForWorker) out.push(`waiting: ${describeWaitingForWorker(s.waitingForWorker)}`);
  if (s.waitingForWindow)
    out.push(`waiting since ${s.waitingForWindow.since}: ${describeWaitingForWindow(s.waitingForWindow)}`);
  for (const b of s.breakGlass ?? []) out.push(`BREAK-GLASS: ${describeBreakGlass(b)}`);
  out.push(
    s.policyDigest
      ? `policy: ${s.policyDigest.slice(0, 12)}… (the workers' policy this plan was checked against)`
      : 'policy: none (the workers hold no organisation policy; the plan is its own judge)',
  );
  if (s.approvalLink && s.gate.status === 'open') out.push(`sign off: ${s.approvalLink}`);
  out.push(phasesTable(s));
  const stressed = phaseResult(s.phases, 'stress');
  const relatives = relativeGroups(stressed);
  if (relatives.length > 0) {
    out.push(`stress, V2 against V1 (${stressed?.compare?.verdict ?? ''}):`);
    for (const { label, relative } of relatives) out.push(...relativeLines(label, relative).map((l) => `  ${l}`));
    for (const z of stressed?.sizes ?? [])
      for (const m of (z.models ?? []).filter((x) => x.comparison.verdict !== 'pass'))
        out.push(`  ${z.rows} rows, model ${m.model}: ${modelTimingLine(m)}`);
  }
  out.push(...referenceLines(s).map((l, i) => (i === 0 ? l : `  ${l}`)));
  const dryRuns = dryRunLines(s);
  if (dryRuns.length > 0) {
    out.push('dry-run checks (measured, never counted):');
    for (const line of dryRuns) out.push(`  ${line}`);
  }
  const models = (phaseResult(s.phases, 'shadow')?.datasets ?? []).flatMap((d) => d.models ?? []);
  if (models.length > 0) {
    out.push('dbt models, V1 vs V2 (what changed):');
    for (const m of models) out.push(`  ${modelLine(m)}`);
  }
  const diffs = (phaseResult(s.phases, 'shadow')?.datasets ?? []).flatMap((d) => d.outputs ?? []);
  if (diffs.length > 0) {
    out.push('outputs (keyed diff, V1 vs V2):');
    for (const diff of diffs) out.push(`  ${outputLine(diff)}`);
  }
  const days = (phaseResult(s.phases, 'reconciliation')?.days ?? []).filter((d) => (d.outputs ?? []).length > 0);
  if (days.length > 0) {
    out.push('reconciliation outputs (keyed diff, V1 vs V2, by day):');
    for (const day of days) for (const diff of day.outputs ?? []) out.push(`  ${outputLine(diff)}`);
  }
  out.push(...gateLines(s));
  if (s.rollback)
    out.push(`rollback ${s.rollback.automatic ? '(automatic)' : `by ${s.rollback.requestedBy}`}: ${s.rollback.reason}`);
  out.push('audit (latest):');
  for (const a of s.audit.slice(-auditLines)) {
    const mark = a.accepted === undefined ? ' ' : a.accepted ? '✓' : '✗';
    out.push(`  ${a.at} ${mark} ${a.kind}${a.actor ? ` ${a.actor}` : ''}: ${a.message}`);
  }
  return out.join('\n');
}

/** The evidence of every phase, as Markdown. */
export function markdownReport(s: CutoverStatus): string {
  const lines = [
    `# Cutover report: ${s.release}`,
    '',
    `- workflow: \`${s.workflowId}\``,
    `- state: **${s.state}** (phase ${s.phase})`,
    `- started: ${s.startedAt}${s.endedAt ? `, ended: ${s.endedAt}` : ''}`,
  ];
  if (s.evidenceDigest) lines.push(`- evidence digest: \`${s.evidenceDigest}\``);
  lines.push(s.policyDigest ? `- policy digest: \`${s.policyDigest}\`` : '- policy: none');
  for (const b of s.breakGlass ?? []) lines.push(`- **break-glass**: ${describeBreakGlass(b)}`);
  lines.push(
    '',
    '## Phases',
    '',
    '| phase | outcome | duration | attempts | verdict |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const p of s.phases)
    lines.push(
      `| ${p.phase} | ${p.outcome} | ${p.durationMs !== undefined ? formatMs(p.durationMs) : ''} | ${p.attempts || ''} | ${(p.verdict ?? '').replace(/\|/g, '/')} |`,
    );
  lines.push(...checksMarkdown(phaseResult(s.phases, 'staging')));
  lines.push(...shadowMarkdown(phaseResult(s.phases, 'shadow')));
  lines.push(...stressMarkdown(phaseResult(s.phases, 'stress')));
  const against = referenceLines(s);
  if (against.length > 0)
    lines.push('', '## Against the reference run', '', ...against.map((l, i) => (i === 0 ? l : `- ${l}`)));
  const dryRuns = dryRunLines(s);
  if (dryRuns.length > 0) {
    lines.push(
      '',
      '## Dry-run checks',
      '',
      'Measured and kept in the evidence; they never fail a phase or fire a rollback.',
      '',
    );
    for (const line of dryRuns) lines.push(`- ${line}`);
  }
  lines.push('', '## Sign-off', '', '| role | signed by | missing |', '| --- | --- | --- |');
  for (const r of s.gate.roles) lines.push(`| ${roleLabel(r)} | ${r.approvedBy.join(', ')} | ${r.missing} |`);
  const counted = s.audit.filter((a) => a.kind === 'signoff' && a.accepted === true);
  if (counted.length > 0) {
    lines.push('', 'Counted sign-offs, and who the login said signed:', '');
    for (const a of counted)
      lines.push(
        `- ${a.at} ${a.actor ?? '?'}: ${a.identity ? `attested: subject ${md(a.identity.subject)} at ${md(a.identity.issuer)}` : 'not attested'}`,
      );
  }
  lines.push('', '## Audit trail', '');
  for (const a of s.audit)
    lines.push(`- ${a.at} ${a.accepted === false ? '✗ ' : ''}${a.kind}${a.actor ? ` (${a.actor})` : ''}: ${a.message}`);
  return lines.join('\n') + '\n';
}

const md = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const figure = (n: number | undefined) => (n === undefined ? '' : Number(n.toPrecision(6)).toString());

/** One output's diff as Markdown: the summary, the per-column breakdown, and the sample rows, differing cells in bold. */
export function outputMarkdown(diff: OutputDiff): string[] {
  const lines = [
    `#### Output \`${diff.output}\` (key ${diff.key.join(', ')}): ${diff.verdict}`,
    '',
    `${diff.rows.v1} rows in V1, ${diff.rows.v2} in V2: ${diff.rows.both} in both, ${diff.rows.onlyV1} only in V1, ${diff.rows.onlyV2} only in V2, ${diff.rows.differing} differing (limits: ${diff.limits.maxDifferingRows} differing, ${diff.limits.maxMissingRows} missing per side).`,
  ];
  for (const failure of diff.failures) lines.push('', `- ✗ ${md(failure)}`);
  if (diff.onlyInV1.length + diff.onlyInV2.length > 0)
    lines.push(
      '',
      `Columns only in V1: ${diff.onlyInV1.join(', ') || 'none'}; only in V2: ${diff.onlyInV2.join(', ') || 'none'}.`,
    );
  if (diff.ignored.length > 0) lines.push('', `Not compared: ${diff.ignored.join(', ')}.`);
  if (diff.duplicates.examples.length > 0)
    lines.push('', `Duplicate keys: ${diff.duplicates.examples.map((e) => md(JSON.stringify(e))).join(', ')}.`);
  if (diff.columns.length > 0) {
    lines.push(
      '',
      '| column | type | equal | within tolerance | differing | null on one side | max abs. difference | max rel. difference | tolerance |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const c of diff.columns) {
      const tolerance = c.tolerance
        ? Object.entries(c.tolerance)
            .map(([k, v]) => `${k} ${String(v)}`)
            .join(', ')
        : 'exact';
      lines.push(
        `| ${md(c.column)} | ${c.type} | ${c.equal} | ${c.withinTolerance} | ${c.differing} | ${c.nullOneSide} | ${figure(c.maxAbsolute)} | ${figure(c.maxRelative)} | ${tolerance} |`,
      );
    }
  }
  if (diff.samples.length > 0) {
    const columns = diff.columns.map((c) => c.column);
    lines.push(
      '',
      `Sample rows (V1 → V2; differing cells in bold):`,
      '',
      `| ${diff.key.map(md).join(' / ')} | in | ${columns.map(md).join(' | ')} |`,
      `| --- | --- | ${columns.map(() => '---').join(' | ')} |`,
    );
    for (const sample of diff.samples) {
      const cells = columns.map((c) => {
        if (sample.presence !== 'both') return md(cell((sample.v1 ?? sample.v2)?.[c]));
        const [a, b] = [cell(sample.v1?.[c]), cell(sample.v2?.[c])];
        return sample.differs.includes(c) ? `**${md(a)} → ${md(b)}**` : md(a);
      });
      lines.push(`| ${md(sampleKey(sample))} | ${sample.presence} | ${cells.join(' | ')} |`);
    }
  }
  lines.push('');
  return lines;
}

const ratio = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '∞');

/** The sizes (and the sustained run) that were compared, with their labels. */
export function relativeGroups(stress: StressResult | undefined): { label: string; relative: RelativeResult }[] {
  if (!stress) return [];
  return stressGroups(stress.sizes, stress.sustained).flatMap(({ label, relative }) =>
    relative ? [{ label, relative }] : [],
  );
}

/** `100000 rows, 8 pairs: time V1 812 ms → V2 355 ms, 0.437 [0.40, 0.48] at 99.92 % · pass` per measure. */
export function relativeLines(label: string, relative: RelativeResult): string[] {
  return relative.comparisons
    .filter((c) => c.statistic === 'median' || c.verdict !== 'pass')
    .map((c) => {
      const unit = c.measure === 'latency' ? 'ms' : 'MB';
      return `${label}, ${relative.pairs} pairs: ${c.measure} ${c.statistic} V1 ${c.v1.toFixed(1)} ${unit} → V2 ${c.v2.toFixed(1)} ${unit}, V2/V1 ${ratio(c.ratio)} [${ratio(c.low)}, ${ratio(c.high)}] at ${levels(c)}, limit ${ratio(c.limit)} · ${c.verdict}`;
    });
}

/** `cutover what-if`'s answer: per cutover, each verdict that would change, then what could not be judged. */
export function renderWhatIf(results: WhatIfResult[], planFile: string): string {
  const out: string[] = [];
  for (const r of results) {
    out.push(
      `${r.workflowId}: ${r.changes.length === 0 ? 'no verdict changes' : `${r.changes.length} verdict(s) would change`} under ${planFile} (${r.unchanged} unchanged)`,
    );
    if (r.changes.length > 0) {
      const table = new Table({ head: ['check', 'before → after', 'figure', 'limit'], style: PLAIN, wordWrap: true });
      for (const c of r.changes) table.push([c.check, `${c.before} → ${c.after}`, c.figure, c.limit]);
      out.push(table.toString());
    }
    for (const note of r.notes) out.push(`  note: ${note}`);
  }
  return out.join('\n');
}

/** The change against the reference run, beside V1: a heading line, then one line per KPI and size. */
export function referenceLines(s: CutoverStatus): string[] {
  const shadow = phaseResult(s.phases, 'shadow')?.reference;
  const stress = phaseResult(s.phases, 'stress')?.reference;
  const ref = shadow ?? stress;
  if (!ref) return [];
  const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)} %`);
  const out = [`against reference ${ref.workflowId || '(none)'} (${ref.source === 'plan' ? "the plan's" : 'pinned'}):`];
  for (const r of [shadow, stress]) if (r?.refused) out.push(`not used: ${r.refused}`);
  for (const m of shadow?.metrics ?? [])
    out.push(`${m.dataset}: ${m.metric} V2 ${m.v2} vs reference ${m.reference} (${pct(m.relative)})`);
  for (const z of stress?.sizes ?? [])
    out.push(
      `${z.rows} rows: V2 p50 ${z.p50.toFixed(1)} ms vs reference ${z.referenceP50.toFixed(1)} ms (${pct(z.change)}), peak RSS ${z.peakRssMb.toFixed(0)} vs ${z.referencePeakRssMb.toFixed(0)} MB`,
    );
  return out;
}

/** The shadow's KPIs and output diffs, dataset by dataset, as Markdown. */
function shadowMarkdown(shadow: PhaseResults['shadow'] | undefined): string[] {
  const lines: string[] = [];
  if (!shadow?.datasets) return lines;
  lines.push('', '## Shadow: V1 vs V2', '');
  for (const d of shadow.datasets) {
    lines.push(
      `### ${d.dataset}`,
      '',
      '| metric | V1 | V2 | difference | relative | noise | verdict |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const m of d.metrics)
      lines.push(
        `| ${m.metric} | ${m.v1 ?? ''} | ${m.v2 ?? ''} | ${m.difference ?? ''} | ${m.relative ?? ''} | ${m.noise} | ${m.verdict}${m.reason ? ` (${m.reason})` : ''} |`,
      );
    lines.push('');
    for (const diff of d.outputs ?? []) lines.push(...outputMarkdown(diff));
    if (d.models?.length) lines.push(...modelsMarkdown(d.models));
  }
  return lines;
}

/** The stress phase's sizes and its comparison of V2 with V1, as Markdown. */
function stressMarkdown(stress: PhaseResults['stress'] | undefined): string[] {
  const lines: string[] = [];
  if (!stress?.sizes) return lines;
  lines.push(
    '## Stress',
    '',
    '| rows | runs | p50 ms | p95 ms | p99 ms | mean ± sd ms | rows/s | peak RSS MB |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const z of stress.sizes) {
    const l = z.latencyMs;
    lines.push(
      `| ${z.rows} | ${z.iterations} | ${l.p50?.toFixed(1)} | ${l.p95?.toFixed(1)} | ${l.p99?.toFixed(1)} | ${l.mean?.toFixed(1)} ± ${l.sd?.toFixed(1)} | ${Math.round(z.rowsPerSecond)} | ${z.peakRssMb.toFixed(1)} |`,
    );
  }
  if (stress.scaling) lines.push('', stress.scaling.note);
  const groups = relativeGroups(stress);
  if (groups.length > 0 && stress.compare) {
    const c = stress.compare;
    lines.push(
      '',
      `### V2 against V1 (${c.verdict})`,
      '',
      `Pairs in ABBA order; V2 may be ${(c.settings.maxSlowdown * 100).toFixed(0)} % slower and take ${(c.settings.maxMemoryGrowth * 100).toFixed(0)} % more memory, at ${(c.settings.confidence * 100).toFixed(0)} % confidence for the whole phase (each interval at its share of it: ${c.family} decisions).`,
      '',
      '| size | pairs | measure | statistic | V1 | V2 | V2/V1 | interval | limit | shift (HL) | Cliff’s δ | p (Mann-Whitney) | verdict |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const { label, relative } of groups) {
      for (const x of relative.comparisons) {
        const unit = x.measure === 'latency' ? 'ms' : 'MB';
        lines.push(
          `| ${label} | ${relative.pairs} | ${x.measure} | ${x.statistic} | ${x.v1.toFixed(1)} ${unit} | ${x.v2.toFixed(1)} ${unit} | ${ratio(x.ratio)} | [${ratio(x.low)}, ${ratio(x.high)}] at ${levels(x)} | ${ratio(x.limit)} | ${x.hodgesLehmann >= 0 ? '+' : ''}${x.hodgesLehmann.toFixed(1)} ${unit} | ${x.cliffsDelta.toFixed(2)} | ${x.pValue < 0.0001 ? '< 0.0001' : x.pValue.toFixed(4)} | ${x.verdict} |`,
        );
      }
    }
  }
  lines.push(...modelTimingsMarkdown(stress));
  return lines;
}

/** A dbt cutover's models: what changed in each, for the approvers. */
function modelsMarkdown(models: ModelReport[]): string[] {
  const lines = [
    '#### What changed: dbt models',
    '',
    '| model | why | key | rows | columns | downstream | noise | verdict |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const m of models) {
    const { columns, rows, downstream, noise } = modelParts(m);
    const key = m.key ? `${m.key.join(', ')} (${m.keySource ?? ''})` : 'none: unkeyed';
    lines.push(
      `| ${m.model} | ${m.reason} | ${key} | ${rows} | ${columns || 'unchanged'} | ${downstream || '-'} | ${noise || '-'} | ${m.verdict}${m.failures.length > 0 ? `: ${m.failures.join('; ').replace(/\|/g, '/')}` : ''} |`,
    );
  }
  lines.push('');
  return lines;
}

/** The checks staging's steps reported (a dbt build's tests), each by its id: the failed ones first. */
function checksMarkdown(staging: PhaseResults['staging'] | undefined): string[] {
  const steps = staging ? [...staging.deployed, ...(staging.tests ? [staging.tests] : [])] : [];
  const checked = steps.filter((step) => (step.checks ?? []).length > 0);
  if (checked.length === 0) return [];
  const lines = ['', '## Staging: checks', ''];
  for (const step of checked) {
    const checks = step.checks ?? [];
    lines.push(`${step.label}: ${checks.filter((c) => c.ok).length}/${checks.length} passed`, '');
    for (const c of checks)
      lines.push(`- ${c.ok ? '✓' : '✗'} \`${c.id}\` ${c.status ?? ''}${c.message ? `: ${md(c.message)}` : ''}`);
    lines.push('');
  }
  return lines;
}

/** A dbt model's build time, V2 against V1, in a few words. */
function modelTimingLine(m: ModelTiming): string {
  const c = m.comparison;
  return `${m.v1Ms.toFixed(0)} → ${m.v2Ms.toFixed(0)} ms, ×${ratio(c.ratio)} [${ratio(c.low)}, ${ratio(c.high)}] · ${c.verdict}`;
}

/** A dbt pipeline's models, each one's build time V2 against V1, by size. */
function modelTimingsMarkdown(stress: PhaseResults['stress']): string[] {
  const sized = stress.sizes.filter((z) => (z.models ?? []).length > 0);
  if (sized.length === 0) return [];
  const lines = [
    '',
    '### dbt models: build time, V2 against V1',
    '',
    '| size | model | V1 → V2 (median), ratio [interval], verdict |',
    '| --- | --- | --- |',
  ];
  for (const z of sized)
    for (const m of z.models ?? []) lines.push(`| ${z.rows} | ${m.model} | ${modelTimingLine(m)} |`);
  return lines;
}
