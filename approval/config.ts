/**
 * The approval app's configuration (`cutover serve`): read once from the environment, checked with zod.
 * Outside dev mode it refuses to start without a session secret, an attester key and an OpenID provider:
 * an app that could not say who signed, or whose sessions anyone could forge, must not relay sign-offs.
 */
import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519';
import { z } from 'zod';
import { envIssueLine } from '../common/env-issue';
import { readPrivateKeyFile } from '../common/key-file';

const intFrom = (min: number, max: number) =>
  z.string().regex(/^\d+$/, { error: 'expected a whole number' }).transform(Number).pipe(z.int().min(min).max(max));
const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const CLAIM = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/;

export const serveEnvSchema = z.object({
  CUTOVER_SERVE_HOST: z.string().min(1).default('127.0.0.1').describe('The address the app listens on'),
  CUTOVER_SERVE_PORT: intFrom(0, 65535).default(4400).describe('The port the app listens on (0: a free one)'),
  CUTOVER_APPROVAL_URL: z
    .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
    .optional()
    .describe(
      'The address approvers reach the app at (links, the login redirect); default http://HOST:PORT. With https, cookies are Secure',
    ),
  CUTOVER_SESSION_SECRET: z
    .string()
    .min(32, { error: 'expected at least 32 characters' })
    .optional()
    .describe('Signs the session and CSRF cookies; required outside dev mode'),
  CUTOVER_ATTESTER_KEY_ID: z
    .string()
    .regex(KEY_ID, { error: 'expected a key id (letters, digits, . _ : -)' })
    .optional()
    .describe("The attester key's id, as the workers' CUTOVER_ATTESTER_KEYS names it"),
  CUTOVER_ATTESTER_KEY_FILE: z
    .string()
    .min(1)
    .optional()
    .describe("The attester's ed25519 private key (32 bytes, hex or base64); required outside dev mode"),
  CUTOVER_WORKER_KEY_FILE: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The workers' ed25519 private key: with it, a cutover's page shows its record's digest and whether it verified",
    ),
  CUTOVER_WORKER_KEY_ID: z
    .string()
    .regex(KEY_ID, { error: 'expected a key id (letters, digits, . _ : -)' })
    .default('workers')
    .describe('The key id of CUTOVER_WORKER_KEY_FILE, as the workers name it'),
  CUTOVER_ATTESTER_KEYS: z
    .string()
    .optional()
    .describe(
      "Other approval apps' keys whose attestations the record check trusts: KEYID=PUBLICKEY pairs, comma-separated",
    ),
  CUTOVER_OIDC_ISSUER: z
    .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
    .optional()
    .describe("The organisation's OpenID provider (its issuer URL); required"),
  CUTOVER_OIDC_CLIENT_ID: z.string().min(1).optional().describe('The client id registered at the provider'),
  CUTOVER_OIDC_CLIENT_SECRET: z.string().min(1).optional().describe('The client secret registered at the provider'),
  CUTOVER_OIDC_SCOPES: z
    .string()
    .regex(/^[\x21-\x7e]+( [\x21-\x7e]+)*$/, { error: 'expected space-separated scopes' })
    .default('openid profile email groups')
    .describe('The scopes the app asks for (openid is always included)'),
  CUTOVER_OIDC_USER_CLAIM: z
    .string()
    .regex(CLAIM, { error: 'expected a claim name' })
    .default('preferred_username')
    .describe("The claim whose value is the approver's name in the plan (e.g. preferred_username, email)"),
  CUTOVER_OIDC_GROUPS_CLAIM: z
    .string()
    .regex(CLAIM, { error: 'expected a claim name' })
    .default('groups')
    .describe("The claim listing the user's groups"),
});

export interface Attester {
  keyId: string;
  privateKey: Uint8Array;
  /** Hex, for the workers' CUTOVER_ATTESTER_KEYS. */
  publicKey: string;
}

export interface ServeConfig {
  host: string;
  port: number;
  /** Without a trailing slash. */
  publicUrl?: string;
  dev: boolean;
  sessionSecret: string;
  attester: Attester;
  oidc: {
    issuer: string;
    clientId: string;
    clientSecret?: string;
    scopes: string;
    userClaim: string;
    groupsClaim: string;
  };
  /**
   * The workers' key and the attesters to trust, where the page shows the record's line (lib/record-export.ts
   * recordLine reads them as these variables).
   */
  record?: { CUTOVER_WORKER_KEY_FILE: string; CUTOVER_WORKER_KEY_ID: string; CUTOVER_ATTESTER_KEYS: string };
  /** What dev mode made up, to say so at start. */
  generated: string[];
}

