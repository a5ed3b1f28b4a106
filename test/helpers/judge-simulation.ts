/**
 * The relative judge's simulation: whole stress phases (the example's three sizes, every measure and statistic,
 * the sequential looks to maxRuns) on seeded samples, and the rate at which they end as counted, printed.
 */
import { prng } from '../../examples/portfolio-kpi/generate';
import { compareGroup, familySize, looks } from '../../verdicts/relative';
import type { CompareSettings, PairedSamples, RelativeComparison } from '../../shapes/relative';
import type { Draw } from './judge-samples';

const TRIALS = 1000;
const GROUPS = 3; // the example's three stress sizes

export interface PhaseOutcome {
  verdict: 'pass' | 'fail' | 'inconclusive';
  failed: RelativeComparison[];
  comparisons: RelativeComparison[];
}

/** One phase: GROUPS sizes, each measured pair by pair, judged at every look until decided or at maxRuns. */
function simulatePhase(
  random: () => number,
  draw: { v1: Draw; v2: Draw; memoryV1?: Draw; memoryV2?: Draw },
  settings: CompareSettings,
): PhaseOutcome {
  const family = familySize(settings, GROUPS);
  const failed: RelativeComparison[] = [];
  const all: RelativeComparison[] = [];
  let verdict: PhaseOutcome['verdict'] = 'pass';
  for (let g = 0; g < GROUPS; g++) {
    const samples: PairedSamples = { v1: { latency: [], memory: [] }, v2: { latency: [], memory: [] } };
    for (let i = 0; i < settings.maxRuns; i++) {
      samples.v1.latency.push(draw.v1(random));
      samples.v2.latency.push(draw.v2(random));
      samples.v1.memory.push((draw.memoryV1 ?? draw.v1)(random));
      samples.v2.memory.push((draw.memoryV2 ?? draw.v1)(random));
    }
    let group: ReturnType<typeof compareGroup> | undefined;
    for (const n of looks(settings)) {
      const cut = (side: PairedSamples['v1']) => ({
        latency: side.latency.slice(0, n),
        memory: side.memory.slice(0, n),
      });
      group = compareGroup({ v1: cut(samples.v1), v2: cut(samples.v2) }, settings, family);
      if (group.verdict !== 'inconclusive') break;
    }
    const result = group as ReturnType<typeof compareGroup>;
    all.push(...result.comparisons);
    failed.push(...result.comparisons.filter((c) => c.verdict === 'fail'));
    if (result.verdict === 'fail') verdict = 'fail';
    else if (result.verdict === 'inconclusive' && verdict === 'pass') verdict = 'inconclusive';
  }
  return { verdict, failed, comparisons: all };
}

export function rate(
  name: string,
  draw: Parameters<typeof simulatePhase>[1],
  settings: CompareSettings,
  seed: number,
  counts: (o: PhaseOutcome) => boolean = (o) => o.verdict === 'fail',
): number {
  const random = prng(seed);
  let hits = 0;
  let inconclusive = 0;
  for (let t = 0; t < TRIALS; t++) {
    const outcome = simulatePhase(random, draw, settings);
    for (const c of outcome.comparisons) {
      for (const v of [c.ratio, c.low, c.high, c.pValue, c.cliffsDelta, c.hodgesLehmann]) {
        if (Number.isNaN(v)) throw new Error(`${name}: NaN in ${JSON.stringify(c)}`);
      }
    }
    if (counts(outcome)) hits++;
    if (outcome.verdict === 'inconclusive') inconclusive++;
  }
  const r = hits / TRIALS;
  process.stdout.write(
    `relative judge, ${name}: ${(r * 100).toFixed(1)} % of ${TRIALS} trials (inconclusive ${((inconclusive / TRIALS) * 100).toFixed(1)} %)\n`,
  );
  return r;
}
