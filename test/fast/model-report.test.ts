/**
 * What changed in a dbt cutover's models, as the approvers read it: one line each in `cutover status`, a table in
 * the Markdown report and on the approval page (the html report's body), and the shadow's key figures. Columns
 * added, removed and retyped, a broken contract, the rows and columns that differ (or an unkeyed model's rows), and
 * the models and exposures downstream are all named.
 */
import { markdownReport, renderStatus } from '../../lib/format';
import { reportParts } from '../../lib/html-report';
import { keyFigures } from '../../lib/phase-views';
import type { ModelReport, OutputDiff } from '../../shapes/evidence';
import type { CutoverStatus, PhaseRecord } from '../../shapes/status';
import { modelLine } from '../../workflows/output-lines';

const diff = {
  output: 'customers',
  rows: { v1: 100, v2: 100, both: 100, onlyV1: 0, onlyV2: 0, differing: 61 },
  columns: [
    { column: 'customer_id', differing: 0, nullOneSide: 0 },
    { column: 'customer_lifetime_value', differing: 61, nullOneSide: 0 },
  ],
} as unknown as OutputDiff;

const customers: ModelReport = {
  model: 'customers',
  reason: 'modified',
  key: ['customer_id'],
  keySource: 'unique+not_null',
  unkeyed: false,
  columns: {
    added: ['gross_value'],
    removed: ['first_order'],
    retyped: [{ column: 'number_of_orders', v1: 'BIGINT', v2: 'TEXT' }],
  },
  contractBroken: ['first_order', 'number_of_orders'],
  downstream: { models: ['customer_segments'], exposures: ['finance_dashboard'] },
  diff,
  verdict: 'fail',
  failures: ['column first_order removed', '61 differing row(s), limit 0 (columns customer_lifetime_value)'],
};
const payments: ModelReport = {
  model: 'order_payments',
  reason: 'downstream',
  unkeyed: true,
  columns: { added: [], removed: [], retyped: [] },
  contractBroken: [],
  downstream: { models: [], exposures: [] },
  unkeyedRows: { v1: 113, v2: 113, onlyV1: 0, onlyV2: 0, sumsDiffer: [] },
  verdict: 'pass',
  failures: [],
};

const shadow = { datasets: [{ dataset: '1 rows', metrics: [], models: [customers, payments] }] };
const status = {
  workflowId: 'cutover-jaffle',
  release: 'jaffle',
  state: 'failed',
  phase: 'shadow',
  startedAt: '2026-12-07T10:00:00.000Z',
  phases: [{ phase: 'shadow', outcome: 'failed', attempts: 1, result: shadow }],
  gate: { status: 'closed', roles: [] },
  audit: [],
} as unknown as CutoverStatus;

test('one line a model: why, its key, its rows and the columns that differ, its columns, what reads it, its verdict', () => {
  expect(modelLine(customers)).toBe(
    'customers (modified, key customer_id): 61 differing (customer_lifetime_value 61), 0 only V1, 0 only V2 of 100; ' +
      'columns +gross_value −first_order ~number_of_orders BIGINT→TEXT contract broken: first_order, number_of_orders; ' +
      'downstream customer_segments, exposure finance_dashboard · fail',
  );
  expect(modelLine(payments)).toBe('order_payments (downstream): unkeyed: 0 only V1, 0 only V2 of 113 · pass');
});

test('cutover status, the Markdown report and the approval page each show every model', () => {
  const text = renderStatus(status);
  expect(text).toContain('dbt models, V1 vs V2 (what changed):');
  expect(text).toContain(`  ${modelLine(customers)}`);
  expect(text).toContain(`  ${modelLine(payments)}`);
  const markdown = markdownReport(status);
  expect(markdown).toContain('#### What changed: dbt models');
  expect(markdown).toMatch(
    /\| customers \| modified \| customer_id \(unique\+not_null\) \| 61 differing .* \| fail: column first_order removed; 61 differing/,
  );
  expect(markdown).toContain('| order_payments | downstream | none: unkeyed |');
  const { body } = reportParts(status);
  expect(body).toContain('<h2 id="models">What changed: dbt models</h2>');
  expect(body).toContain('exposure finance_dashboard');
  expect(body).toContain('contract broken: first_order, number_of_orders');
  expect(keyFigures(status.phases[0] as PhaseRecord)).toBe('0/0 metrics within tolerance, 1/2 dbt models');
});
