/**
 * A local OpenID provider for the dev stack and the tests: `oidc-provider` (a certified implementation)
 * with the example organisation's users (examples/portfolio-kpi/approvers.ts), their groups in a `groups`
 * claim, one confidential client (the approval app) and a login page that checks passwords. It stands in
 * for the organisation's Okta, Entra ID, Google or Keycloak; nothing here is meant for production.
 *
 *   node dist/scripts/idp.js --port 4455 --redirect http://127.0.0.1:4400/callback --client-secret S
 *
 * Prints `idp ready <issuer>` when it answers discovery. `oidc-provider` is ESM-only: loaded with import().
 */
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Command } from 'commander';
import type { Configuration, default as ProviderType } from 'oidc-provider';
import { esc } from '../common/html';
import { EXAMPLE_LOGINS, examplePassword } from '../examples/portfolio-kpi/approvers';

export const IDP_CLIENT_ID = 'cutover-approvals';

function loginPage(uid: string, error?: string, login = ''): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in: example organisation</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:360px;margin:4rem auto;color:#1d232a}
input,button{display:block;width:100%;margin:.4rem 0;padding:.5rem;font:inherit;box-sizing:border-box}
button{background:#1f6feb;color:#fff;border:0;border-radius:4px}.error{color:#b3261e}</style></head><body>
<h1>Example organisation</h1><p>Sign in to continue to the cutover approvals.</p>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
<label>Login <input name="login" value="${esc(login)}" required autofocus></label>
<label>Password <input name="password" type="password" required></label>
<button type="submit">Sign in</button></form>
<p><small>Local provider of the dev stack: the users are ${EXAMPLE_LOGINS.map((u) => u.login).join(', ')}; each password is <code>&lt;login&gt;-pass</code>.</small></p>
</body></html>`;
}

function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > 10_000) req.destroy(new Error('form too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });
}

function passwordMatches(login: string, password: string): boolean {
  const expected = Buffer.from(examplePassword(login));
  const given = Buffer.from(password);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

type Users = Map<string, (typeof EXAMPLE_LOGINS)[number]>;

/**
 * The provider's configuration: one confidential client (the approval app) with PKCE, the example's users and
 * their groups as claims, no consent screen (the app is the organisation's own), short-lived codes.
 */
function providerConfiguration(options: IdpOptions, users: Users): Configuration {
  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  return {
    clients: [
      {
        client_id: IDP_CLIENT_ID,
        client_secret: options.clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...signingKey, kid: 'local-1', alg: 'RS256', use: 'sig' }] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    scopes: ['openid', 'profile', 'email', 'groups'],
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      email: ['email'],
      groups: ['groups'],
    },
    // The claims of the granted scopes in the ID token too, as Okta and Entra ID can be set up to do.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    ttl: {
      Interaction: 600,
      Session: 8 * 3600,
      Grant: 8 * 3600,
      AuthorizationCode: 60,
      AccessToken: 3600,
      IdToken: 3600,
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, id) {
      const user = users.get(id);
      if (!user) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          preferred_username: user.login,
          name: user.name,
          email: `${user.login}@example.org`,
          groups: user.groups,
        }),
      };
    },
    // The approval app is the organisation's own: no consent screen.
    async loadExistingGrant(ctx) {
      const session = ctx.oidc.session;
      const client = ctx.oidc.client;
      if (!session?.accountId || !client) return undefined;
      const grantId = session.grantIdFor(client.clientId);
      const existing = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      if (existing) return existing;
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope('openid profile email groups');
      await grant.save();
      return grant;
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!doctype html><title>Sign-in error</title><h1>Sign-in error</h1><p>${esc(String(out.error))}: ${esc(String(out.error_description ?? ''))}</p>`;
    },
  };
}

/** The login pages: the form, its check of the password, and the answer to the provider; the rest is the provider's. */
function requestHandler(provider: ProviderType, issuer: string, users: Users) {
  const callback = provider.callback();
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', issuer);
    const match = /^\/interaction\/([A-Za-z0-9_-]+)(\/login|\/abort)?$/.exec(url.pathname);
    if (!match) {
      void callback(req, res);
      return;
    }
    const [, uid = '', action] = match;
    const answer = (status: number, html: string) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(html);
    };
    void (async () => {
      try {
        const details = await provider.interactionDetails(req, res);
        if (details.uid !== uid) return answer(400, 'this sign-in is not the one in progress');
        if (action === '/abort') {
          return await provider.interactionFinished(req, res, { error: 'access_denied' });
        }
        if (action === '/login' && req.method === 'POST') {
          const form = await readForm(req);
          const login = form.get('login') ?? '';
          if (!users.has(login) || !passwordMatches(login, form.get('password') ?? '')) {
            return answer(401, loginPage(uid, 'Unknown login or wrong password.', login));
          }
          return await provider.interactionFinished(
            req,
            res,
            { login: { accountId: login } },
            { mergeWithLastSubmission: false },
          );
        }
        if (req.method !== 'GET') return answer(405, 'method not allowed');
        return answer(200, loginPage(uid));
      } catch (err) {
        answer(400, `sign-in failed: ${esc((err as Error).message)}`);
      }
    })();
  };
}

export interface IdpOptions {
  port: number;
  host?: string;
  redirectUris: string[];
  clientSecret: string;
}

/** The local provider on `options.port` (0: a free one) until `close()`. */
export async function startIdp(options: IdpOptions): Promise<{ issuer: string; close(): Promise<void> }> {
  const { default: Provider } = (await import('oidc-provider')) as { default: typeof ProviderType };
  const host = options.host ?? '127.0.0.1';
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(options.port, host, resolve));
  const issuer = `http://${host}:${(server.address() as AddressInfo).port}`;
  const users: Users = new Map(EXAMPLE_LOGINS.map((u) => [u.login, u]));
  const provider = new Provider(issuer, providerConfiguration(options, users));
  server.on('request', requestHandler(provider, issuer, users));
  return {
    issuer,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (require.main === module) {
  const program = new Command('idp')
    .requiredOption('--port <port>', 'port on 127.0.0.1 (0: a free one)', (v) => Number(v))
    .requiredOption('--redirect <url...>', "the approval app's callback URL(s)")
    .option('--client-secret <secret>', 'the client secret (default: $CUTOVER_OIDC_CLIENT_SECRET)');
  program.parse();
  const opts = program.opts<{ port: number; redirect: string[]; clientSecret?: string }>();
  const clientSecret = opts.clientSecret ?? process.env.CUTOVER_OIDC_CLIENT_SECRET;
  if (!clientSecret) {
    process.stderr.write('idp: --client-secret or CUTOVER_OIDC_CLIENT_SECRET is required\n');
    process.exit(2);
  }
  startIdp({ port: opts.port, redirectUris: opts.redirect, clientSecret })
    .then(({ issuer, close }) => {
      process.stdout.write(`idp ready ${issuer}\n`);
      const stop = () => void close().then(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    })
    .catch((err: unknown) => {
      process.stderr.write(`idp: ${(err as Error).message}\n`);
      process.exit(1);
    });
}
