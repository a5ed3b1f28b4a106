/**
 * The phase table: every phase's module, in the order of `PHASES`. The mapped type makes a phase without a
 * module (or a module for no phase) a compile error, so the names stay written once, in status.ts.
 */
import type { Phase } from '../../shapes/phases';
import { PHASES } from '../../shapes/phases';
import type { PhaseModule } from './context';
import { decommission } from './decommission';
import { monitoring } from './monitoring';
import { production } from './production';
import { reconciliation } from './reconciliation';
import { rollbackRehearsal } from './rollback-rehearsal';
import { shadow } from './shadow';
import { signoff } from './signoff';
import { staging } from './staging';
import { stress } from './stress';

export type { PhaseContext, PhaseModule } from './context';

const MODULES: { readonly [P in Phase]: PhaseModule<P> } = {
  staging,
  shadow,
  stress,
  'rollback-rehearsal': rollbackRehearsal,
  signoff,
  production,
  monitoring,
  reconciliation,
  decommission,
};

/** The phases as the run loop takes them, in order. */
export const PHASE_TABLE: readonly PhaseModule<Phase>[] = PHASES.map((phase) => MODULES[phase]);
