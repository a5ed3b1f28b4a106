/**
 * The checks a step reports on its last line of JSON (a dbt build's tests, each by its unique id) become part of
 * the step's result: staging's evidence, its key figures and the report. A step that prints anything else reports
 * none; a failed check comes first.
 */
import { markdownReport } from '../../lib/format';
import { keyFigures } from '../../lib/phase-views';
import { reportedChecks } from '../../activities/staging';
import type { CutoverStatus, PhaseRecord } from '../../shapes/status';

const line = (checks: unknown[]) => `dbt says hello\n${JSON.stringify({ metrics: { models: 5 }, checks })}\n`;

test('a step reports its checks on its last line of JSON; the failed ones first; anything else is no checks', () => {
  expect(
    reportedChecks(
      line([
        { id: 'test.shop.unique_customers_customer_id', ok: true, status: 'pass' },
        { id: 'test.shop.not_null_orders_amount', ok: false, status: 'fail', message: `${'x'.repeat(400)}` },
      ]),
    ),
  ).toEqual([
    { id: 'test.shop.not_null_orders_amount', ok: false, status: 'fail', message: 'x'.repeat(300) },
    { id: 'test.shop.unique_customers_customer_id', ok: true, status: 'pass' },
  ]);
  expect(reportedChecks('deployed\n')).toBeUndefined();
  expect(reportedChecks('{"checks": [{"id": "x"}]}')).toBeUndefined();
  expect(reportedChecks(`${line([{ id: 'a', ok: true }])}and then some words`)).toBeUndefined();
});

test("staging's key figures and the report count and name the checks", () => {
  const deployed = {
    label: 'deploy 1',
    kind: 'run',
    durationMs: 12_000,
    outputTail: '',
    attempt: 1,
    checks: [
      { id: 'test.shop.not_null_orders_amount', ok: false, status: 'warn', message: '3 results' },
      { id: 'test.shop.unique_customers_customer_id', ok: true, status: 'pass' },
    ],
  };
  const staging = { phase: 'staging', outcome: 'passed', attempts: 1, result: { deployed: [deployed] } };
  expect(keyFigures(staging as PhaseRecord)).toBe('1/2 checks passed');
  const status = {
    workflowId: 'cutover-shop',
    release: 'shop',
    state: 'running',
    phase: 'shadow',
    startedAt: '2026-12-07T10:00:00.000Z',
    phases: [staging],
    gate: { status: 'closed', roles: [] },
    audit: [],
  } as unknown as CutoverStatus;
  const report = markdownReport(status);
  expect(report).toContain('## Staging: checks');
  expect(report).toContain('deploy 1: 1/2 passed');
  expect(report).toContain('- ✗ `test.shop.not_null_orders_amount` warn: 3 results');
  expect(report).toContain('- ✓ `test.shop.unique_customers_customer_id` pass');
});