/** A variable with a bad value, or one that is missing. */
export class ServeConfigError extends Error {
  override readonly name = 'ServeConfigError';
}

export function loadServeConfig(env: NodeJS.ProcessEnv, options: { dev?: boolean } = {}): ServeConfig {
  const parsed = serveEnvSchema.safeParse(env);
  if (!parsed.success) throw new ServeConfigError(envIssueLine(serveEnvSchema, env, parsed.error));
  const e = parsed.data;
  const dev = options.dev ?? false;
  const generated: string[] = [];
  const missing = (name: string, why: string) =>
    new ServeConfigError(`${name} is not set: ${why} (\`cutover serve --dev\` makes one up for a local try)`);

  let sessionSecret = e.CUTOVER_SESSION_SECRET;
  if (!sessionSecret) {
    if (!dev) throw missing('CUTOVER_SESSION_SECRET', 'the app signs its session cookies with it');
    sessionSecret = randomBytes(32).toString('hex');
    generated.push('a session secret (sessions end when the app stops)');
  }

  let attester: Attester;
  if (e.CUTOVER_ATTESTER_KEY_FILE) {
    if (!e.CUTOVER_ATTESTER_KEY_ID) throw missing('CUTOVER_ATTESTER_KEY_ID', "the workers know the app's key by it");
    attester = readAttester(e.CUTOVER_ATTESTER_KEY_FILE, e.CUTOVER_ATTESTER_KEY_ID);
  } else {
    if (!dev) throw missing('CUTOVER_ATTESTER_KEY_FILE', 'the app signs every sign-off it relays with it');
    const privateKey = ed25519.utils.randomPrivateKey();
    attester = {
      keyId: e.CUTOVER_ATTESTER_KEY_ID ?? 'dev',
      privateKey,
      publicKey: Buffer.from(ed25519.getPublicKey(privateKey)).toString('hex'),
    };
    generated.push(
      `an attester key (the workers trust it with CUTOVER_ATTESTER_KEYS=${attester.keyId}=${attester.publicKey})`,
    );
  }

  if (!e.CUTOVER_OIDC_ISSUER) throw missing('CUTOVER_OIDC_ISSUER', 'approvers sign in at the OpenID provider');
  if (!e.CUTOVER_OIDC_CLIENT_ID) throw missing('CUTOVER_OIDC_CLIENT_ID', 'the provider knows the app by it');
  if (!dev && !e.CUTOVER_OIDC_CLIENT_SECRET) {
    throw missing('CUTOVER_OIDC_CLIENT_SECRET', 'the app is a confidential client of the provider');
  }
  const scopes = new Set(['openid', ...e.CUTOVER_OIDC_SCOPES.split(' ')]);
  return {
    host: e.CUTOVER_SERVE_HOST,
    port: e.CUTOVER_SERVE_PORT,
    ...(e.CUTOVER_APPROVAL_URL ? { publicUrl: e.CUTOVER_APPROVAL_URL.replace(/\/+$/, '') } : {}),
    dev,
    sessionSecret,
    attester,
    oidc: {
      issuer: e.CUTOVER_OIDC_ISSUER,
      clientId: e.CUTOVER_OIDC_CLIENT_ID,
      ...(e.CUTOVER_OIDC_CLIENT_SECRET ? { clientSecret: e.CUTOVER_OIDC_CLIENT_SECRET } : {}),
      scopes: [...scopes].join(' '),
      userClaim: e.CUTOVER_OIDC_USER_CLAIM,
      groupsClaim: e.CUTOVER_OIDC_GROUPS_CLAIM,
    },
    ...(e.CUTOVER_WORKER_KEY_FILE
      ? {
          record: {
            CUTOVER_WORKER_KEY_FILE: e.CUTOVER_WORKER_KEY_FILE,
            CUTOVER_WORKER_KEY_ID: e.CUTOVER_WORKER_KEY_ID,
            // This app's own attestations are trusted, and those of the apps the variable names.
            CUTOVER_ATTESTER_KEYS: [`${attester.keyId}=${attester.publicKey}`, e.CUTOVER_ATTESTER_KEYS ?? '']
              .filter(Boolean)
              .join(','),
          },
        }
      : {}),
    generated,
  };
}

function readAttester(file: string, keyId: string): Attester {
  const read = readPrivateKeyFile('CUTOVER_ATTESTER_KEY_FILE', file);
  if ('problem' in read) throw new ServeConfigError(read.problem);
  return { keyId, privateKey: read.key, publicKey: Buffer.from(ed25519.getPublicKey(read.key)).toString('hex') };
}
