/**
 * The HTML report: the evidence of every phase, with charts (latency distribution, scalability across
 * sizes, V1 vs V2 per KPI) drawn by Chart.js, inlined so that the file reads offline.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { esc } from '../common/html';
import type { MetricComparison, ModelReport, OutputDiff } from '../shapes/evidence';
import { cell, dryRunLines, modelParts, roleLabel, sampleKey } from '../workflows/output-lines';
import { relativeGroups } from './format';
import { formatMs } from '../plan/duration';
import { describeBreakGlass, phaseResult, type CutoverStatus } from '../shapes/status';
import { levels } from '../verdicts/relative';
import type { RecordLine } from './record';
import type { PhaseResults } from '../shapes/phases';

/** JSON safe to embed in a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/** Chart.js's UMD build: the package exports only its module entries; the UMD build sits beside them. */
export function chartJsSource(): string {
  return readFileSync(path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
}

export const REPORT_STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d232a}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;width:100%}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left}
th{background:#f3f5f7}.passed{color:#137333}.failed,.cancelled{color:#b3261e}.charts{display:grid;grid-template-columns:1fr 1fr;gap:1.5rem}
code{font-size:12px}canvas{max-height:320px}mark{background:#fde7e4;color:#b3261e}`;

/** The record's line (lib/record-export.ts recordLine): its digest and whether it verified. */
export function recordLineHtml(line: RecordLine): string {
  return `<p class="record">Record <code>${esc(line.digest)}</code> · ${
    line.verified
      ? `<b>verified</b> with workers' key ${esc(line.keyId)} (${esc(line.detail)})`
      : `<b>not verified</b>: ${esc(line.detail)}`
  }</p>`;
}

export function htmlReport(s: CutoverStatus, record?: RecordLine): string {
  const { body, script } = reportParts(s);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cutover report: ${esc(s.release)}</title>
<style>
${REPORT_STYLE}
</style></head><body>
<h1>Cutover report: ${esc(s.release)}</h1>
<p>Workflow <code>${esc(s.workflowId)}</code> · state <b>${esc(s.state)}</b> (phase ${esc(s.phase)}) · started ${esc(s.startedAt)}${s.endedAt ? ` · ended ${esc(s.endedAt)}` : ''}</p>
${s.evidenceDigest ? `<p>Evidence digest <code>${esc(s.evidenceDigest)}</code></p>` : ''}
${record ? recordLineHtml(record) : ''}
${body}
<script>${chartJsSource()}</script>
<script>
${script}
</script>
</body></html>
`;
}

/**
 * The report's evidence (phases, charts, shadow, stress, dry runs, sign-off, audit) and the script that
 * draws its charts with a global `Chart`: the html report inlines Chart.js, the approval app serves it.
 */
export function reportParts(s: CutoverStatus): { body: string; script: string } {
  const stress = phaseResult(s.phases, 'stress');
  const shadow = phaseResult(s.phases, 'shadow');
  const phases = s.phases
    .map(
      (p) =>
        `<tr><td>${esc(p.phase)}</td><td class="${esc(p.outcome)}">${esc(p.outcome)}</td><td>${p.durationMs !== undefined ? esc(formatMs(p.durationMs)) : ''}</td><td>${p.attempts || ''}</td><td>${esc(p.verdict)}</td></tr>`,
    )
    .join('\n');
  const kpiRows = (shadow?.datasets ?? [])
    .flatMap((d) =>
      d.metrics.map(
        (m) =>
          `<tr><td>${esc(d.dataset)}</td><td>${esc(m.metric)}</td><td>${esc(m.v1)}</td><td>${esc(m.v2)}</td><td>${m.relative !== undefined ? (m.relative * 100).toFixed(4) + ' %' : ''}</td><td>${esc(m.noise)}</td><td class="${m.verdict === 'pass' ? 'passed' : 'failed'}">${esc(m.verdict)} ${esc(m.reason ?? '')}</td></tr>`,
      ),
    )
    .join('\n');
  const outputs = (shadow?.datasets ?? []).flatMap((d) => (d.outputs ?? []).map(outputHtml)).join('\n');
  const models = modelsHtml((shadow?.datasets ?? []).flatMap((d) => d.models ?? []));
  const comparison = comparisonHtml(stress);
  const gate = s.gate.roles
    .map(
      (r) =>
        `<tr><td>${esc(roleLabel(r))}</td><td>${esc(r.approvedBy.join(', ') || '-')}</td><td>${r.missing}</td></tr>`,
    )
    .join('\n');
  const audit = s.audit
    .map(
      (a) =>
        `<li><code>${esc(a.at)}</code> ${a.accepted === false ? '✗ ' : ''}<b>${esc(a.kind)}</b>${a.actor ? ` (${esc(a.actor)})` : ''}: ${esc(a.message)}</li>`,
    )
    .join('\n');
  const body = `<h2>Phases</h2><table><tr><th>phase</th><th>outcome</th><th>duration</th><th>attempts</th><th>verdict</th></tr>${phases}</table>
<h2>Charts</h2><div class="charts">
<div><h3>Latency distribution per size</h3><canvas id="latency"></canvas></div>
<div><h3>Scalability across sizes</h3><canvas id="scaling"></canvas></div>
<div><h3>V1 vs V2 per KPI (relative difference vs tolerance)</h3><canvas id="kpis"></canvas></div>
</div>
<h2>Shadow: V1 vs V2</h2><table><tr><th>dataset</th><th>metric</th><th>V1</th><th>V2</th><th>relative</th><th>noise</th><th>verdict</th></tr>${kpiRows}</table>
${models}
${outputs ? `<h2>Shadow: output tables, row by row</h2>${outputs}` : ''}
${comparison}
${
  dryRunLines(s).length
    ? `<h2>Dry-run checks</h2><p>Measured and kept in the evidence; they never fail a phase or fire a rollback.</p><ul>${dryRunLines(
        s,
      )
        .map((l) => `<li>${esc(l)}</li>`)
        .join('')}</ul>`
    : ''
}
${stress?.scaling ? `<p>${esc(stress.scaling.note)}</p>` : ''}
<h2>Sign-off</h2><table><tr><th>role</th><th>signed by</th><th>missing</th></tr>${gate}</table>
${(s.breakGlass ?? []).map((b) => `<p class="break-glass"><strong>Break-glass</strong>: ${esc(describeBreakGlass(b))}</p>`).join('')}
<h2>Audit trail</h2><ul>${audit}</ul>`;
  const script = chartsScript(s);
  return { body, script };
}

/** The data the charts draw: both versions' wall times per size (an ECDF each), the sizes, the KPIs. */
function chartData(s: CutoverStatus) {
  const stress = phaseResult(s.phases, 'stress');
  const metrics: MetricComparison[] = phaseResult(s.phases, 'shadow')?.datasets?.[0]?.metrics ?? [];
  const groups = relativeGroups(stress);
  return {
    // Both versions' wall times per size, for an ECDF each: the overlap shows rather than a p-value.
    ecdf: groups.map(({ label, relative }) => ({
      label,
      v1: [...relative.samples.v1.latency].sort((a, b) => a - b),
      v2: [...relative.samples.v2.latency].sort((a, b) => a - b),
    })),
    sizes: (stress?.sizes ?? []).map((z) => ({
      rows: z.rows,
      ...z.latencyMs,
      usPerRow: z.usPerRow,
      rowsPerSecond: z.rowsPerSecond,
    })),
    kpis: metrics.map((m) => ({
      metric: m.metric,
      relativePct: m.relative !== undefined ? m.relative * 100 : null,
      tolerancePct: m.tolerance?.relative !== undefined ? m.tolerance.relative * 100 : null,
      v1: m.v1 ?? null,
      v2: m.v2 ?? null,
    })),
  };
}

/** The script that draws the charts with a global `Chart`, from the status's figures. */
function chartsScript(s: CutoverStatus): string {
  const data = chartData(s);
  return `const data = ${scriptJson(data)};
const labels = data.sizes.map((z) => z.rows.toLocaleString('en') + ' rows');
new Chart(document.getElementById('latency'), { type: 'bar', data: { labels, datasets: ['p50', 'p95', 'p99', 'max'].map((k) => ({ label: k + ' (ms)', data: data.sizes.map((z) => z[k]) })) } });
new Chart(document.getElementById('scaling'), { type: 'line', data: { labels, datasets: [{ label: 'µs per row', data: data.sizes.map((z) => z.usPerRow), yAxisID: 'y' }, { label: 'rows/s', data: data.sizes.map((z) => z.rowsPerSecond), yAxisID: 'y1' }] }, options: { scales: { y: { position: 'left' }, y1: { position: 'right' } } } });
data.ecdf.forEach((g, i) => {
  const steps = (values) => values.map((x, j) => ({ x, y: (j + 1) / values.length }));
  new Chart(document.getElementById('ecdf-' + i), { type: 'line', data: { datasets: [{ label: 'V1', data: steps(g.v1), stepped: true }, { label: 'V2', data: steps(g.v2), stepped: true }] }, options: { parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'ms' } }, y: { min: 0, max: 1, title: { display: true, text: 'share of runs' } } } } });
});
new Chart(document.getElementById('kpis'), { type: 'bar', data: { labels: data.kpis.map((k) => k.metric), datasets: [{ label: '|V2 − V1| / V1 (%)', data: data.kpis.map((k) => k.relativePct) }, { label: 'relative tolerance (%)', data: data.kpis.map((k) => k.tolerancePct) }] } });`;
}

/** The stress phase's comparison of V2 with V1: the table of every statistic and the ECDF of each size. */
function comparisonHtml(stress: PhaseResults['stress'] | undefined): string {
  const groups = relativeGroups(stress);
  const comparisonRows = groups
    .flatMap(({ label, relative }) =>
      relative.comparisons.map((c) => {
        const unit = c.measure === 'latency' ? 'ms' : 'MB';
        const r = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '∞');
        return `<tr><td>${esc(label)}</td><td>${relative.pairs}</td><td>${c.measure}</td><td>${c.statistic}</td><td>${c.v1.toFixed(1)} ${unit}</td><td>${c.v2.toFixed(1)} ${unit}</td><td>${r(c.ratio)}</td><td>[${r(c.low)}, ${r(c.high)}] at ${levels(c)}</td><td>${r(c.limit)}</td><td>${c.hodgesLehmann.toFixed(1)} ${unit}</td><td>${c.cliffsDelta.toFixed(2)}</td><td>${c.pValue.toFixed(4)}</td><td class="${c.verdict === 'pass' ? 'passed' : 'failed'}">${c.verdict}</td></tr>`;
      }),
    )
    .join('\n');
  return stress?.compare
    ? `<h2>Stress: V2 against V1 (${esc(stress.compare.verdict)})</h2>
<p>Pairs in ABBA order. V2 may be ${(stress.compare.settings.maxSlowdown * 100).toFixed(0)} % slower and take ${(stress.compare.settings.maxMemoryGrowth * 100).toFixed(0)} % more memory, at ${(stress.compare.settings.confidence * 100).toFixed(0)} % confidence for the whole phase (${stress.compare.family} decisions share it).</p>
<table><tr><th>size</th><th>pairs</th><th>measure</th><th>statistic</th><th>V1</th><th>V2</th><th>V2/V1</th><th>interval</th><th>limit</th><th>shift (HL)</th><th>Cliff's δ</th><th>p</th><th>verdict</th></tr>${comparisonRows}</table>
<div class="charts">${groups.map((_, i) => `<div><h3>Wall time, ${esc(groups[i]?.label)}: V1 and V2 (ECDF)</h3><canvas id="ecdf-${i}"></canvas></div>`).join('')}</div>`
    : '';
}

