/**
 * The login's routes: `/login` sends the approver to the OpenID provider, `/callback` finishes the login and
 * sets the session, `/logout` ends it. The round trip keeps its state, nonce and PKCE verifier in a SameSite=Lax
 * cookie: the provider's redirect back is a cross-site navigation, which a Strict cookie would not survive.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { esc } from '../common/html';
import type { Login } from './identity';
import type { LoginTransaction, OidcLogin } from './oidc';
import { messagePage } from './pages';
import { html, LOGIN_COOKIE, MAX_SESSION_COOKIE, ownPath, SESSION_COOKIE, SESSION_HOURS, Sessions } from './session';

const transactionSchema = z.object({
  state: z.string().min(1),
  nonce: z.string().min(1),
  verifier: z.string().min(1),
  returnTo: z.string(),
  expiresAt: z.number(),
});

export interface LoginRoutesOptions {
  sessions: Sessions;
  /** The login, once the app listens (its redirect URI includes the address). */
  oidc: () => OidcLogin | undefined;
  /** The address approvers reach the app at. */
  baseUrl: () => string;
}

export async function loginRoutes(app: FastifyInstance, options: LoginRoutesOptions): Promise<void> {
  const { sessions } = options;
  const oidcOrThrow = () => {
    const oidc = options.oidc();
    if (!oidc) throw new Error('the login is not ready');
    return oidc;
  };

  app.get('/login', async (req, reply) => {
    const oidc = oidcOrThrow();
    const returnTo = ownPath((req.query as { returnTo?: unknown }).returnTo);
    const { url, transaction } = await oidc.start(returnTo);
    const value = Buffer.from(JSON.stringify({ ...transaction, expiresAt: Date.now() + 10 * 60_000 })).toString(
      'base64url',
    );
    void reply.setCookie(LOGIN_COOKIE, value, sessions.cookieOptions('lax', 600));
    return reply.redirect(url);
  });

  app.get('/callback', async (req, reply) => {
    const oidc = oidcOrThrow();
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
      login = await oidc.finish(new URL(req.url, options.baseUrl()), transaction);
    } catch (err) {
      req.log.warn({ err: (err as Error).message }, 'sign-in refused');
      return html(reply, 401, messagePage('Sign-in failed', (err as Error).message));
    }
    const session = Sessions.encode(login);
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
    void reply.setCookie(SESSION_COOKIE, session, sessions.cookieOptions('strict', SESSION_HOURS * 3600));
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
}
