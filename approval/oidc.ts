/**
 * The app's side of the OpenID Connect login (authorization code with PKCE, state and nonce), with
 * `openid-client`. The package is ESM-only and the project builds CommonJS: it is loaded with a dynamic
 * `import()` (kept as such by TypeScript's node16 module setting; jest transforms it, see jest.config.js).
 */
import type * as OpenIdClient from 'openid-client';
import type { Login } from './identity';
import type { ServeConfig } from './config';

type Client = typeof OpenIdClient;
type Configuration = OpenIdClient.Configuration;

/** What the login's round trip keeps in a short-lived cookie between the redirect and the callback. */
export interface LoginTransaction {
  state: string;
  nonce: string;
  verifier: string;
  /** The app's own path to return to. */
  returnTo: string;
}

export interface OidcLogin {
  /** Where to send the browser, and what to keep until it comes back. */
  start(returnTo: string): Promise<{ url: string; transaction: LoginTransaction }>;
  /** Exchanges the callback's code and returns who signed in. */
  finish(callbackUrl: URL, transaction: LoginTransaction): Promise<Login>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export async function createOidcLogin(oidc: ServeConfig['oidc'], redirectUri: string): Promise<OidcLogin> {
  const client: Client = await import('openid-client');
  const issuer = new URL(oidc.issuer);
  // Plain http only to a provider on this machine (the local one of `npm start`).
  const insecure = issuer.protocol === 'http:' && LOOPBACK.has(issuer.hostname);
  let config: Configuration;
  try {
    config = await client.discovery(
      issuer,
      oidc.clientId,
      oidc.clientSecret,
      oidc.clientSecret ? client.ClientSecretBasic(oidc.clientSecret) : client.None(),
      insecure ? { execute: [client.allowInsecureRequests] } : undefined,
    );
  } catch (err) {
    throw new Error(`the OpenID provider ${oidc.issuer} could not be discovered: ${(err as Error).message}`);
  }

  return {
    async start(returnTo) {
      const transaction = {
        state: client.randomState(),
        nonce: client.randomNonce(),
        verifier: client.randomPKCECodeVerifier(),
        returnTo,
      };
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: oidc.scopes,
        state: transaction.state,
        nonce: transaction.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(transaction.verifier),
        code_challenge_method: 'S256',
      });
      return { url: url.href, transaction };
    },

    async finish(callbackUrl, transaction) {
      let tokens: Awaited<ReturnType<Client['authorizationCodeGrant']>>;
      try {
        tokens = await client.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: transaction.verifier,
          expectedState: transaction.state,
          expectedNonce: transaction.nonce,
          idTokenExpected: true,
        });
      } catch (err) {
        // openid-client says "invalid response encountered"; what was wrong is in its cause.
        const cause = (err as { cause?: unknown }).cause;
        const why = cause instanceof Error ? cause.message : (err as Error).message;
        throw new Error(`the provider's answer was refused: ${why}`);
      }
      const idClaims = tokens.claims();
      if (!idClaims) throw new Error('the provider returned no ID token');
      let claims: Record<string, unknown> = { ...idClaims };
      // Many providers put the profile and groups in the userinfo answer only.
      if (claims[oidc.userClaim] === undefined || claims[oidc.groupsClaim] === undefined) {
        const info = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
        claims = { ...info, ...claims };
      }
      const user = claims[oidc.userClaim];
      if (typeof user !== 'string' || user === '') {
        throw new Error(`the login carries no ${oidc.userClaim} claim (CUTOVER_OIDC_USER_CLAIM)`);
      }
      const groupsClaim = claims[oidc.groupsClaim];
      const groups = Array.isArray(groupsClaim)
        ? groupsClaim.filter((g): g is string => typeof g === 'string')
        : typeof groupsClaim === 'string'
          ? [groupsClaim]
          : [];
      return {
        issuer: idClaims.iss,
        subject: idClaims.sub,
        user,
        groups,
        ...(typeof claims.name === 'string' ? { name: claims.name } : {}),
      };
    },
  };
}
