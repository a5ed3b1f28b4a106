/**
 * The break-glass relay (`POST /cutovers/:id/break-glass`): while a change to production waits for the calendar
 * and the workers' policy names a break-glass role, the form is checked (zod, the CSRF token, the roles the login
 * holds: the policy's role by its groups and names, or a role of the plan as the second person), then relayed as
 * the `submitBreakGlass` update, attested with the app's key over the cutover, the change, the role, the person,
 * the evidence, the reason and the login, and the cutover's answer is shown with the page. A form refused here
 * is reported to the cutover (attested), as a refused sign-off is.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { attestBreakGlass, reportAppRefusal } from '../lib/api';
import { MAX_COMMENT_LENGTH, submitBreakGlassUpdate, type BreakGlassAnswer } from '../workflows/messages';
import { addressedId } from './cutover-reader';
import type { RelayOptions } from './signoff-route';
import { glassRolesFor, rolesFor } from './identity';
import { cutoverPage, type Answer } from './pages';
import { html, issueMessage } from './session';

export const breakGlassFormSchema = z.object({
  _csrf: z.string().min(1),
  role: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, { error: 'expected a role' }),
  reason: z
    .string()
    .trim()
    .min(1, { error: 'a break-glass needs a reason' })
    .max(MAX_COMMENT_LENGTH, { error: `expected at most ${MAX_COMMENT_LENGTH} characters` }),
  change: z.enum(['production', 'decommission'], { error: 'expected the change that waits' }),
  evidenceDigest: z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected the 64-character evidence digest' }),
});

export async function breakGlassRoute(app: FastifyInstance, options: RelayOptions): Promise<void> {
  const { sessions, cutovers: c, reader } = options;
  app.post('/cutovers/:id/break-glass', { preHandler: app.csrfProtection }, async (req, reply) => {
    const login = sessions.require(req, reply);
    if (!login) return reply;
    const workflowId = addressedId(req, reply, login);
    if (workflowId === undefined) return reply;
    const s = await reader.quickStatus(workflowId);
    const page = (code: number, answer: Answer, shown = s) =>
      html(
        reply,
        code,
        cutoverPage(shown, sessions.viewer(reply, login), {
          roles: rolesFor(login, shown.roleGroups, shown.gate.roles),
          answer,
        }),
      );
    const form = breakGlassFormSchema.safeParse(req.body ?? {});
    if (!form.success) return page(400, { kind: 'app', message: issueMessage(form.error), glass: true });
    const { role, reason, change, evidenceDigest } = form.data;
    const allowed = glassRolesFor(login, s).find((r) => r.role === role);
    if (!allowed || !allowed.may) {
      const why = allowed && !allowed.may ? allowed.why : `${role} may not break the glass here`;
      req.log.warn({ workflowId, role, subject: login.subject, why }, 'break-glass refused by the approval app');
      // Reported to the cutover (attested), so that its audit holds the attempt, as a refused sign-off's.
      await reportAppRefusal(c, { attester: options.attester, login: login }, workflowId, {
        role,
        decision: 'break-glass',
        user: login.user,
        reason: why,
      }).catch((err: unknown) =>
        req.log.warn({ workflowId, err: (err as Error).message }, 'refusal not reported to the cutover'),
      );
      return page(403, { kind: 'app', message: `you cannot break the glass as ${role}: ${why}`, glass: true });
    }
    const request = { role, approver: login.user, reason };
    const attestation = attestBreakGlass(options.attester, { workflowId, change, digest: evidenceDigest }, request, {
      issuer: login.issuer,
      subject: login.subject,
    });
    let answer: BreakGlassAnswer;
    try {
      answer = await c.client.workflow
        .getHandle(workflowId)
        .executeUpdate(submitBreakGlassUpdate, { args: [{ ...request, evidenceDigest, attestation }] });
    } catch (err) {
      const cause = (err as { cause?: Error }).cause;
      const message = (cause?.message ?? (err as Error).message).split('\n')[0] ?? 'refused';
      return page(409, { kind: 'app', message: `the cutover did not take the break-glass: ${message}`, glass: true });
    }
    req.log.warn(
      { workflowId, role, subject: login.subject, accepted: answer.accepted, rule: answer.rule, broken: answer.broken },
      'break-glass relayed',
    );
    return page(answer.accepted ? 200 : 409, { kind: 'glass', role, answer }, await reader.quickStatus(workflowId));
  });
}
