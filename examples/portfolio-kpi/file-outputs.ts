/**
 * The example plan as a test or a bench that runs many example cutovers at once uses it, when its subject is not
 * the warehouse: V1's tables in files again ({output:NAME}, Parquet like V2's). Cutovers sharing one warehouse
 * would share V1's tables (a real pipeline's, one run at a time), and each would diff the last one's rows.
 */
import { planSchema, type CutoverPlan } from '../../plan/schema';
import { LEGACY_TABLES } from './warehouse';

export function withFileOutputs(plan: CutoverPlan): CutoverPlan {
  const byTarget = new Map(Object.entries(LEGACY_TABLES).map(([output, table]) => [`postgres:${table}`, output]));
  const run = plan.baseline.run.map((arg) => (byTarget.has(arg) ? `{output:${byTarget.get(arg)}}` : arg));
  const outputs = Object.fromEntries(
    Object.entries(plan.shadow.outputs).map(([name, spec]) => {
      const { v1: _v1, ...rest } = spec;
      return [name, rest];
    }),
  );
  return planSchema.parse({ ...plan, baseline: { ...plan.baseline, run }, shadow: { ...plan.shadow, outputs } });
}
