/**
 * The sign-off relay (`POST /cutovers/:id/signoff`): the form is checked (zod, the CSRF token, the roles the
 * login may sign for), then relayed as the `submitSignOff` update, attested with the app's ed25519 key over the
 * sign-off and the login's issuer and subject, and the gate's answer is shown. A form refused here is reported
 * to the cutover (attested) so that its audit holds the attempt too.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { attestSignOff, reportAppRefusal, UserError, type Cutovers } from '../lib/api';
import { MAX_COMMENT_LENGTH, submitSignOffUpdate, type SignOff, type SignOffAnswer } from '../workflows/messages';
import type { CutoverStatus } from '../shapes/status';
import type { ServeConfig } from './config';
import { addressedId, type CutoverReader } from './cutover-reader';
import { rolesFor, type Login, type RoleAnswer } from './identity';
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
  app.post('/cutovers/:id/signoff', { preHandler: app.csrfProtection }, async (req, reply) => {
    const login = options.sessions.require(req, reply);
    if (!login) return reply;
    const workflowId = addressedId(req, reply, login);
    if (workflowId === undefined) return reply;
    await new SignOffRelay(options, { req, reply, login, workflowId }).relay();
    return reply;
  });
}

/** One sign-off through the app: checked, attested, relayed, and the gate's answer shown. */
class SignOffRelay {
  // Server-Timing: where an approver's wait goes (the browser's devtools and the bench read it).
  private readonly t0 = performance.now();
  private queriedAt = 0;
  private updateAt = 0;
  private answeredAt = 0;
  /** The status, asked for at once; when the plan's approvers are known already, the update does not wait for it. */
  private readonly pending: Promise<{ value: CutoverStatus } | { error: unknown }>;
  private status: CutoverStatus | undefined;
  /** The page's script asks for the gate's section alone; a plain form post gets the whole page. */
  private readonly fragment: boolean;

  constructor(
    private readonly options: RelayOptions,
    private readonly request: { req: FastifyRequest; reply: FastifyReply; login: Login; workflowId: string },
  ) {
    this.pending = options.reader.quickStatus(request.workflowId).then(
      (value) => ((this.queriedAt = performance.now()), { value }),
      (error: unknown) => ((this.queriedAt = performance.now()), { error }),
    );
    this.fragment = request.req.headers['x-cutover-fragment'] === 'gate';
  }

  async relay(): Promise<void> {
    const { req, login, workflowId } = this.request;
    const known = this.options.reader.approvers.get(workflowId);
    if (!known && !(await this.current())) return;
    const s = this.status;
    const roles = known
      ? rolesFor(login, known.roleGroups, known.roles)
      : rolesFor(login, s!.roleGroups, s!.gate.roles);
    const form = signOffFormSchema.safeParse(req.body ?? {});
    if (!form.success) {
      const message = issueMessage(form.error);
      await this.refused(attemptOf(req.body), `a bad form: ${message}`);
      return this.page(400, roles, { kind: 'app', message });
    }
    const { role, decision, comment, evidenceDigest } = form.data;
    const allowed = roles.find((r) => r.role === role);
    if (!allowed || !allowed.may) {
      const why = allowed && !allowed.may ? allowed.why : `the plan has no role ${role}`;
      await this.refused({ role, decision }, why);
      return this.page(403, roles, { kind: 'app', message: `you cannot sign for ${role}: ${why}` });
    }
    const signOff = { role, approver: login.user, decision, ...(comment ? { comment } : {}) };
    const payload: SignOff = {
      ...signOff,
      evidenceDigest,
      attestation: attestSignOff(this.options.attester, { workflowId, digest: evidenceDigest }, signOff, {
        issuer: login.issuer,
        subject: login.subject,
      }),
    };
    this.updateAt = performance.now();
    let answer: SignOffAnswer;
    try {
      answer = await this.options.cutovers.client.workflow
        .getHandle(workflowId)
        .executeUpdate(submitSignOffUpdate, { args: [payload] });
    } catch (err) {
      const cause = (err as { cause?: Error }).cause;
      const message = (cause?.message ?? (err as Error).message).split('\n')[0] ?? 'refused';
      req.log.warn({ workflowId, role, decision, subject: login.subject, message }, 'sign-off not taken');
      return this.page(409, roles, { kind: 'app', message: `the cutover did not take the sign-off: ${message}` });
    }
    this.answeredAt = performance.now();
    req.log.info(
      { workflowId, role, decision, subject: login.subject, accepted: answer.accepted, rule: answer.rule },
      'sign-off relayed',
    );
    // The page shows the cutover as the gate's answer left it (the gate's view comes with the answer).
    await this.page(answer.accepted ? 200 : 409, roles, { kind: 'gate', decision, role, answer }, answer.gate);
  }

  /** The cutover's status, or a 404 page sent (and undefined) where there is no such cutover. */
  private async current(): Promise<CutoverStatus | undefined> {
    if (this.status) return this.status;
    const { reply, login } = this.request;
    const got = await this.pending;
    if ('value' in got) return (this.status = this.options.reader.remember(got.value));
    if (!(got.error instanceof UserError)) throw got.error;
    html(reply, 404, messagePage('No such cutover', got.error.message, this.options.sessions.viewer(reply, login)));
    return undefined;
  }

  /** The answer on the cutover's page (or its gate's section alone), as `gate` left it where the gate answered. */
  private async page(code: number, roles: RoleAnswer[], answer: Answer, gate?: CutoverStatus['gate']): Promise<void> {
    const { reply, login } = this.request;
    const s = await this.current();
    if (!s) return;
    const shown: CutoverStatus = gate ? { ...s, gate } : s;
    const roleAnswers = gate ? rolesFor(login, s.roleGroups, gate.roles) : roles;
    if (this.fragment) reply.header('x-cutover-fragment', 'gate');
    const timing = [`status;dur=${(this.queriedAt - this.t0).toFixed(1)}`];
    if (this.answeredAt) timing.push(`update;dur=${(this.answeredAt - this.updateAt).toFixed(1)}`);
    timing.push(`total;dur=${(performance.now() - this.t0).toFixed(1)}`);
    reply.header('server-timing', timing.join(', '));
    const viewer = this.options.sessions.viewer(reply, login);
    html(
      reply,
      code,
      this.fragment
        ? gateSection(shown, viewer, roleAnswers, answer)
        : cutoverPage(shown, viewer, { roles: roleAnswers, answer }),
    );
  }

  /**
   * Refused here, never relayed as a sign-off: reported to the cutover (attested) so that its audit holds the
   * attempt too, and kept in the app's log. A report that cannot be sent does not change the answer.
   */
  private async refused(attempt: { role: string; decision: string }, reason: string): Promise<void> {
    const { req, login, workflowId } = this.request;
    req.log.warn(
      { workflowId, ...attempt, issuer: login.issuer, subject: login.subject, user: login.user, reason },
      'sign-off refused by the approval app',
    );
    const refusal = { ...attempt, user: login.user, reason };
    await reportAppRefusal(
      this.options.cutovers,
      { attester: this.options.attester, login: login },
      workflowId,
      refusal,
    ).catch((err: unknown) =>
      req.log.warn({ workflowId, err: (err as Error).message }, 'refusal not reported to the cutover'),
    );
  }
}

/** The role and decision a refused form named, as short strings ('' where it named none or something else). */
function attemptOf(body: unknown): { role: string; decision: string } {
  const field = (name: string) => {
    const value = body && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
    return typeof value === 'string' ? value.slice(0, 100) : '';
  };
  return { role: field('role'), decision: field('decision').slice(0, 20) };
}
