/**
 * The relative stress verdict: is V2 slower or hungrier than V1, by how much, and how sure are we? Pure (no I/O),
 * so the stress activity, the simulation test and the reports compute the very same figures.
 *
 * Per measure (wall time, peak RSS) and statistic (median, p95), the ratio V2 / V1 gets a confidence interval
 * from the bootstrap distribution of each version's order statistic, computed exactly rather than by drawing
 * resamples: the k-th smallest of n values drawn with replacement from a sample is at most its j-th smallest
 * value with probability P(Binomial(n, j/n) ≥ k). That is the distribution a seeded resampling approaches as its
 * resamples grow, with no resampling error and no seed: the same samples always give the same interval, on
 * every worker. simple-statistics gives the ranks (`wilcoxonRankSum`), the normal distribution and `gammaln`;
 * what it lacks (the exact bootstrap, the Hodges-Lehmann shift, Cliff's delta, Mann-Whitney's p-value with
 * ties) is written here.
 *
 * The whole phase is one family of decisions: every size, measure and statistic, at every look of the
 * sequential extension from `minRuns` to `maxRuns` pairs. Each interval is taken at the family's confidence
 * divided among them (Bonferroni), so the chance that anything fails for a V2 no worse than V1 stays within
 * 1 − confidence however many there are (a simulation test holds it to that).
 */
import { errorFunction, gammaln, median, wilcoxonRankSum } from 'simple-statistics';

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
  /** Two-sided level of the interval after the family's share (e.g. 0.996 for 0.95 over 12 decisions). */
  level: number;
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

/** The k-th smallest (1-based) of `sorted`, as the type-1 quantile q uses it: k = ceil(q n). */
export function orderIndex(n: number, q: number): number {
  return Math.min(n, Math.max(1, Math.ceil(q * n - 1e-9)));
}

/** The statistic as the interval uses it: the type-1 quantile (an order statistic, no interpolation). */
export function quantileOf(sorted: readonly number[], q: number): number {
  return sorted[orderIndex(sorted.length, q) - 1] as number;
}

/** log(i!) for i = 0…, grown on demand (gammaln from simple-statistics). */
const logFactorials: number[] = [0];
function logFactorial(i: number): number {
  while (logFactorials.length <= i) logFactorials.push(gammaln(logFactorials.length + 1));
  return logFactorials[i] as number;
}

/** P(Binomial(n, p) ≥ k), summed exactly in logs (n is a few hundred at most). */
function binomialTail(n: number, p: number, k: number): number {
  if (k <= 0) return 1;
  if (k > n || p <= 0) return 0;
  if (p >= 1) return 1;
  const logN = logFactorial(n);
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  let total = 0;
  for (let i = k; i <= n; i++) total += Math.exp(logN - logFactorial(i) - logFactorial(n - i) + i * lp + (n - i) * lq);
  return Math.min(1, total);
}

/**
 * The exact bootstrap distribution of the k-th order statistic: each distinct value of `sorted` with the
 * probability that a resample's k-th smallest is that value.
 */
export function bootstrapOrderStatistic(sorted: readonly number[], k: number): { value: number; p: number }[] {
  const n = sorted.length;
  const out: { value: number; p: number }[] = [];
  let below = 0; // P(X*(k) ≤ the previous distinct value)
  for (let j = 1; j <= n; j++) {
    if (j < n && sorted[j] === sorted[j - 1]) continue; // ties: the last index of a run of equal values
    const atMost = binomialTail(n, j / n, k);
    if (atMost - below > 0) out.push({ value: sorted[j - 1] as number, p: atMost - below });
    below = atMost;
  }
  return out;
}

/**
 * The interval of V2's statistic over V1's: the α and 1 − α quantiles of the ratio of two independent exact
 * bootstrap distributions (n₁ × n₂ atoms, a few thousand).
 */
export function ratioInterval(
  v1Sorted: readonly number[],
  v2Sorted: readonly number[],
  q: number,
  alpha: number,
): { low: number; high: number } {
  const a = bootstrapOrderStatistic(v1Sorted, orderIndex(v1Sorted.length, q));
  const b = bootstrapOrderStatistic(v2Sorted, orderIndex(v2Sorted.length, q));
  const atoms: { ratio: number; p: number }[] = [];
  for (const x of a) for (const y of b) atoms.push({ ratio: ratioOf(y.value, x.value), p: x.p * y.p });
  atoms.sort((x, y) => x.ratio - y.ratio);
  let cumulative = 0;
  let low = atoms[0]?.ratio ?? 1;
  let high = atoms[atoms.length - 1]?.ratio ?? 1;
  let lowSet = false;
  for (const atom of atoms) {
    cumulative += atom.p;
    if (!lowSet && cumulative >= alpha) {
      low = atom.ratio;
      lowSet = true;
    }
    if (cumulative >= 1 - alpha - 1e-12) {
      high = atom.ratio;
      break;
    }
  }
  return { low, high };
}

/** V2 / V1, defined everywhere: equal values (zeros too) are 1, a V2 above a zero V1 is infinite. */
function ratioOf(v2: number, v1: number): number {
  if (v2 === v1) return 1;
  if (v1 === 0) return v2 > 0 ? Number.POSITIVE_INFINITY : 0;
  return v2 / v1;
}

/** Median of all pairwise differences V2ⱼ − V1ᵢ. */
export function hodgesLehmann(v1: readonly number[], v2: readonly number[]): number {
  const differences: number[] = [];
  for (const x of v1) for (const y of v2) differences.push(y - x);
  return differences.length > 0 ? median(differences) : 0;
}

