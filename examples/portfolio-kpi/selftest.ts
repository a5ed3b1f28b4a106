/**
 * The staging test suite of the example: both engines on a small tape whose KPIs were computed by hand.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runV1 } from './v1';
import { runV2 } from './v2';

/** 4 loans: 1000 current; 500 at exactly 30 days; 300 at 45 days; 200 at 120 days (ineligible). */
export const HAND_TAPE = [
  'loan_id,outstanding_principal,days_past_due,scheduled_payment,collected_amount,is_eligible',
  'A,1000.00,0,100.00,100.00,1',
  'B,500.00,30,50.00,25.00,true',
  'C,300.00,45,30.00,6.00,1',
  'D,200.00,120,20.00,0.00,0',
].join('\n');

/** V2's figures for HAND_TAPE, computed by hand (KPIS.md). */
export const HAND_V2 = {
  TotalReceivable: 2000,
  CashAvailable: 131,
  TotalEligible: 1800,
  PAR30: 500 / 2000, // C and D: dpd > 30
  PAR90: 200 / 2000, // D
  CollectionRate: 131 / 200,
  // 10 × (0.4 × 0.75 + 0.2 × 0.9 + 0.4 × 0.655) = 7.42
  PortfolioHealth: 7.42,
};

/** V1 counts the boundary day: B (30 days) is in PAR30. Health 10 × (0.4 × 0.5 + 0.2 × 0.9 + 0.4 × 0.655) = 6.42 → 6.4. */
export const HAND_V1 = { ...HAND_V2, PAR30: 1000 / 2000, PortfolioHealth: 6.4 };

export async function selfTest(): Promise<string[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portfolio-kpi-'));
  const file = path.join(dir, 'hand.csv');
  const failures: string[] = [];
  try {
    await writeFile(file, HAND_TAPE);
    for (const [engine, run, expected] of [
      ['v1', runV1, HAND_V1],
      ['v2', runV2, HAND_V2],
    ] as const) {
      const { metrics } = await run(file);
      for (const [name, value] of Object.entries(expected)) {
        const got = metrics[name as keyof typeof metrics];
        if (Math.abs(got - value) > 1e-9) failures.push(`${engine} ${name}: expected ${value}, got ${got}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return failures;
}
