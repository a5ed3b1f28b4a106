/**
 * `cutover serve`: the approval web app. Approvers sign in at the organisation's OpenID provider, see a
 * cutover's evidence and sign off; the app relays each sign-off as the `submitSignOff` update, attested with
 * its own ed25519 key over the sign-off and the login's issuer and subject, and shows the gate's answer.
 *
 * Sessions live in signed, HttpOnly, SameSite=Strict cookies (Secure when the app's address is https);
 * every form carries a CSRF token tied to the login (`@fastify/csrf-protection`); every input is checked with
 * zod. The login's round trip keeps its state, nonce and PKCE verifier in a SameSite=Lax cookie: the
 * provider's redirect back is a cross-site navigation, which a Strict cookie would not survive.
 */
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import { WorkflowNotFoundError } from '@temporalio/client';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type pino from 'pino';
import { z } from 'zod';
import { attestSignOff, list, reportAppRefusal, status, UserError, type Cutovers } from '../client/api';
import { chartJsSource } from '../client/html-report';
import {
  MAX_COMMENT_LENGTH,
  statusQuery,
  submitSignOffUpdate,
  type SignOff,
  type SignOffAnswer,
} from '../workflows/messages';
import { isFinal, type CutoverStatus, type RoleView } from '../shapes/status';
import type { ServeConfig } from './config';
import { rolesFor, type Login } from './identity';
import type { LoginTransaction, OidcLogin } from './oidc';
import { esc } from '../common/html';
import { cutoverPage, gateSection, liveVersion, listPage, messagePage, type Answer } from './pages';

const SESSION_COOKIE = 'cutover_session';
const LOGIN_COOKIE = 'cutover_login';
const SESSION_HOURS = 8;
/** The session cookie's value at most, leaving room for its name, signature and attributes in 4,096 bytes. */
const MAX_SESSION_COOKIE = 3_800;

const sessionSchema = z.object({
  issuer: z.string().min(1),
  subject: z.string().min(1),
  user: z.string().min(1),
  groups: z.array(z.string()),
  name: z.string().optional(),
  expiresAt: z.number(),
});
const transactionSchema = z.object({
  state: z.string().min(1),
  nonce: z.string().min(1),
  verifier: z.string().min(1),
  returnTo: z.string(),
  expiresAt: z.number(),
});

const workflowIdSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, { error: 'expected a workflow id (printable characters, no spaces)' });

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

/** A safe place to return to after the login: one of the app's own paths. */
function ownPath(value: unknown): string {
  return typeof value === 'string' && /^\/(?!\/)[\x21-\x7e]*$/.test(value) && !value.includes('\\') ? value : '/';
}

function issueMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue?.path.join('.') || 'form'}: ${issue?.message ?? 'invalid'}`;
}

export interface ApprovalApp {
  app: FastifyInstance;
  /** Listens, discovers the OpenID provider, and returns the address approvers reach the app at. */
  listen(): Promise<string>;
  /** The address approvers reach the app at, without a trailing slash (after listen()). */
  readonly url: string;
  close(): Promise<void>;
}

export async function createApprovalApp(options: {
  config: ServeConfig;
  cutovers: Cutovers;
  logger: pino.Logger;
  /** Made once the app knows its address (the redirect URI includes it). */
  login: (redirectUri: string) => Promise<OidcLogin>;
}): Promise<ApprovalApp> {
  const { config, cutovers: c } = options;
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
  });
  await app.register(fastifyCookie, { secret: config.sessionSecret });
  await app.register(fastifyFormbody);
  // Secure cookies need the address before listening; set below once known.
  let secure = config.publicUrl?.startsWith('https:') ?? false;
  await app.register(fastifyCsrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: 'cutover_csrf',
    cookieOpts: { signed: true, httpOnly: true, sameSite: 'strict', path: '/', secure: 'auto' },
    // The token is bound to the login: a token from another user's session does not pass.
    getUserInfo: (req: FastifyRequest) => sessionOf(req)?.subject ?? '',
    csrfOpts: { userInfo: true, hmacKey: config.sessionSecret },
  });

  const chartJs = chartJsSource();
  let oidc: OidcLogin | undefined;
  let baseUrl = config.publicUrl ?? '';

  function sessionOf(req: FastifyRequest): Login | undefined {
    const raw = req.cookies[SESSION_COOKIE];
    if (!raw) return undefined;
    const unsigned = req.unsignCookie(raw);
    if (!unsigned.valid || unsigned.value === null) return undefined;
    try {
      const parsed = sessionSchema.safeParse(JSON.parse(Buffer.from(unsigned.value, 'base64url').toString('utf8')));
      if (!parsed.success || parsed.data.expiresAt < Date.now()) return undefined;
      const { expiresAt: _expiresAt, ...login } = parsed.data;
      return login;
    } catch {
      return undefined;
    }
  }

  const cookieOptions = (sameSite: 'strict' | 'lax', maxAgeSeconds: number) => ({
    signed: true,
    httpOnly: true,
    sameSite,
    secure,
    path: '/',
    maxAge: maxAgeSeconds,
  });

  const csrfFor = (reply: FastifyReply, login: Login) => reply.generateCsrf({ userInfo: login.subject });

  /** The signed-in user, or a redirect to the login (pages) / a 401 (JSON). */
  function requireLogin(req: FastifyRequest, reply: FastifyReply): Login | undefined {
    const login = sessionOf(req);
    if (login) return login;
    if (req.method === 'GET' && !req.url.endsWith('/live')) {
      void reply.redirect(`/login?returnTo=${encodeURIComponent(ownPath(req.url))}`);
    } else {
      void reply.code(401).type('text/html').send(messagePage('Signed out', 'Your session has ended: sign in again.'));
    }
    return undefined;
  }

  const html = (reply: FastifyReply, code: number, body: string) =>
    reply.code(code).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'same-origin');
    reply.header('x-content-type-options', 'nosniff');
    return payload;
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err.code === 'FST_CSRF_INVALID_TOKEN' || err.code === 'FST_CSRF_MISSING_SECRET') {
      req.log.warn({ url: req.url, login: sessionOf(req)?.subject }, 'form refused: CSRF token missing or wrong');
      return html(
        reply,
        403,
        messagePage(
          'Form refused',
          "The form's security token is missing or does not belong to your session: nothing was submitted. Reload the page and try again.",
        ),
      );
    }
    if (err instanceof UserError) return html(reply, 404, messagePage('Not found', err.message, sessionOf(req)));
    req.log.error({ err, url: req.url }, 'request failed');
    return html(reply, err.statusCode ?? 500, messagePage('Something went wrong', err.message));
  });

  app.get('/healthz', async () => ({ ok: true }));

  app.get('/assets/chart.js', async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=86400').send(chartJs),
  );

  app.get('/login', async (req, reply) => {
    if (!oidc) throw new Error('the login is not ready');
    const returnTo = ownPath((req.query as { returnTo?: unknown }).returnTo);
    const { url, transaction } = await oidc.start(returnTo);
    const value = Buffer.from(JSON.stringify({ ...transaction, expiresAt: Date.now() + 10 * 60_000 })).toString(
      'base64url',
    );
    void reply.setCookie(LOGIN_COOKIE, value, cookieOptions('lax', 600));
    return reply.redirect(url);
  });

  app.get('/callback', async (req, reply) => {
    if (!oidc) throw new Error('the login is not ready');
    const raw = req.cookies[LOGIN_COOKIE];
    const unsigned = raw ? req.unsignCookie(raw) : undefined;
    let transaction: (LoginTransaction & { expiresAt: number }) | undefined;
    if (unsigned?.valid && unsigned.value) {
      try {
        const parsed = transactionSchema.safeParse(JSON.parse(Buffer.from(unsigned.value, 'base64url').toString()));
        if (parsed.success && parsed.data.expiresAt > Date.now()) transaction = parsed.data;
      } catch {
        transaction = undefined;
      }
    }
    if (!transaction) {
      return html(
        reply,
        400,
        messagePage('Sign-in failed', 'This sign-in was not started here or took too long: start again from the list.'),
      );
    }
    let login: Login;
    try {
      login = await oidc.finish(new URL(req.url, baseUrl), transaction);
    } catch (err) {
      req.log.warn({ err: (err as Error).message }, 'sign-in refused');
      return html(reply, 401, messagePage('Sign-in failed', (err as Error).message));
    }
    const session = Buffer.from(
      JSON.stringify({ ...login, expiresAt: Date.now() + SESSION_HOURS * 3600_000 }),
    ).toString('base64url');
    // Browsers keep a cookie of up to 4,096 bytes with its name and attributes, and drop a larger one
    // silently (the user would be sent to the login again and again): say so instead.
    if (session.length > MAX_SESSION_COOKIE) {
      req.log.warn({ subject: login.subject, groups: login.groups.length }, 'sign-in refused: too many groups');
      return html(
        reply,
        400,
        messagePage(
          'Sign-in failed',
          `your login carries ${login.groups.length} groups, too many to keep in a session cookie: have the provider send only the groups given to this app (Entra ID: "groups assigned to the application"; Okta: a filter on the groups claim)`,
        ),
      );
    }
    void reply.clearCookie(LOGIN_COOKIE, { path: '/' });
    void reply.setCookie(SESSION_COOKIE, session, cookieOptions('strict', SESSION_HOURS * 3600));
    req.log.info({ issuer: login.issuer, subject: login.subject, user: login.user }, 'signed in');
    // A page, not a redirect: the redirect chain started at the provider (another site), and the browser
    // would not send the new Strict cookie on it. The meta refresh is a same-site navigation.
    const to = esc(transaction.returnTo);
    return html(
      reply,
      200,
      `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${to}"><title>Signed in</title><p>Signed in as ${esc(login.user)}. <a href="${to}">Continue</a></p>`,
    );
  });

  app.post('/logout', { preHandler: app.csrfProtection }, async (_req, reply) => {
    void reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return html(reply, 200, messagePage('Signed out', 'You are signed out of the approval app.'));
  });

  app.get('/', async (req, reply) => {
    const login = requireLogin(req, reply);
    if (!login) return reply;
    const [waiting, running] = await Promise.all([
      list(c, { state: 'awaiting-signoff' }),
      list(c).then((all) => all.filter((x) => x.status === 'RUNNING' && x.state !== 'awaiting-signoff')),
    ]);
    return html(reply, 200, listPage(login, csrfFor(reply, login), waiting, running));
  });

  /**
   * The plan's approvers and the groups per role of the cutovers seen lately: fixed for a run, so kept
   * (bounded). The gate checks the approvers again; the groups are the workers' word in the status.
   */
  const approvers = new Map<string, { roles: RoleView[]; roleGroups?: Record<string, string[]> }>();
  function remember(s: CutoverStatus): CutoverStatus {
    if (s.gate.roles.length > 0) {
      approvers.delete(s.workflowId);
      approvers.set(s.workflowId, { roles: s.gate.roles, ...(s.roleGroups ? { roleGroups: s.roleGroups } : {}) });
      if (approvers.size > 1000) approvers.delete(approvers.keys().next().value as string);
    }
    return s;
  }

  /**
   * The status query alone, without the describe that `status()` sends first and the monitoring child's
   * wait it adds: the sign-off path and the live refresh, where a round trip less is felt.
   */
  async function quickStatus(workflowId: string): Promise<CutoverStatus> {
    try {
      return await c.client.workflow.getHandle(workflowId).query(statusQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        throw new UserError(`no cutover with id ${workflowId} in namespace ${c.namespace}`);
      }
      throw err;
    }
  }

  async function statusOr404(
    req: FastifyRequest,
    reply: FastifyReply,
    login: Login,
  ): Promise<CutoverStatus | undefined> {
    const id = workflowIdSchema.safeParse((req.params as { id?: string }).id);
    if (!id.success) {
      html(reply, 400, messagePage('Bad address', `cutover id: ${issueMessage(id.error)}`, login));
      return undefined;
    }
    try {
      return remember(await status(c, id.data));
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      html(reply, 404, messagePage('No such cutover', err.message, login, csrfFor(reply, login)));
      return undefined;
    }
  }

  app.get('/cutovers/:id', async (req, reply) => {
    const login = requireLogin(req, reply);
    if (!login) return reply;
    const s = await statusOr404(req, reply, login);
    if (!s) return reply;
    return html(reply, 200, cutoverPage(s, login, csrfFor(reply, login), rolesFor(login, s.roleGroups, s.gate.roles)));
  });

  app.get('/cutovers/:id/live', async (req, reply) => {
    const login = sessionOf(req);
    if (!login) return reply.code(401).send({ error: 'signed out' });
    const id = workflowIdSchema.safeParse((req.params as { id?: string }).id);
    if (!id.success) return reply.code(400).send({ error: issueMessage(id.error) });
    const s = await quickStatus(id.data).catch((err: unknown) => {
      if (err instanceof UserError) return undefined;
      throw err;
    });
    if (!s) return reply.code(404).send({ error: `no cutover with id ${id.data}` });
    return reply
      .header('cache-control', 'no-store')
      .send({ version: liveVersion(s), phase: s.phase, state: s.state, gate: s.gate.status, final: isFinal(s.state) });
  });

  app.post('/cutovers/:id/signoff', { preHandler: app.csrfProtection }, async (req, reply) => {
    const login = requireLogin(req, reply);
    if (!login) return reply;
    const id = workflowIdSchema.safeParse((req.params as { id?: string }).id);
    if (!id.success)
      return html(reply, 400, messagePage('Bad address', `cutover id: ${issueMessage(id.error)}`, login));
    const workflowId = id.data;
    // Server-Timing: where an approver's wait goes (the browser's devtools and the bench read it).
    const t0 = performance.now();
    let queriedAt = 0;
    let updateAt = 0;
    let answeredAt = 0;
    // The status is asked for at once; when the plan's approvers are known already (they never change in
    // a run), the update does not wait for it.
    const pending = quickStatus(workflowId).then(
      (value) => ((queriedAt = performance.now()), { value }),
      (error: unknown) => ((queriedAt = performance.now()), { error }),
    );
    const current = async (): Promise<CutoverStatus | undefined> => {
      const got = await pending;
      if ('value' in got) return remember(got.value);
      if (!(got.error instanceof UserError)) throw got.error;
      html(reply, 404, messagePage('No such cutover', got.error.message, login, csrfFor(reply, login)));
      return undefined;
    };
    const known = approvers.get(workflowId);
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
        (fragment ? gateSection : cutoverPage)(shown, login, csrfFor(reply, login), roleAnswers, answer),
      );
    };
    // Refused here, never relayed as a sign-off: reported to the cutover (attested) so that its audit holds the
    // attempt too, and kept in the app's log. A report that cannot be sent does not change the answer.
    const refused = async (attempt: { role: string; decision: string }, reason: string) => {
      req.log.warn(
        { workflowId, ...attempt, issuer: login.issuer, subject: login.subject, user: login.user, reason },
        'sign-off refused by the approval app',
      );
      await reportAppRefusal(c, config.attester, workflowId, { ...attempt, user: login.user, reason }, login).catch(
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
      attestation: attestSignOff(config.attester, workflowId, signOff, evidenceDigest, {
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

  return {
    app,
    get url() {
      return baseUrl;
    },
    async close() {
      await app.close();
    },
    // The redirect URI includes the port: the login is made once the app listens.
    async listen(): Promise<string> {
      const address = await app.listen({ host: config.host, port: config.port });
      baseUrl = config.publicUrl ?? address.replace('://localhost', '://127.0.0.1');
      secure = baseUrl.startsWith('https:');
      oidc = await options.login(`${baseUrl}/callback`);
      return baseUrl;
    },
  };
}

/** The role and decision a refused form named, as short strings ('' where it named none or something else). */
function attemptOf(body: unknown): { role: string; decision: string } {
  const field = (name: string) => {
    const value = body && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
    return typeof value === 'string' ? value.slice(0, 100) : '';
  };
  return { role: field('role'), decision: field('decision').slice(0, 20) };
}
