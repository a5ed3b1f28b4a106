/**
 * The approval app's OpenID login in-process (openid-client, ESM-only, loaded through jest's transform) against
 * the local provider (oidc-provider) as a process: the authorization code flow with PKCE, state and nonce,
 * the configured user claim, the groups claim, and the refusals (a wrong password, a callback whose state is
 * not the one this login started). The browser test drives the same flow through `cutover serve`.
 */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createOidcLogin, type OidcLogin } from '../../approval/oidc';
import { freePort } from '../../common/net';
import { startNodeProcess } from '../../toolchain/processes';
import { stopProcess } from '../helpers/harness';

const ROOT = path.resolve(__dirname, '..', '..');
const SECRET = 'oidc-login-test-secret';
const REDIRECT = 'http://127.0.0.1:9/callback';
let idp: ChildProcess;
let issuer: string;

beforeAll(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  idp = await startNodeProcess(
    [path.join(ROOT, 'dist', 'scripts', 'idp.js'), '--port', String(port), '--redirect', REDIRECT],
    { ...process.env, CUTOVER_OIDC_CLIENT_SECRET: SECRET },
    /^idp ready /,
  );
});

afterAll(() => stopProcess(idp));

/** A browser's part of the flow, with a cookie jar: returns the callback URL the provider redirects to. */
async function signIn(authorizationUrl: string, login: string, password: string): Promise<URL | Response> {
  const jar = new Map<string, string>();
  const send = async (url: string, init: RequestInit = {}) => {
    const res = await fetch(new URL(url, issuer), {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers ?? {}), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair = ''] = c.split(';');
      const at = pair.indexOf('=');
      jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return res;
  };
  const toLogin = await send(authorizationUrl);
  const interaction = toLogin.headers.get('location') ?? '';
  expect(interaction).toMatch(/^\/interaction\//);
  expect(await (await send(interaction)).text()).toContain('Sign in to continue to the cutover approvals');
  const submitted = await send(`${interaction}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ login, password }).toString(),
  });
  if (submitted.status !== 303) return submitted;
  let location = submitted.headers.get('location') ?? '';
  while (!location.startsWith(REDIRECT)) location = (await send(location)).headers.get('location') ?? '';
  return new URL(location);
}

const config = (userClaim: string) => ({
  issuer: '',
  clientId: 'cutover-approvals',
  clientSecret: SECRET,
  scopes: 'openid profile email groups',
  userClaim,
  groupsClaim: 'groups',
});

test('a login through the provider gives the issuer, subject, the configured user claim and the groups', async () => {
  const oidc: OidcLogin = await createOidcLogin({ ...config('email'), issuer }, REDIRECT);
  const { url, transaction } = await oidc.start('/cutovers/x');
  expect(new URL(url).searchParams.get('code_challenge_method')).toBe('S256');
  expect(transaction.returnTo).toBe('/cutovers/x');
  const callback = await signIn(url, 'bo', 'bo-pass');
  expect(callback).toBeInstanceOf(URL);
  expect(await oidc.finish(callback as URL, transaction)).toEqual({
    issuer,
    subject: 'bo',
    user: 'bo@example.org',
    groups: ['risk-qa'],
    name: 'Bo Berg',
  });
});

test('a wrong password is refused at the provider, and a callback of another login is refused by the app', async () => {
  const oidc = await createOidcLogin({ ...config('preferred_username'), issuer }, REDIRECT);
  const first = await oidc.start('/');
  const refused = await signIn(first.url, 'ana', 'not-her-password');
  expect(refused).toBeInstanceOf(Response);
  expect((refused as Response).status).toBe(401);
  expect(await (refused as Response).text()).toContain('Unknown login or wrong password.');

  // A callback carries the state of the login that started it: another login's transaction does not take it.
  const second = await oidc.start('/');
  const callback = (await signIn(second.url, 'ana', 'ana-pass')) as URL;
  await expect(oidc.finish(callback, first.transaction)).rejects.toThrow(
    /the provider's answer was refused: .*"state"/,
  );
  // Nor an unknown issuer at start.
  await expect(createOidcLogin({ ...config('sub'), issuer: 'http://127.0.0.1:9' }, REDIRECT)).rejects.toThrow(
    'the OpenID provider http://127.0.0.1:9 could not be discovered',
  );
});
