/**
 * The codec server: the Temporal UI (and `temporal --codec-endpoint`) posts payloads to `/decode` and
 * `/encode` and shows what comes back, so those holding the token see plaintext and nobody else does.
 *
 * - Auth: `Authorization: Bearer <token>` (what a UI behind a login passes with "pass access token", and
 *   what `temporal --codec-auth` sends), or the token as the first path segment, `/<token>/decode`, for a
 *   UI without a login, where each user types the endpoint into their own browser's codec setting.
 * - CORS: only the origins given (the UI's), with the preflight the browser sends first.
 * Tokens are compared in constant time; a request without a valid one gets 401 and no payload.
 */
import http from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';

const MAX_BODY_BYTES = 64 * 1024 * 1024;

const wirePayloads = z.object({
  payloads: z.array(
    z.object({
      metadata: z.record(z.string(), z.string()).optional(),
      data: z.string().optional(),
    }),
  ),
});
type WirePayload = z.infer<typeof wirePayloads>['payloads'][number];

export interface CodecServerOptions {
  codec: PayloadCodec;
  token: string;
  /** Origins allowed by CORS, e.g. http://127.0.0.1:8233. */
  origins: readonly string[];
  port: number;
  host?: string;
  /** Called once per request after it is answered. */
  onRequest?: (entry: { method: string; path: string; status: number; payloads: number }) => void;
}

export async function serveCodec(options: CodecServerOptions): Promise<http.Server> {
  const authorised = tokenCheck(options.token);
  const server = http.createServer((req, res) => handle(req, res, options, authorised));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', resolve);
  });
  return server;
}

/** Whether a presented token is the server's, compared in constant time; a token under 16 characters is refused. */
function tokenCheck(token: string): (presented: string | undefined) => boolean {
  if (token.length < 16) throw new Error('the codec server token must be at least 16 characters');
  const expected = Buffer.from(token);
  return (presented) => {
    if (!presented) return false;
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
}

/** One request: CORS for the allowed origins, the route, the token (a bearer, or the path's first segment). */
function handle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  options: CodecServerOptions,
  authorised: (presented: string | undefined) => boolean,
): void {
  const origin = req.headers.origin;
  if (origin && options.origins.includes(origin)) {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-allow-credentials', 'true');
    res.setHeader('vary', 'Origin');
  }
  const url = new URL(req.url ?? '/', 'http://codec');
  const segments = url.pathname.split('/').filter(Boolean);
  const operation = segments.at(-1);
  const pathToken = segments.length === 2 ? segments[0] : undefined;
  const counted = { payloads: 0 };
  const finish = (status: number, body?: unknown): void => {
    res.statusCode = status;
    if (body !== undefined) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(body));
    } else res.end();
    options.onRequest?.({
      method: req.method ?? '',
      path: pathToken ? `/…/${operation}` : url.pathname,
      status,
      payloads: counted.payloads,
    });
  };
  if (req.method === 'OPTIONS') {
    res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
    res.setHeader('access-control-allow-headers', 'Content-Type, X-Namespace, Authorization');
    res.setHeader('access-control-max-age', '600');
    return finish(origin && options.origins.includes(origin) ? 204 : 403);
  }
  if (segments.length > 2 || (operation !== 'decode' && operation !== 'encode'))
    return finish(404, { error: 'not found: POST /decode or /encode' });
  if (req.method !== 'POST') return finish(405, { error: 'use POST' });
  const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (!authorised(bearer) && !authorised(pathToken)) return finish(401, { error: 'a valid codec token is required' });
  const convert = (payloads: Payload[]) =>
    operation === 'decode' ? options.codec.decode(payloads) : options.codec.encode(payloads);
  answerPayloads(req, res, { convert, finish, counted });
}

/** Reads the body (at most MAX_BODY_BYTES), converts its payloads, and answers with them or with what was wrong. */
function answerPayloads(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  {
    convert,
    finish,
    counted,
  }: {
    convert: (payloads: Payload[]) => Promise<Payload[]>;
    finish: (status: number, body?: unknown) => void;
    counted: { payloads: number };
  },
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      finish(413, { error: `body over ${MAX_BODY_BYTES} bytes` });
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (res.writableEnded) return;
    void (async () => {
      let body: z.infer<typeof wirePayloads>;
      try {
        body = wirePayloads.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        finish(400, { error: `expected {"payloads": [{"metadata": {…}, "data": "…"}]}: ${(err as Error).message}` });
        return;
      }
      counted.payloads = body.payloads.length;
      try {
        finish(200, { payloads: (await convert(body.payloads.map(fromWire))).map(toWire) });
      } catch (err) {
        finish(400, { error: (err as Error).message });
      }
    })();
  });
}

function fromWire(payload: WirePayload): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
    ),
    data: new Uint8Array(Buffer.from(payload.data ?? '', 'base64')),
  };
}

function toWire(payload: Payload): WirePayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([k, v]) => [
        k,
        Buffer.from(v ?? new Uint8Array()).toString('base64'),
      ]),
    ),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}
