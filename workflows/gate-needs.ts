/**
 * Roles the gate needs only when the evidence shows something (`signoff.requiredWhen`): a broken model contract, an
 * exposure downstream of a changed model, a noisy model. Found in the shadow's evidence when the gate opens, kept in
 * the gate's state (so the record's recount finds the same), and shown with the reason. Pure: workflow code.
 */
import { CONDITION_TEXT, type SignoffCondition } from '../plan/conditions';
import type { ModelReport } from '../shapes/evidence';

/** The models of the shadow's evidence that show each condition, by name. */
function modelsShowing(evidence: Record<string, unknown>): Record<SignoffCondition, string[]> {
  const shadow = evidence.shadow as { datasets?: { models?: ModelReport[] }[] } | undefined;
  const models = (shadow?.datasets ?? []).flatMap((d) => d.models ?? []);
  const named = (keep: (m: ModelReport) => boolean) => [...new Set(models.filter(keep).map((m) => m.model))].sort();
  return {
    contractBroken: named((m) => m.contractBroken.length > 0),
    exposureAffected: named((m) => m.downstream.exposures.length > 0),
    noisy: named((m) => m.noise !== undefined),
  };
}

/**
 * Per conditional role, why the gate needs it for this evidence (`a contract broken: customers`); an empty list: it
 * does not, and its quorum is none. Undefined when the plan has no conditional role.
 */
export function neededBecause(
  requiredWhen: Record<string, readonly SignoffCondition[]> | undefined,
  evidence: Record<string, unknown>,
): Record<string, string[]> | undefined {
  if (!requiredWhen || Object.keys(requiredWhen).length === 0) return undefined;
  const showing = modelsShowing(evidence);
  return Object.fromEntries(
    Object.entries(requiredWhen).map(([role, conditions]) => [
      role,
      conditions.filter((c) => showing[c].length > 0).map((c) => `${CONDITION_TEXT[c]}: ${showing[c].join(', ')}`),
    ]),
  );
}
