/** rollback-rehearsal: the rollback, timed on staging against its target, and every trigger shown to fire. */
import { long } from '../proxies';
import type { PhaseModule } from './context';

export const rollbackRehearsal: PhaseModule<'rollback-rehearsal'> = {
  phase: 'rollback-rehearsal',
  // The evidence key predates the phase table; it is part of every evidence digest ever signed.
  evidenceKey: 'rehearsal',
  keepsEvidenceOnFailure: true,
  async run(ctx) {
    const result = await ctx.routed('rollback rehearsal', (route) =>
      long.rehearseRollback.executeWithOptions({ ...route, summary: 'rehearse rollback on staging' }, [
        { ...ctx.identity('rollback-rehearsal'), plan: ctx.plan },
      ]),
    );
    return {
      result,
      verdict: `rollback took ${(result.durationMs / 1000).toFixed(1)} s of ${(result.targetMs / 1000).toFixed(0)} s; every trigger fires`,
    };
  },
};
