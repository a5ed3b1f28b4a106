/**
 * `cutover serve`: the approval web app. Approvers sign in at the organisation's OpenID provider, see a
 * cutover's evidence and sign off; the app relays each sign-off as the `submitSignOff` update, attested with
 * its own ed25519 key over the sign-off and the login's issuer and subject, and shows the gate's answer.
 *
 * Sessions live in signed, HttpOnly, SameSite=Strict cookies (Secure when the app's address is https);
 * every form carries a CSRF token tied to the login (`@fastify/csrf-protection`); every input is checked with
 * zod. One fastify plugin per concern: the login (login-routes.ts), the pages (cutover-routes.ts), the sign-off
 * relay (signoff-route.ts), the break-glass relay (break-glass-route.ts); the session and its cookie in session.ts.
 */
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type pino from 'pino';
import { UserError, type Cutovers } from '../lib/api';
import { chartJsSource } from '../lib/html-report';
import type { ServeConfig } from './config';
import { CutoverReader } from './cutover-reader';
import { cutoverRoutes } from './cutover-routes';
import { loginRoutes } from './login-routes';
import type { OidcLogin } from './oidc';
import { messagePage } from './pages';
import { html, Sessions } from './session';
import { signOffRoute } from './signoff-route';
import { breakGlassRoute } from './break-glass-route';

export { signOffFormSchema } from './signoff-route';

export interface ApprovalApp {
  app: FastifyInstance;
  /** Listens, discovers the OpenID provider, and returns the address approvers reach the app at. */
  listen(): Promise<string>;
  /** The address approvers reach the app at, without a trailing slash (after listen()). */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The app: fastify with its cookie, form and CSRF plugins, the security headers and the error pages every
 * route shares, then one plugin per concern (the login, the cutovers' pages, the sign-off relay).
 */
export async function createApprovalApp(options: {
  config: ServeConfig;
  cutovers: Cutovers;
  logger: pino.Logger;
  /** Made once the app knows its address (the redirect URI includes it). */
  login: (redirectUri: string) => Promise<OidcLogin>;
}): Promise<ApprovalApp> {
  const { config, cutovers } = options;
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
  });
  // Secure cookies need the address before listening; set again once it is known.
  const sessions = new Sessions(config.publicUrl?.startsWith('https:') ?? false);
  let oidc: OidcLogin | undefined;
  let baseUrl = config.publicUrl ?? '';
  await registerPlugins(app, config, sessions);
  sharedReplies(app, sessions);

  app.get('/healthz', async () => ({ ok: true }));

  const chartJs = chartJsSource();
  app.get('/assets/chart.js', async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=86400').send(chartJs),
  );

  const reader = new CutoverReader(cutovers, sessions);
  await app.register(loginRoutes, { sessions, oidc: () => oidc, baseUrl: () => baseUrl });
  await app.register(cutoverRoutes, {
    sessions,
    cutovers,
    reader,
    ...(config.record ? { record: config.record } : {}),
  });
  await app.register(signOffRoute, { sessions, cutovers, reader, attester: config.attester });
  await app.register(breakGlassRoute, { sessions, cutovers, reader, attester: config.attester });

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
      sessions.secure = baseUrl.startsWith('https:');
      oidc = await options.login(`${baseUrl}/callback`);
      return baseUrl;
    },
  };
}

/** The cookie, form and CSRF plugins; the CSRF token is bound to the login. */
async function registerPlugins(app: FastifyInstance, config: ServeConfig, sessions: Sessions): Promise<void> {
  await app.register(fastifyCookie, { secret: config.sessionSecret });
  await app.register(fastifyFormbody);
  await app.register(fastifyCsrf, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: 'cutover_csrf',
    cookieOpts: { signed: true, httpOnly: true, sameSite: 'strict', path: '/', secure: 'auto' },
    // A token from another user's session does not pass.
    getUserInfo: (req: FastifyRequest) => sessions.of(req)?.subject ?? '',
    csrfOpts: { userInfo: true, hmacKey: config.sessionSecret },
  });
}

/** What every reply shares: the security headers, and the error pages (a refused form, not found, a failure). */
function sharedReplies(app: FastifyInstance, sessions: Sessions): void {
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'same-origin');
    reply.header('x-content-type-options', 'nosniff');
    return payload;
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    if (err.code === 'FST_CSRF_INVALID_TOKEN' || err.code === 'FST_CSRF_MISSING_SECRET') {
      req.log.warn({ url: req.url, login: sessions.of(req)?.subject }, 'form refused: CSRF token missing or wrong');
      return html(
        reply,
        403,
        messagePage(
          'Form refused',
          "The form's security token is missing or does not belong to your session: nothing was submitted. Reload the page and try again.",
        ),
      );
    }
    if (err instanceof UserError)
      return html(reply, 404, messagePage('Not found', err.message, { login: sessions.of(req) }));
    req.log.error({ err, url: req.url }, 'request failed');
    return html(reply, err.statusCode ?? 500, messagePage('Something went wrong', err.message));
  });
}
