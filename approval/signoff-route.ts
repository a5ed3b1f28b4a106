/**
 * The sign-off relay (`POST /cutovers/:id/signoff`): the form is checked (zod, the CSRF token, the roles the
 * login may sign for), then relayed as the `submitSignOff` update, attested with the app's ed25519 key over the
 * sign-off and the login's issuer and subject, and the gate's answer is shown. A form refused here is reported
 * to the cutover (attested) so that its audit holds the attempt too.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { attestSignOff, reportAppRefusal, UserError, type Cutovers } from '../lib/api';
import { MAX_COMMENT_LENGTH, submitSignOffUpdate, type SignOff, type SignOffAnswer } from '../workflows/messages';
import type { CutoverStatus } from '../shapes/status';
import type { ServeConfig } from './config';
import { addressedId, type CutoverReader } from './cutover-reader';
import { rolesFor } from './identity';
import { cutoverPage, gateSection, messagePage, type Answer } from './pages';
import { html, issueMessage, type Sessions } from './session';

export const signOffFormSchema = z.object({
  _csrf: z.string().min(1),
  role: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, { error: 'expected a role of the plan' }),
  decision: z.enum(['approve', 'reject'], { error: 'expected approve or reject' }),
  comment: z
    .string()
    .max(MAX_COMMENT_LENGTH, { error: `expected at most ${MAX_COMMENT_LENGTH} characters` })
    .optional()
    .transform((c) => (c?.trim() ? c.trim() : undefined)),
  evidenceDigest: z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected the 64-character evidence digest' }),
});

/** What a relay of the app (a sign-off, a break-glass) works with. */
export interface RelayOptions {
  sessions: Sessions;
  cutovers: Cutovers;
  reader: CutoverReader;
  attester: ServeConfig['attester'];
}

export async function signOffRoute(app: FastifyInstance, options: RelayOptions): Promise<void> {
  const { sessions, cutovers: c, reader } = options;
  app.post('/cutovers/:id/signoff', { preHandler: app.csrfProtection }, async (req, reply) => {
    const login = sessions.require(req, reply);
    if (!login) return reply;
    const workflowId = addressedId(req, reply, login);
    if (workflowId === undefined) return reply;
    // Server-Timing: where an approver's wait goes (the browser's devtools and the bench read it).
    const t0 = performance.now();
    let queriedAt = 0;
    let updateAt = 0;
    let answeredAt = 0;
    // The status is asked for at once; when the plan's approvers are known already (they never change in
    // a run), the update does not wait for it.
    const pending = reader.quickStatus(workflowId).then(
      (value) => ((queriedAt = performance.now()), { value }),
      (error: unknown) => ((queriedAt = performance.now()), { error }),
    );
    const current = async (): Promise<CutoverStatus | undefined> => {
      const got = await pending;
      if ('value' in got) return reader.remember(got.value);
      if (!(got.error instanceof UserError)) throw got.error;
      html(reply, 404, messagePage('No such cutover', got.error.message, sessions.viewer(reply, login)));
      return undefined;
    };
    const known = reader.approvers.get(workflowId);
    let s = known ? undefined : await current();
    if (!known && !s) return reply;
    const roles = known
      ? rolesFor(login, known.roleGroups, known.roles)
      : rolesFor(login, s!.roleGroups, s!.gate.roles);
    // The page's script asks for the gate's section alone; a plain form post gets the whole page.
    const fragment = req.headers['x-cutover-fragment'] === 'gate';
    const page = async (code: number, answer: Answer, gate?: CutoverStatus['gate']) => {
      s ??= await current();
      if (!s) return reply;
      const shown: CutoverStatus = gate ? { ...s, gate } : s;
      const roleAnswers = gate ? rolesFor(login, s.roleGroups, gate.roles) : roles;
      if (fragment) reply.header('x-cutover-fragment', 'gate');
      const timing = [`status;dur=${(queriedAt - t0).toFixed(1)}`];
      if (answeredAt) timing.push(`update;dur=${(answeredAt - updateAt).toFixed(1)}`);
      timing.push(`total;dur=${(performance.now() - t0).toFixed(1)}`);
      reply.header('server-timing', timing.join(', '));
      return html(
        reply,
        code,
        fragment
          ? gateSection(shown, sessions.viewer(reply, login), roleAnswers, answer)
          : cutoverPage(shown, sessions.viewer(reply, login), { roles: roleAnswers, answer }),
      );
    };
    // Refused here, never relayed as a sign-off: reported to the cutover (attested) so that its audit holds the
    // attempt too, and kept in the app's log. A report that cannot be sent does not change the answer.
    const refused = async (attempt: { role: string; decision: string }, reason: string) => {
      req.log.warn(
        { workflowId, ...attempt, issuer: login.issuer, subject: login.subject, user: login.user, reason },
        'sign-off refused by the approval app',
      );
      await reportAppRefusal(c, options.attester, workflowId, { ...attempt, user: login.user, reason }, login).catch(
        (err: unknown) =>
          req.log.warn({ workflowId, err: (err as Error).message }, 'refusal not reported to the cutover'),
      );
    };
    const form = signOffFormSchema.safeParse(req.body ?? {});
    if (!form.success) {
      const message = issueMessage(form.error);
      await refused(attemptOf(req.body), `a bad form: ${message}`);
      return page(400, { kind: 'app', message });
    }
    const { role, decision, comment, evidenceDigest } = form.data;
    const allowed = roles.find((r) => r.role === role);
    if (!allowed || !allowed.may) {
      const why = allowed && !allowed.may ? allowed.why : `the plan has no role ${role}`;
      await refused({ role, decision }, why);
      return page(403, { kind: 'app', message: `you cannot sign for ${role}: ${why}` });
    }
    const signOff = { role, approver: login.user, decision, ...(comment ? { comment } : {}) };
    const payload: SignOff = {
      ...signOff,
      evidenceDigest,
      attestation: attestSignOff(options.attester, workflowId, signOff, evidenceDigest, {
        issuer: login.issuer,
        subject: login.subject,
      }),
    };
    updateAt = performance.now();
    let answer: SignOffAnswer;
    try {
      answer = await c.client.workflow.getHandle(workflowId).executeUpdate(submitSignOffUpdate, { args: [payload] });
    } catch (err) {
      const cause = (err as { cause?: Error }).cause;
      const message = (cause?.message ?? (err as Error).message).split('\n')[0] ?? 'refused';
      req.log.warn({ workflowId, role, decision, subject: login.subject, message }, 'sign-off not taken');
      return page(409, { kind: 'app', message: `the cutover did not take the sign-off: ${message}` });
    }
    answeredAt = performance.now();
    req.log.info(
      { workflowId, role, decision, subject: login.subject, accepted: answer.accepted, rule: answer.rule },
      'sign-off relayed',
    );
    // The page shows the cutover as the gate's answer left it (the gate's view comes with the answer).
    await page(answer.accepted ? 200 : 409, { kind: 'gate', decision, role, answer }, answer.gate);
    return reply;
  });
}

/** The role and decision a refused form named, as short strings ('' where it named none or something else). */
function attemptOf(body: unknown): { role: string; decision: string } {
  const field = (name: string) => {
    const value = body && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
    return typeof value === 'string' ? value.slice(0, 100) : '';
  };
  return { role: field('role'), decision: field('decision').slice(0, 20) };
}
