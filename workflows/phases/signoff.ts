/** signoff: the gate opens on the digest of the evidence so far and waits for every role's decision. */
import { evidenceDigest } from '../digest';
import type { PhaseModule } from './context';

export const signoff: PhaseModule<'signoff'> = {
  phase: 'signoff',
  async run(ctx) {
    const digest = evidenceDigest(ctx.evidence);
    ctx.books.status.evidenceDigest = digest;
    const escalation = ctx.plan.signoff.escalate;
    await ctx.gate.awaitDecision(
      digest,
      ctx.plan.signoff,
      escalation ? () => ctx.step('escalate', escalation) : undefined,
      ctx.evidence,
    );
    return { result: ctx.gate.view(), verdict: `approved by ${ctx.gate.approversOf(digest).join(', ')}` };
  },
};
