/**
 * The relative stress verdict: is V2 slower or hungrier than V1, by how much, and how sure are we? Pure (no I/O),
 * so the stress activity, the simulation test and the reports compute the very same figures.
 *
 * Per measure (wall time, peak RSS) and statistic, the ratio V2 / V1 gets a confidence interval from an exact,
 * distribution-free rank test inverted over the ratio: for the median, Mann-Whitney on the logarithms (the
 * Moses interval around the Hodges-Lehmann shift); for the tail, the count of V2's runs among the pooled upper
 * fifth (hypergeometric), so a V2 with a fat tail fails even when the medians agree. Both need no seed: the same
 * samples always give the same interval on every worker.
 *
 * Why not the bootstrap: its percentile interval of an order statistic is too narrow at 10–40 runs. Measured
 * here, the p95's at 10 pairs was wrong 1.6 % of the time at a nominal 0.1 %, so a V2 no worse than V1 failed
 * 13 % of simulated phases; these rank tests are exact when the versions are alike, whatever the distribution.
 *
 * The two ways to be wrong are bounded apart. A false alarm (failing a V2 no worse than V1) is one decision of a
 * family: every size, measure and statistic, at every look of the sequential extension from `minRuns` to
 * `maxRuns` pairs; a fail needs the interval's low end past the limit at the family's confidence divided among
 * them (Bonferroni), so the chance that anything fails a V2 no worse than V1 stays within 1 − confidence however
 * many there are. A pass needs *every* comparison to pass (an intersection–union test, Berger 1982): passing a
 * worse V2 takes the one comparison it is worse in passing, so the high end is taken at the confidence divided
 * among the looks only. Dividing it among all 48 decisions too (as before) left a clearly faster V2 with a
 * heavy-tailed p95 inconclusive at 30 pairs on a busy machine, a false alarm by another name. The simulation
 * tests hold both: A/A false alarms, power, and a worse V2 never passing more often than 1 − confidence. simple-statistics gives ranks
 * (`wilcoxonRankSum`), `median`, `quantileSorted`, `gammaln` and `errorFunction`; the rest is written here.
 */
import { errorFunction, gammaln, median, quantileSorted, wilcoxonRankSum } from 'simple-statistics';
import type {
  CompareSettings,
  Measure,
  PairedSamples,
  RelativeComparison,
  RelativeVerdict,
  Statistic,
} from '../shapes/relative';

/** log(i!) for i = 0…, grown on demand (gammaln from simple-statistics). */
const logFactorials: number[] = [0];
function logFactorial(i: number): number {
  while (logFactorials.length <= i) logFactorials.push(gammaln(logFactorials.length + 1));
  return logFactorials[i] as number;
}

/** P(X ≥ k) for X hypergeometric: `draws` from `total` of which `marked` are marked. */
export function hypergeometricUpper(total: number, marked: number, draws: number, k: number): number {
  const lo = Math.max(0, draws - (total - marked));
  const hi = Math.min(draws, marked);
  if (k <= lo) return 1;
  if (k > hi) return 0;
  const logAll = logFactorial(total) - logFactorial(draws) - logFactorial(total - draws);
  let p = 0;
  for (let x = k; x <= hi; x++) {
    p += Math.exp(
      logFactorial(marked) -
        logFactorial(x) -
        logFactorial(marked - x) +
        logFactorial(total - marked) -
        logFactorial(draws - x) -
        logFactorial(total - marked - draws + x) -
        logAll,
    );
  }
  return Math.min(1, p);
}

/** Mann-Whitney U's exact null distribution (no ties) as cumulative probabilities, for small samples. */
const uDistributions = new Map<string, Float64Array>();
function uCdf(n1: number, n2: number): Float64Array | undefined {
  if (n1 * n2 > 4000) return undefined;
  const key = `${n1}x${n2}`;
  const cached = uDistributions.get(key);
  if (cached) return cached;
  // f[i][j][u]: the share of arrangements of i and j values with U = u, built by the usual recurrence.
  let previous: Float64Array[] = [];
  for (let i = 0; i <= n1; i++) {
    const row: Float64Array[] = [];
    for (let j = 0; j <= n2; j++) {
      const f = new Float64Array(i * j + 1);
      if (i === 0 || j === 0) f[0] = 1;
      else {
        const a = previous[j] as Float64Array; // (i − 1, j): the largest value is from sample 1, adding j
        const b = row[j - 1] as Float64Array; // (i, j − 1): it is from sample 2, adding nothing
        const pa = i / (i + j);
        for (let u = 0; u < a.length; u++) f[u + j] = (f[u + j] as number) + pa * (a[u] as number);
        for (let u = 0; u < b.length; u++) f[u] = (f[u] as number) + (1 - pa) * (b[u] as number);
      }
      row.push(f);
    }
    previous = row;
  }
  const pmf = previous[n2] as Float64Array;
  const cdf = new Float64Array(pmf.length);
  let total = 0;
  for (let u = 0; u < pmf.length; u++) cdf[u] = total += pmf[u] as number;
  uDistributions.set(key, cdf);
  return cdf;
}

