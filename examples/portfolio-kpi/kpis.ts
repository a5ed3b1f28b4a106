/**
 * The portfolio KPIs, from per-portfolio totals. Formulas: KPIS.md beside this file.
 */

/** Metric names, exactly as both engines print them. */
export const METRIC_NAMES = [
  'TotalReceivable',
  'CashAvailable',
  'TotalEligible',
  'PAR30',
  'PAR90',
  'CollectionRate',
  'PortfolioHealth',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];
export type PortfolioMetrics = Record<MetricName, number>;

/** Columns the engines read; any others are ignored. */
export const REQUIRED_COLUMNS = [
  'loan_id',
  'outstanding_principal',
  'days_past_due',
  'scheduled_payment',
  'collected_amount',
  'is_eligible',
] as const;

/** Sums over the tape. Amounts in the unit the engine keeps (V1: currency as floats; V2: integer cents). */
export interface Totals {
  rows: number;
  outstanding: number;
  collected: number;
  scheduled: number;
  eligible: number;
  /** Outstanding principal of loans past the PAR30 boundary (V2: dpd > 30; V1: dpd >= 30). */
  par30: number;
  par90: number;
}

export function emptyTotals(): Totals {
  return { rows: 0, outstanding: 0, collected: 0, scheduled: 0, eligible: 0, par30: 0, par90: 0 };
}

export function addTotals(a: Totals, b: Totals): Totals {
  return {
    rows: a.rows + b.rows,
    outstanding: a.outstanding + b.outstanding,
    collected: a.collected + b.collected,
    scheduled: a.scheduled + b.scheduled,
    eligible: a.eligible + b.eligible,
    par30: a.par30 + b.par30,
    par90: a.par90 + b.par90,
  };
}

/**
 * PortfolioHealth on 0–10: 10 × (0.4 × (1 − PAR30) + 0.2 × (1 − PAR90) + 0.4 × min(CollectionRate, 1)).
 */
export function portfolioHealth(par30: number, par90: number, collectionRate: number): number {
  const score = 10 * (0.4 * (1 - par30) + 0.2 * (1 - par90) + 0.4 * Math.min(collectionRate, 1));
  return Math.min(10, Math.max(0, score));
}

/** Rounds half away from zero to `decimals`. */
export function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return (Math.sign(value) * Math.round(Math.abs(value) * factor)) / factor;
}

/**
 * The KPIs from totals. `scale` converts the totals' unit to currency (100 for cents); `healthDecimals` is
 * the rounding rule of PortfolioHealth (V2: 2, V1: 1).
 */
export function metricsFrom(t: Totals, scale: number, healthDecimals: number): PortfolioMetrics {
  const par30 = t.outstanding === 0 ? 0 : t.par30 / t.outstanding;
  const par90 = t.outstanding === 0 ? 0 : t.par90 / t.outstanding;
  const collectionRate = t.scheduled === 0 ? 0 : t.collected / t.scheduled;
  return {
    TotalReceivable: t.outstanding / scale,
    CashAvailable: t.collected / scale,
    TotalEligible: t.eligible / scale,
    PAR30: par30,
    PAR90: par90,
    CollectionRate: collectionRate,
    PortfolioHealth: round(portfolioHealth(par30, par90, collectionRate), healthDecimals),
  };
}

/** Bad input: names the row (1 is the header) and the column. */
export class TapeError extends Error {
  override readonly name = 'TapeError';
  constructor(
    message: string,
    readonly row?: number,
    readonly column?: string,
  ) {
    super(row === undefined ? message : `row ${row}${column ? `, column ${column}` : ''}: ${message}`);
  }
}

/** Parses `is_eligible`: 1/0, true/false (any case). */
export function parseEligible(text: string, row: number): boolean {
  const t = text.trim().toLowerCase();
  if (t === '1' || t === 'true') return true;
  if (t === '0' || t === 'false') return false;
  throw new TapeError(`expected 1, 0, true or false, found ${JSON.stringify(text.slice(0, 40))}`, row, 'is_eligible');
}
