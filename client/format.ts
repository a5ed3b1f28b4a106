/**
 * How a cutover reads in a terminal and in a report.
 */
import Table from 'cli-table3';
import { formatMs } from '../plan/duration';
import { phaseResult, type CutoverStatus, type PhaseRecord } from '../workflows/status';

/** Key figures of a phase's evidence, in a few words. */
export function keyFigures(record: PhaseRecord): string {
  if (!record.result) return '';
  switch (record.phase) {
    case 'shadow': {
      const metrics = record.result.datasets.flatMap((d) => d.metrics);
      return `${metrics.filter((m) => m.verdict === 'pass').length}/${metrics.length} metrics within tolerance`;
    }
    case 'stress': {
      const last = record.result.sizes[record.result.sizes.length - 1];
      return last
        ? `${last.rows} rows: p99 ${last.latencyMs.p99.toFixed(0)} ms, ${Math.round(last.rowsPerSecond)} rows/s`
        : '';
    }
    case 'rollback-rehearsal':
      return `${formatMs(record.result.durationMs)} of ${formatMs(record.result.targetMs)}`;
    default:
      return '';
  }
}

/** No colour codes when the output is not a terminal (pipes, files, tests). */
const PLAIN = process.stdout.isTTY ? {} : { head: [], border: [] };

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
  out.push(
    s.policyDigest
      ? `policy: ${s.policyDigest.slice(0, 12)}… (the workers' policy this plan was checked against)`
      : 'policy: none (the workers hold no organisation policy; the plan is its own judge)',
  );
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
  out.push(phases.toString());
  const g = s.gate;
  out.push(
    `gate: ${g.status}${g.deadline ? `  deadline ${g.deadline}` : ''}${g.escalatedAt ? `  escalated ${g.escalatedAt}` : ''}${g.expiresAt ? `  expires ${g.expiresAt}` : ''}`,
  );
  if (s.evidenceDigest) out.push(`evidence digest: ${s.evidenceDigest}`);
  const gate = new Table({ head: ['role', 'signed by', 'missing', 'approvers'], style: PLAIN });
  for (const r of g.roles)
    gate.push([r.role, r.approvedBy.join(', ') || '-', String(r.missing), r.approvers.join(', ')]);
  out.push(gate.toString());
  if (g.rejectedBy)
    out.push(
      `rejected by ${g.rejectedBy.approver} (${g.rejectedBy.role})${g.rejectedBy.comment ? `: ${g.rejectedBy.comment}` : ''}`,
    );
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
  const shadow = phaseResult(s.phases, 'shadow');
  if (shadow?.datasets) {
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
    }
  }
  const stress = phaseResult(s.phases, 'stress');
  if (stress?.sizes) {
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
  }
  lines.push('', '## Sign-off', '', '| role | signed by | missing |', '| --- | --- | --- |');
  for (const r of s.gate.roles) lines.push(`| ${r.role} | ${r.approvedBy.join(', ')} | ${r.missing} |`);
  lines.push('', '## Audit trail', '');
  for (const a of s.audit)
    lines.push(`- ${a.at} ${a.accepted === false ? '✗ ' : ''}${a.kind}${a.actor ? ` (${a.actor})` : ''}: ${a.message}`);
  return lines.join('\n') + '\n';
}