/**
 * The largest k with P(U ≤ k − 1) ≤ α: the Moses interval's rank among the sorted pairwise differences.
 * Exact for small samples, the normal approximation (continuity corrected) beyond.
 */
function mosesRank(n1: number, n2: number, alpha: number): number {
  const cdf = uCdf(n1, n2);
  let k = 0;
  if (cdf) {
    while (k < cdf.length && (cdf[k] as number) <= alpha) k++;
    return k;
  }
  const mean = (n1 * n2) / 2;
  const sd = Math.sqrt((n1 * n2 * (n1 + n2 + 1)) / 12);
  // Φ⁻¹(α) by bisection on erf: α is small and this runs once per comparison.
  let lo = -40;
  let hi = 0;
  for (let it = 0; it < 100; it++) {
    const mid = (lo + hi) / 2;
    if (0.5 * (1 + errorFunction(mid / Math.SQRT2)) < alpha) lo = mid;
    else hi = mid;
  }
  return Math.max(0, Math.floor(mean + lo * sd + 0.5));
}

/**
 * The interval of V2 / V1 for the median: exp of the Moses interval of the shift of the logarithms (the set of
 * shifts Mann-Whitney does not reject at α on each side). Values of 0 are kept off the log by a floor.
 */
export function medianRatioInterval(
  v1: readonly number[],
  v2: readonly number[],
  alpha: number,
): { low: number; high: number } {
  const floor = Math.max(Number.MIN_VALUE, 1e-9 * Math.max(...v1, ...v2, 1));
  const lx = v1.map((x) => Math.log(Math.max(x, floor)));
  const ly = v2.map((y) => Math.log(Math.max(y, floor)));
  const differences = new Float64Array(lx.length * ly.length);
  let n = 0;
  for (const x of lx) for (const y of ly) differences[n++] = y - x;
  differences.sort();
  const k = mosesRank(lx.length, ly.length, alpha);
  if (k < 1) return { low: 0, high: Number.POSITIVE_INFINITY };
  return { low: Math.exp(differences[k - 1] as number), high: Math.exp(differences[n - k] as number) };
}

/**
 * How many of V2's values are in the pooled top `m`, where V1's values are scaled by `r`: at least, at most (ties).
 * `v1` and `v2` sorted ascending. The bisection of `tailRatioInterval` calls this about 250 times per interval, so
 * the threshold (the pooled m-th largest) comes from merging the two sorted samples from the top, without the
 * pooled array and its sort that it was once (a third of the simulations' time, measured with --cpu-prof).
 */
function upperCount(
  v1: readonly number[],
  v2: readonly number[],
  r: number,
  m: number,
): { least: number; most: number } {
  let i = v1.length - 1;
  let j = v2.length - 1;
  let threshold = Number.NaN;
  for (let taken = 0; taken < m; taken++) {
    const x = i >= 0 ? (v1[i] as number) * r : Number.NEGATIVE_INFINITY;
    const y = j >= 0 ? (v2[j] as number) : Number.NEGATIVE_INFINITY;
    if (x >= y) {
      threshold = x;
      i--;
    } else {
      threshold = y;
      j--;
    }
  }
  let v1Above = 0;
  let v1At = 0;
  for (const v of v1) {
    const scaled = v * r;
    if (scaled > threshold) v1Above++;
    else if (scaled === threshold) v1At++;
  }
  let v2Above = 0;
  let v2At = 0;
  for (const v of v2) {
    if (v > threshold) v2Above++;
    else if (v === threshold) v2At++;
  }
  const slots = m - v1Above - v2Above;
  // Ties at the threshold: V1's fill the slots first for "at least", V2's for "at most".
  return {
    least: v2Above + Math.max(0, slots - v1At),
    most: v2Above + Math.min(slots, v2At),
  };
}

/**
 * How many of the pooled top runs the tail count looks at: the upper fifth, or more where so few runs could
 * never be improbable enough at α (all of the top from one version must be able to reach it), up to the smaller
 * sample. With 8 + 8 runs at α = 0.08 % that is the top 7; with 40 + 40, the top 16.
 */
export function tailDepth(n1: number, n2: number, alpha: number): number {
  const total = n1 + n2;
  const logChoose = (n: number, k: number) => logFactorial(n) - logFactorial(k) - logFactorial(n - k);
  let m = Math.max(1, Math.ceil(0.2 * total));
  const most = Math.max(1, Math.min(n1, n2));
  while (m < most && Math.exp(Math.max(logChoose(n1, m), logChoose(n2, m)) - logChoose(total, m)) > alpha) m++;
  return Math.min(m, most);
}

/**
 * The interval of V2 / V1 for the tail: the scales r at which the count of V2's runs in the pooled upper fifth
 * (`tailDepth`; V1's scaled by r) is not improbably high nor low (hypergeometric, exact at α on each side). The count falls
 * as r grows, so each end is found by bisection on log r.
 */
