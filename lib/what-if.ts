/**
 * `cutover what-if`: the recorded evidence of cutovers, judged again under another plan. It reads histories
 * (the cutover's and its monitor's), never signals, starts or changes anything, and judges with the very
 * functions the activities judge with (verdicts/), so it cannot disagree with a real run on the same figures.
 * Where the evidence lacks what a new check needs (rows a diff did not keep, pairs a comparison did not
 * measure), it says so instead of guessing. Each phase's judgement is its row of the phase views (phase-views.ts).
 */
import type { Calendar } from '../plan/calendar';
import type { CutoverPlan } from '../plan/schema';
import { PHASES, type Phase } from '../shapes/phases';
import { recordedRuns, type Recorded } from '../verdicts/recorded';
import { PHASE_VIEWS, type Judgement, type WhatIfContext } from './phase-views';

export interface WhatIfResult {
  workflowId: string;
  /** The verdicts that would change: before → after, with the figure and the limit. */
  changes: Judgement[];
  /** Checks judged again whose verdict holds. */
  unchanged: number;
  /** What the evidence could not say under the new plan. */
  notes: string[];
}

/**
 * The recorded evidence, judged under `plan` and under the plan it ran with; every verdict that differs. With
 * `calendar` (a policy's calendar for the release, `--policy`), and the plan's `production.window`, also when the
 * production deploy would have gone ahead.
 */
export function whatIf(recorded: Recorded, plan: CutoverPlan, calendar?: Calendar): WhatIfResult {
  const out: WhatIfResult = { workflowId: recorded.workflowId, changes: [], unchanged: 0, notes: [] };
  if (!recorded.plan) out.notes.push('no plan in the history: nothing to judge against');
  const shared = {
    recorded,
    plan,
    ...(recorded.plan ? { before: recorded.plan } : {}),
    ...(calendar ? { calendar } : {}),
    judge: (judgement: Judgement) => {
      if (judgement.before === judgement.after) out.unchanged++;
      else out.changes.push(judgement);
    },
    note: (text: string) => out.notes.push(text),
  };
  for (const phase of PHASES) judgePhase(phase, shared);
  return out;
}

function judgePhase<P extends Phase>(phase: P, shared: Omit<WhatIfContext<P>, 'runs'>): void {
  const whatIf = PHASE_VIEWS[phase].whatIf as ((ctx: WhatIfContext<P>) => void) | undefined;
  const runs = (
    phase in shared.recorded.phases ? recordedRuns(shared.recorded, phase as never) : []
  ) as WhatIfContext<P>['runs'];
  whatIf?.({ ...shared, runs });
}
