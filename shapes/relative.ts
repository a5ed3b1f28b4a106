/**
 * The relative stress verdict's shapes: its settings, samples and comparisons, as the evidence carries them
 * (verdicts/relative.ts computes them).
 */

export type Measure = 'latency' | 'memory';
export type Statistic = 'median' | 'p95';
export type RelativeVerdict = 'pass' | 'fail' | 'inconclusive';

/** The plan's `stress.compare`, with its defaults and fractions (`10%` → 0.1). */
export interface CompareSettings {
  measures: Measure[];
  /** The largest acceptable V2 / V1 − 1 for wall time. */
  maxSlowdown: number;
  /** The largest acceptable V2 / V1 − 1 for peak RSS. */
  maxMemoryGrowth: number;
  confidence: number;
  minRuns: number;
  maxRuns: number;
  onInconclusive: 'pass' | 'fail';
}

/** One comparison: a statistic of one measure at one size. */
export interface RelativeComparison {
  measure: Measure;
  statistic: Statistic;
  pairs: number;
  v1: number;
  v2: number;
  /** V2's statistic / V1's. */
  ratio: number;
  /** The interval of the ratio at `level`. */
  low: number;
  high: number;
  /**
   * The level of the interval's low end, which fails V2 past the limit: two-sided, after the family's share (e.g.
   * 0.996 for 0.95 over 12 decisions).
   */
  level: number;
  /** The level of its high end, which passes V2 within the limit: after the looks' share only. @default level */
  passLevel?: number;
  /** The largest acceptable ratio: 1 + the allowance. */
  limit: number;
  /** Median of all V2 − V1 differences (ms or MB): the typical shift. */
  hodgesLehmann: number;
  /** P(V2 > V1) − P(V2 < V1), from −1 to 1: the effect size, 0 for none. */
  cliffsDelta: number;
  /** Mann-Whitney U, two-sided, ties handled (normal approximation with the tie correction). */
  pValue: number;
  verdict: RelativeVerdict;
}

/** Samples of both versions at one size (or the sustained run): wall times in ms, peak RSS in MB. */
export interface PairedSamples {
  v1: { latency: number[]; memory: number[] };
  v2: { latency: number[]; memory: number[] };
}
