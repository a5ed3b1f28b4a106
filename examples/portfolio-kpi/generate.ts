/**
 * A seeded loan-tape generator whose portfolio looks real: log-normal (skewed) balances, most loans
 * current, a tail of delinquency with a bump on billing-cycle days (30, 60, 90), some quoted names with
 * embedded commas (RFC 4180), and columns the engines ignore.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const HEADER =
  'loan_id,borrower,segment,outstanding_principal,days_past_due,scheduled_payment,collected_amount,is_eligible,origination_date';

const SEGMENTS = ['retail', 'sme', 'agri', 'micro'];
const NAMES = ['Okafor, A.', 'Mensah', 'Diallo, F.', 'Nguyen', 'Silva, "Bia"', 'Kim', 'Haddad, R.', 'Otieno'];

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One row (without line ending) for loan `i`. */
export function makeRow(i: number, random: () => number): string {
  // Log-normal balance: median ≈ 2,700, long right tail.
  const u1 = Math.max(random(), 1e-12);
  const u2 = random();
  const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  const principal = Math.round(Math.exp(7.9 + 1.1 * normal) * 100) / 100;
  const r = random();
  let dpd: number;
  if (r < 0.8) dpd = 0;
  else if (r < 0.88) dpd = 1 + Math.floor(random() * 29);
  else if (r < 0.886) dpd = [30, 60, 90][Math.floor(random() * 3)] as number;
  else if (r < 0.94) dpd = 31 + Math.floor(random() * 59);
  else dpd = 91 + Math.floor(random() * 270);
  const scheduled = Math.round(principal * (0.03 + random() * 0.05) * 100) / 100;
  const payRatio = dpd === 0 ? 0.92 + random() * 0.08 : dpd <= 30 ? 0.4 + random() * 0.5 : random() * 0.3;
  const collected = Math.round(scheduled * payRatio * 100) / 100;
  const eligible = dpd <= 90 && random() < 0.97;
  const name = NAMES[i % NAMES.length] as string;
  const year = 2019 + (i % 6);
  const eligibleText = i % 7 === 0 ? (eligible ? 'true' : 'false') : eligible ? '1' : '0';
  return [
    `L${String(i).padStart(8, '0')}`,
    csvField(name),
    SEGMENTS[i % SEGMENTS.length],
    principal.toFixed(2),
    String(dpd),
    scheduled.toFixed(2),
    collected.toFixed(2),
    eligibleText,
    `${year}-0${1 + (i % 9)}-1${i % 10}`,
  ].join(',');
}

/** Writes a tape of `rows` loans to `out`. Same rows and seed, same bytes. */
export async function generateTape(rows: number, seed: number, out: string): Promise<void> {
  const random = prng(seed);
  const stream = createWriteStream(out);
  stream.write(`${HEADER}\n`);
  const batch: string[] = [];
  for (let i = 1; i <= rows; i++) {
    batch.push(makeRow(i, random));
    if (batch.length === 10_000 || i === rows) {
      if (!stream.write(`${batch.join('\n')}\n`)) await once(stream, 'drain');
      batch.length = 0;
    }
  }
  stream.end();
  await once(stream, 'finish');
}