/** A dbt cutover's models: what changed in each (columns, contract, rows, what reads it), for the approvers. */
function modelsHtml(models: ModelReport[]): string {
  if (models.length === 0) return '';
  const rows = models
    .map((m) => {
      const { columns, rows: differing, downstream, noise } = modelParts(m);
      const key = m.key ? `${m.key.join(', ')} <span class="muted">(${esc(m.keySource)})</span>` : 'none: unkeyed';
      return `<tr><td><b>${esc(m.model)}</b></td><td>${esc(m.reason)}</td><td>${key}</td><td>${esc(differing)}</td><td>${esc(columns || 'unchanged')}</td><td>${esc(downstream || '-')}</td><td${m.noise?.mayHide.length ? ' class="failed"' : ''}>${esc(noise || '-')}</td><td class="${m.verdict === 'pass' ? 'passed' : 'failed'}">${esc(m.verdict)}${m.failures.length > 0 ? `<br>${m.failures.map(esc).join('<br>')}` : ''}</td></tr>`;
    })
    .join('\n');
  return `<h2 id="models">What changed: dbt models</h2>
<table><tr><th>model</th><th>why</th><th>key</th><th>rows</th><th>columns</th><th>downstream</th><th>noise</th><th>verdict</th></tr>${rows}</table>`;
}