export function tailRatioInterval(
  v1: readonly number[],
  v2: readonly number[],
  alpha: number,
): { low: number; high: number } {
  const n1 = v1.length;
  const n2 = v2.length;
  const total = n1 + n2;
  const m = tailDepth(n1, n2, alpha);
  const a = [...v1].sort((x, y) => x - y);
  const b = [...v2].sort((x, y) => x - y);
  // P(X ≥ k) depends on the count only: computed once per count, not once per step of the bisection.
  const upper = new Map<number, number>();
  const atLeast = (k: number) => {
    let p = upper.get(k);
    if (p === undefined) upper.set(k, (p = hypergeometricUpper(total, n2, m, k)));
    return p;
  };
  const tooHigh = (r: number) => atLeast(upperCount(a, b, r, m).least) <= alpha;
  const tooLow = (r: number) => 1 - atLeast(upperCount(a, b, r, m).most + 1) <= alpha;
  const positive = [...v1, ...v2].filter((v) => v > 0);
  if (positive.length === 0) return { low: 1, high: 1 };
  const span = Math.log(Math.max(...positive) / Math.min(...positive)) + 1;
  const search = (rejects: (r: number) => boolean, rejectsBelow: boolean): number => {
    // Rejection holds on one side of the bound: below it for the low end, above it for the high end.
    let lo = -span;
    let hi = span;
    if (rejectsBelow ? !rejects(Math.exp(lo)) : !rejects(Math.exp(hi)))
      return rejectsBelow ? 0 : Number.POSITIVE_INFINITY;
    if (rejectsBelow ? rejects(Math.exp(hi)) : rejects(Math.exp(lo)))
      return rejectsBelow ? Number.POSITIVE_INFINITY : 0;
    for (let it = 0; it < 60; it++) {
      const mid = (lo + hi) / 2;
      if (rejects(Math.exp(mid)) === rejectsBelow) lo = mid;
      else hi = mid;
    }
    return Math.exp(rejectsBelow ? hi : lo);
  };
  return { low: search(tooHigh, true), high: search(tooLow, false) };
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
  { measure, statistic }: { measure: Measure; statistic: Statistic },
  { v1, v2 }: { v1: readonly number[]; v2: readonly number[] },
  settings: CompareSettings,
  family: number,
): RelativeComparison {
  const q = statistic === 'median' ? 0.5 : 0.95;
  const allowance = measure === 'latency' ? settings.maxSlowdown : settings.maxMemoryGrowth;
  const limit = 1 + allowance;
  // One-sided error per decision: a fail needs the low end past the limit, a pass the high end within it.
  const alpha = (1 - settings.confidence) / Math.max(1, family);
  const level = 1 - 2 * alpha;
  // A pass is an intersection–union decision: its error is shared among the looks, not the comparisons.
  const passAlpha = Math.max(alpha, (1 - settings.confidence) / looks(settings).length);
  const passLevel = 1 - 2 * passAlpha;
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
      passLevel,
      limit,
      hodgesLehmann: 0,
      cliffsDelta: 0,
      pValue: 1,
      verdict: 'inconclusive',
    };
  }
  const s1 = quantileSorted(a, q);
  const s2 = quantileSorted(b, q);
  const interval = (at: number) =>
    statistic === 'median' ? medianRatioInterval(a, b, at) : tailRatioInterval(a, b, at);
  const failBounds = interval(alpha);
  const passBounds = passAlpha === alpha ? failBounds : interval(passAlpha);
  // All equal on both sides: nothing moved, whatever the ranks cannot say.
  const still = a[0] === a[a.length - 1] && b[0] === b[b.length - 1] && a[0] === b[0];
  const { low, high } = still ? { low: 1, high: 1 } : { low: failBounds.low, high: passBounds.high };
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
    passLevel,
    limit,
    hodgesLehmann: hodgesLehmann(a, b),
    cliffsDelta: cliffsDelta(a, b),
    pValue: mannWhitneyP(a, b),
    verdict,
  };
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
        compareStatistic(
          { measure, statistic },
          { v1: samples.v1[measure], v2: samples.v2[measure] },
          settings,
          family,
        ),
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

/** `latency median V2/V1 1.120 [1.050, 1.200] at 99.90 %/98.75 %, limit 1.100` */
export function describeComparison(c: RelativeComparison): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '∞');
  return `${c.measure} ${c.statistic} V2/V1 ${f(c.ratio)} [${f(c.low)}, ${f(c.high)}] at ${levels(c)}, limit ${f(c.limit)}`;
}

/** The interval's levels: `99.90 %` when both ends share one, else `99.90 %/98.75 %` (low end's/high end's). */
export function levels(c: Pick<RelativeComparison, 'level' | 'passLevel'>): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  return c.passLevel === undefined || c.passLevel === c.level ? pct(c.level) : `${pct(c.level)}/${pct(c.passLevel)}`;
}
