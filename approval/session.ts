/**
 * The approval app's sessions: a signed, HttpOnly, SameSite=Strict cookie holding the login (Secure when the
 * app's address is https), the CSRF token tied to that login, and the replies every route shares.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Login } from './identity';
import { messagePage, type Viewer } from './pages';

export const SESSION_COOKIE = 'cutover_session';
export const LOGIN_COOKIE = 'cutover_login';
export const SESSION_HOURS = 8;
/** The session cookie's value at most, leaving room for its name, signature and attributes in 4,096 bytes. */
export const MAX_SESSION_COOKIE = 3_800;

const sessionSchema = z.object({
  issuer: z.string().min(1),
  subject: z.string().min(1),
  user: z.string().min(1),
  groups: z.array(z.string()),
  name: z.string().optional(),
  expiresAt: z.number(),
});

/** A safe place to return to after the login: one of the app's own paths. */
export function ownPath(value: unknown): string {
  return typeof value === 'string' && /^\/(?!\/)[\x21-\x7e]*$/.test(value) && !value.includes('\\') ? value : '/';
}

/** The first problem of a refused input, by its path. */
export function issueMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${issue?.path.join('.') || 'form'}: ${issue?.message ?? 'invalid'}`;
}

/** A page, never cached. */
export const html = (reply: FastifyReply, code: number, body: string) =>
  reply.code(code).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);

export class Sessions {
  /** Whether cookies are Secure: known from the configured address, or once the app listens. */
  secure: boolean;

  constructor(secure: boolean) {
    this.secure = secure;
  }

  /** The signed-in user of a request, or undefined (no cookie, a bad signature, expired, malformed). */
  of(req: FastifyRequest): Login | undefined {
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

  /** The session cookie's value for a login, good for SESSION_HOURS. */
  static encode(login: Login): string {
    return Buffer.from(JSON.stringify({ ...login, expiresAt: Date.now() + SESSION_HOURS * 3600_000 })).toString(
      'base64url',
    );
  }

  cookieOptions(sameSite: 'strict' | 'lax', maxAgeSeconds: number) {
    return { signed: true, httpOnly: true, sameSite, secure: this.secure, path: '/', maxAge: maxAgeSeconds };
  }

  /** A CSRF token bound to the login: a token from another user's session does not pass. */
  csrfFor(reply: FastifyReply, login: Login): string {
    return reply.generateCsrf({ userInfo: login.subject });
  }

  /** The signed-in user as a page shows them: with their CSRF token for its forms. */
  viewer(reply: FastifyReply, login: Login): Viewer {
    return { login, csrf: this.csrfFor(reply, login) };
  }

  /** The signed-in user, or a redirect to the login (pages) / a 401 (forms and the live view). */
  require(req: FastifyRequest, reply: FastifyReply): Login | undefined {
    const login = this.of(req);
    if (login) return login;
    if (req.method === 'GET' && !req.url.endsWith('/live')) {
      void reply.redirect(`/login?returnTo=${encodeURIComponent(ownPath(req.url))}`);
    } else {
      void reply.code(401).type('text/html').send(messagePage('Signed out', 'Your session has ended: sign in again.'));
    }
    return undefined;
  }
}