const figure = (n: number | undefined) => (n === undefined ? '' : Number(n.toPrecision(6)).toString());

/** One output's diff: the counts, the per-column breakdown and the sample rows, differing cells marked. */
function outputHtml(diff: OutputDiff): string {
  const columns = diff.columns.map((c) => c.column);
  const columnRows = diff.columns
    .map(
      (c) =>
        `<tr><td>${esc(c.column)}</td><td>${esc(c.type)}</td><td>${c.equal}</td><td>${c.withinTolerance}</td><td${c.differing ? ' class="failed"' : ''}>${c.differing}</td><td${c.nullOneSide ? ' class="failed"' : ''}>${c.nullOneSide}</td><td>${figure(c.maxAbsolute)}</td><td>${figure(c.maxRelative)}</td><td>${esc(c.tolerance ? JSON.stringify(c.tolerance) : 'exact')}</td></tr>`,
    )
    .join('');
  const sampleRows = diff.samples
    .map((sample) => {
      const cells = columns
        .map((c) => {
          if (sample.presence !== 'both') return `<td>${esc(cell((sample.v1 ?? sample.v2)?.[c]))}</td>`;
          const [a, b] = [cell(sample.v1?.[c]), cell(sample.v2?.[c])];
          return sample.differs.includes(c) ? `<td><mark>${esc(a)} → ${esc(b)}</mark></td>` : `<td>${esc(a)}</td>`;
        })
        .join('');
      return `<tr><td>${esc(sampleKey(sample))}</td><td>${sample.presence === 'both' ? 'both' : `only ${sample.presence.toUpperCase()}`}</td>${cells}</tr>`;
    })
    .join('');
  return `<h3>${esc(diff.output)} · ${esc(diff.dataset)}: <span class="${diff.verdict === 'pass' ? 'passed' : 'failed'}">${diff.verdict}</span></h3>
<p>Key ${esc(diff.key.join(', '))}. ${diff.rows.v1} rows in V1, ${diff.rows.v2} in V2: ${diff.rows.both} in both, ${diff.rows.onlyV1} only in V1, ${diff.rows.onlyV2} only in V2, ${diff.rows.differing} differing.${diff.onlyInV1.length + diff.onlyInV2.length ? ` Columns only in V1: ${esc(diff.onlyInV1.join(', ') || 'none')}; only in V2: ${esc(diff.onlyInV2.join(', ') || 'none')}.` : ''}${diff.ignored.length ? ` Not compared: ${esc(diff.ignored.join(', '))}.` : ''}</p>
${diff.failures.length ? `<ul>${diff.failures.map((f) => `<li class="failed">${esc(f)}</li>`).join('')}</ul>` : ''}
<table><tr><th>column</th><th>type</th><th>equal</th><th>within tolerance</th><th>differing</th><th>null on one side</th><th>max abs.</th><th>max rel.</th><th>tolerance</th></tr>${columnRows}</table>
${sampleRows ? `<table><tr><th>${esc(diff.key.join(' / '))}</th><th>in</th>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>${sampleRows}</table>` : ''}`;
}
