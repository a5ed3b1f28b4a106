/**
 * The HTML report: the evidence of every phase, with charts (latency distribution, scalability across
 * sizes, V1 vs V2 per KPI) drawn by Chart.js, inlined so that the file reads offline.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { MetricComparison } from '../activities/types';
import { formatMs } from '../plan/duration';
import { phaseResult, type CutoverStatus } from '../workflows/status';

function esc(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON safe to embed in a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export function htmlReport(s: CutoverStatus): string {
  // The package exports only its module entries; the UMD build sits beside them in dist/.
  const chartJs = readFileSync(path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
  const stress = phaseResult(s.phases, 'stress');
  const shadow = phaseResult(s.phases, 'shadow');
  const metrics: MetricComparison[] = shadow?.datasets?.[0]?.metrics ?? [];
  const data = {
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
  const gate = s.gate.roles
    .map((r) => `<tr><td>${esc(r.role)}</td><td>${esc(r.approvedBy.join(', ') || '-')}</td><td>${r.missing}</td></tr>`)
    .join('\n');
  const audit = s.audit
    .map(
      (a) =>
        `<li><code>${esc(a.at)}</code> ${a.accepted === false ? '✗ ' : ''}<b>${esc(a.kind)}</b>${a.actor ? ` (${esc(a.actor)})` : ''}: ${esc(a.message)}</li>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cutover report: ${esc(s.release)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d232a}
table{border-collapse:collapse;margin:.5rem 0 1.5rem;width:100%}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left}
th{background:#f3f5f7}.passed{color:#137333}.failed,.cancelled{color:#b3261e}.charts{display:grid;grid-template-columns:1fr 1fr;gap:1.5rem}
code{font-size:12px}canvas{max-height:320px}
</style></head><body>
<h1>Cutover report: ${esc(s.release)}</h1>
<p>Workflow <code>${esc(s.workflowId)}</code> · state <b>${esc(s.state)}</b> (phase ${esc(s.phase)}) · started ${esc(s.startedAt)}${s.endedAt ? ` · ended ${esc(s.endedAt)}` : ''}</p>
${s.evidenceDigest ? `<p>Evidence digest <code>${esc(s.evidenceDigest)}</code></p>` : ''}
<h2>Phases</h2><table><tr><th>phase</th><th>outcome</th><th>duration</th><th>attempts</th><th>verdict</th></tr>${phases}</table>
<h2>Charts</h2><div class="charts">
<div><h3>Latency distribution per size</h3><canvas id="latency"></canvas></div>
<div><h3>Scalability across sizes</h3><canvas id="scaling"></canvas></div>
<div><h3>V1 vs V2 per KPI (relative difference vs tolerance)</h3><canvas id="kpis"></canvas></div>
</div>
<h2>Shadow: V1 vs V2</h2><table><tr><th>dataset</th><th>metric</th><th>V1</th><th>V2</th><th>relative</th><th>noise</th><th>verdict</th></tr>${kpiRows}</table>
${stress?.scaling ? `<p>${esc(stress.scaling.note)}</p>` : ''}
<h2>Sign-off</h2><table><tr><th>role</th><th>signed by</th><th>missing</th></tr>${gate}</table>
<h2>Audit trail</h2><ul>${audit}</ul>
<script>${chartJs}</script>
<script>
const data = ${scriptJson(data)};
const labels = data.sizes.map((z) => z.rows.toLocaleString('en') + ' rows');
new Chart(document.getElementById('latency'), { type: 'bar', data: { labels, datasets: ['p50', 'p95', 'p99', 'max'].map((k) => ({ label: k + ' (ms)', data: data.sizes.map((z) => z[k]) })) } });
new Chart(document.getElementById('scaling'), { type: 'line', data: { labels, datasets: [{ label: 'µs per row', data: data.sizes.map((z) => z.usPerRow), yAxisID: 'y' }, { label: 'rows/s', data: data.sizes.map((z) => z.rowsPerSecond), yAxisID: 'y1' }] }, options: { scales: { y: { position: 'left' }, y1: { position: 'right' } } } });
new Chart(document.getElementById('kpis'), { type: 'bar', data: { labels: data.kpis.map((k) => k.metric), datasets: [{ label: '|V2 − V1| / V1 (%)', data: data.kpis.map((k) => k.relativePct) }, { label: 'relative tolerance (%)', data: data.kpis.map((k) => k.tolerancePct) }] } });
</script>
</body></html>
`;
}