/** (#(V2 > V1) − #(V2 < V1)) / (n₁ n₂): 0 when they overlap evenly, ±1 when they do not overlap at all. */
export function cliffsDelta(v1: readonly number[], v2: readonly number[]): number {
  if (v1.length === 0 || v2.length === 0) return 0;
  let more = 0;
  let less = 0;
  for (const x of v1)
    for (const y of v2) {
      if (y > x) more++;
      else if (y < x) less++;
    }
  return (more - less) / (v1.length * v2.length);
}

/**
 * Mann-Whitney U's two-sided p-value by the normal approximation with the tie correction and a continuity
 * correction. All values tied (no spread to rank): 1, never NaN.
 */
export function mannWhitneyP(v1: readonly number[], v2: readonly number[]): number {
  const n1 = v1.length;
  const n2 = v2.length;
  if (n1 === 0 || n2 === 0) return 1;
  const rankSum = wilcoxonRankSum([...v1], [...v2]);
  const u = rankSum - (n1 * (n1 + 1)) / 2;
  const all = [...v1, ...v2].sort((a, b) => a - b);
  const n = n1 + n2;
  let ties = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && all[j + 1] === all[i]) j++;
    const t = j - i + 1;
    ties += t * t * t - t;
    i = j + 1;
  }
  const variance = ((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1)));
  if (!(variance > 0)) return 1;
  const z = (Math.abs(u - (n1 * n2) / 2) - 0.5) / Math.sqrt(variance);
  // 2 (1 − Φ(z)) = 1 − erf(z / √2); simple-statistics' Φ is a table that stops at z ≈ 3.
  return Math.min(1, Math.max(0, 1 - errorFunction(Math.max(0, z) / Math.SQRT2)));
}

/** How many decisions share the family's confidence: sizes × measures × 2 statistics × looks. */
export function familySize(settings: CompareSettings, groups: number): number {
  return groups * settings.measures.length * 2 * looks(settings).length;
}

/** The pair counts at which the verdict is taken: minRuns, then up to three more steps to maxRuns. */
export function looks(settings: Pick<CompareSettings, 'minRuns' | 'maxRuns'>): number[] {
  const { minRuns, maxRuns } = settings;
  if (maxRuns <= minRuns) return [minRuns];
  const step = Math.max(1, Math.ceil((maxRuns - minRuns) / 3));
  const out: number[] = [];
  for (let n = minRuns; n < maxRuns; n += step) out.push(n);
  out.push(maxRuns);
  return out;
}

/** One statistic of one measure: its ratio, interval at the family's share of confidence, and verdict. */
export function compareStatistic(
  measure: Measure,
  statistic: Statistic,
  v1: readonly number[],
  v2: readonly number[],
  settings: CompareSettings,
  family: number,
): RelativeComparison {
  const q = statistic === 'median' ? 0.5 : 0.95;
  const allowance = measure === 'latency' ? settings.maxSlowdown : settings.maxMemoryGrowth;
  const limit = 1 + allowance;
  // One-sided error per decision: a fail needs the low end past the limit, a pass the high end within it.
  const alpha = (1 - settings.confidence) / Math.max(1, family);
  const level = 1 - 2 * alpha;
  const a = v1.filter(Number.isFinite).sort((x, y) => x - y);
  const b = v2.filter(Number.isFinite).sort((x, y) => x - y);
  if (a.length === 0 || b.length === 0) {
    return {
      measure,
      statistic,
      pairs: Math.min(a.length, b.length),
      v1: Number.NaN,
      v2: Number.NaN,
      ratio: 1,
      low: 0,
      high: Number.POSITIVE_INFINITY,
      level,
      limit,
      hodgesLehmann: 0,
      cliffsDelta: 0,
      pValue: 1,
      verdict: 'inconclusive',
    };
  }
  const s1 = quantileOf(a, q);
  const s2 = quantileOf(b, q);
  const { low, high } = ratioInterval(a, b, q, alpha);
  const verdict: RelativeVerdict = low > limit ? 'fail' : high <= limit ? 'pass' : 'inconclusive';
  return {
    measure,
    statistic,
    pairs: Math.min(a.length, b.length),
    v1: s1,
    v2: s2,
    ratio: ratioOf(s2, s1),
    low,
    high,
    level,
    limit,
    hodgesLehmann: hodgesLehmann(a, b),
    cliffsDelta: cliffsDelta(a, b),
    pValue: mannWhitneyP(a, b),
    verdict,
  };
}

/** Samples of both versions at one size (or the sustained run): wall times in ms, peak RSS in MB. */
export interface PairedSamples {
  v1: { latency: number[]; memory: number[] };
  v2: { latency: number[]; memory: number[] };
}

/** Every comparison of one group of samples, and the group's verdict: any fail fails, all pass passes. */
export function compareGroup(
  samples: PairedSamples,
  settings: CompareSettings,
  family: number,
): { comparisons: RelativeComparison[]; verdict: RelativeVerdict } {
  const comparisons: RelativeComparison[] = [];
  for (const measure of settings.measures) {
    for (const statistic of ['median', 'p95'] as const) {
      comparisons.push(
        compareStatistic(measure, statistic, samples.v1[measure], samples.v2[measure], settings, family),
      );
    }
  }
  const verdict: RelativeVerdict = comparisons.some((c) => c.verdict === 'fail')
    ? 'fail'
    : comparisons.every((c) => c.verdict === 'pass')
      ? 'pass'
      : 'inconclusive';
  return { comparisons, verdict };
}

/** `1.12× [1.05, 1.20] at 99.6 %` */
export function describeComparison(c: RelativeComparison): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '∞');
  return `${c.measure} ${c.statistic} V2/V1 ${f(c.ratio)} [${f(c.low)}, ${f(c.high)}] at ${(c.level * 100).toFixed(2)} %, limit ${f(c.limit)}`;
}
