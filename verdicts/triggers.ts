/**
 * Production rollback triggers. One pure function decides whether a probe sample breaches a trigger; the
 * production monitor and the rollback rehearsal (which feeds it synthetic breaching samples) both use it.
 */
import type { TRIGGER_NAMES, Triggers } from '../plan/schema';
import type { Breach, Metrics, TriggerCheck } from '../shapes/evidence';

export interface ProbeSample {
  ok: boolean;
  errorRate?: number;
  metrics?: Metrics;
}

/** Largest relative move of any reference KPI; Infinity when one is missing. */
export function maxDrift(reference: Metrics, metrics: Metrics): { drift: number; metric?: string } {
  let worst = { drift: 0 } as { drift: number; metric?: string };
  for (const [metric, ref] of Object.entries(reference)) {
    const value = metrics[metric];
    let drift: number;
    if (value === undefined || !Number.isFinite(value)) drift = Number.POSITIVE_INFINITY;
    else if (ref === 0) drift = Math.abs(value);
    else drift = Math.abs(value - ref) / Math.abs(ref);
    if (drift > worst.drift || worst.metric === undefined) worst = { drift, metric };
  }
  return worst;
}

/**
 * @param consecutiveFailures failed probes in a row, this one included
 * @returns the first breach, in the order failedProbes, errorRate, kpiDrift; a breach of a dry-run trigger
 *   comes back as `wouldBreach` (it would have rolled back), and the triggers after it are still judged
 */
export function evaluateTriggers(
  triggers: Triggers,
  sample: ProbeSample,
  reference: Metrics | undefined,
  consecutiveFailures: number,
): { breach?: Breach; wouldBreach?: Breach; maxDrift?: number } {
  const dry = new Set(triggers.dryRun ?? []);
  const out: { breach?: Breach; wouldBreach?: Breach; maxDrift?: number } = {};
  const found = (b: Breach): boolean => {
    if (dry.has(b.trigger as (typeof TRIGGER_NAMES)[number])) {
      out.wouldBreach ??= b;
      return false;
    }
    out.breach = b;
    return true;
  };
  if (!sample.ok) {
    if (triggers.failedProbes !== undefined && consecutiveFailures >= triggers.failedProbes) {
      found({
        trigger: 'failedProbes',
        detail: `${consecutiveFailures} failed probe(s) in a row (limit ${triggers.failedProbes})`,
      });
    }
    return out;
  }
  if (triggers.errorRate !== undefined && sample.errorRate !== undefined && sample.errorRate > triggers.errorRate) {
    if (found({ trigger: 'errorRate', detail: `error rate ${sample.errorRate} > ${triggers.errorRate}` })) return out;
  }
  if (reference && sample.metrics) {
    const { drift, metric } = maxDrift(reference, sample.metrics);
    out.maxDrift = drift;
    if (triggers.kpiDrift !== undefined && drift > triggers.kpiDrift) {
      found({
        trigger: 'kpiDrift',
        detail: `${metric} moved ${drift === Infinity ? '(missing)' : drift.toPrecision(4)} from its reference (limit ${triggers.kpiDrift})`,
      });
    }
  }
  return out;
}

/**
 * Feeds each configured trigger a sample that must breach it, and a healthy sample that must not: proof,
 * before production, that the rollback triggers really fire.
 */
export function rehearseTriggers(triggers: Triggers, reference: Metrics): TriggerCheck[] {
  const checks: TriggerCheck[] = [];
  const healthy = evaluateTriggers(triggers, { ok: true, errorRate: 0, metrics: reference }, reference, 0);
  const quiet = !healthy.breach && !healthy.wouldBreach;
  // A dry-run trigger is rehearsed too: it must say it would have rolled back.
  const fired = (r: ReturnType<typeof evaluateTriggers>, trigger: TriggerCheck['trigger']) => {
    const hit =
      r.breach?.trigger === trigger ? r.breach : r.wouldBreach?.trigger === trigger ? r.wouldBreach : undefined;
    return { fired: hit !== undefined && quiet, detail: hit?.detail ?? 'did not fire' };
  };
  if (triggers.failedProbes !== undefined) {
    const r = evaluateTriggers(triggers, { ok: false }, reference, triggers.failedProbes);
    checks.push({ trigger: 'failedProbes', ...fired(r, 'failedProbes') });
  }
  if (triggers.errorRate !== undefined) {
    const rate = Math.min(1, triggers.errorRate * 2 + 0.001);
    const r = evaluateTriggers(triggers, { ok: true, errorRate: rate, metrics: reference }, reference, 0);
    checks.push({ trigger: 'errorRate', ...fired(r, 'errorRate') });
  }
  if (triggers.kpiDrift !== undefined) {
    const [metric, value] = Object.entries(reference)[0] ?? ['synthetic', 1];
    const moved = {
      ...reference,
      [metric]: value === 0 ? triggers.kpiDrift * 2 + 1 : value * (1 + triggers.kpiDrift * 2 + 0.01),
    };
    const r = evaluateTriggers(triggers, { ok: true, errorRate: 0, metrics: moved }, reference, 0);
    checks.push({ trigger: 'kpiDrift', ...fired(r, 'kpiDrift') });
  }
  return checks;
}
