/**
 * The same KPI definitions as V2 (KPIS.md), in SQL on DuckDB: the yardstick for V2's speed and accuracy.
 * Usage: node dist/bench/duckdb-kpi.js FILE  → {"metrics": {...}, "rows": N}
 */
import { DuckDBInstance } from '@duckdb/node-api';

const SQL = (file: string) => `
WITH t AS (
  SELECT
    round(outstanding_principal * 100) AS o,
    days_past_due AS dpd,
    round(scheduled_payment * 100) AS s,
    round(collected_amount * 100) AS c,
    lower(trim(CAST(is_eligible AS VARCHAR))) IN ('1', 'true') AS e
  FROM read_csv('${file.replace(/'/g, "''")}', header = true, columns = {
    'loan_id': 'VARCHAR', 'borrower': 'VARCHAR', 'segment': 'VARCHAR',
    'outstanding_principal': 'DECIMAL(18,3)', 'days_past_due': 'DECIMAL(18,3)',
    'scheduled_payment': 'DECIMAL(18,3)', 'collected_amount': 'DECIMAL(18,3)',
    'is_eligible': 'VARCHAR', 'origination_date': 'VARCHAR'})
)
SELECT count(*) AS rows,
  sum(o)::DOUBLE AS outstanding, sum(c)::DOUBLE AS collected, sum(s)::DOUBLE AS scheduled,
  sum(CASE WHEN e THEN o ELSE 0 END)::DOUBLE AS eligible,
  sum(CASE WHEN dpd > 30 THEN o ELSE 0 END)::DOUBLE AS par30,
  sum(CASE WHEN dpd > 90 THEN o ELSE 0 END)::DOUBLE AS par90
FROM t`;

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: duckdb-kpi FILE');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const reader = await connection.runAndReadAll(SQL(file));
  const row = reader.getRowObjectsJson()[0] as Record<string, number | string>;
  const n = (k: string) => Number(row[k]);
  const outstanding = n('outstanding');
  const par30 = outstanding === 0 ? 0 : n('par30') / outstanding;
  const par90 = outstanding === 0 ? 0 : n('par90') / outstanding;
  const collectionRate = n('scheduled') === 0 ? 0 : n('collected') / n('scheduled');
  const health = 10 * (0.4 * (1 - par30) + 0.2 * (1 - par90) + 0.4 * Math.min(collectionRate, 1));
  process.stdout.write(
    JSON.stringify({
      metrics: {
        TotalReceivable: outstanding / 100,
        CashAvailable: n('collected') / 100,
        TotalEligible: n('eligible') / 100,
        PAR30: par30,
        PAR90: par90,
        CollectionRate: collectionRate,
        PortfolioHealth: Math.round(health * 100) / 100,
      },
      rows: n('rows'),
    }) + '\n',
  );
  connection.closeSync();
}

main().catch((err: unknown) => {
  process.stderr.write(`duckdb-kpi: ${(err as Error).message}\n`);
  process.exit(1);
});
