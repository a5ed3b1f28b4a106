/**
 * The AES-256-GCM payload codec and its environment settings, and the codec server's auth and CORS.
 */
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmCodec, CodecError, ENCRYPTED_ENCODING, KEY_ID_METADATA, codecFromEnv } from '../../../codec/aes-gcm';
import { serveCodec } from '../../../codec/server';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const codecWith = (active: string, keys: [string, Buffer][]) =>
  new AesGcmCodec({ activeKeyId: active, keys: new Map(keys) });
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');

describe('AesGcmCodec', () => {
  const plain = defaultPayloadConverter.toPayload({ release: 'secret-release-2026', approver: 'ana' });

  test('encrypts the whole payload, names its key, and decodes back to the same payload', async () => {
    const codec = codecWith('k1', [['k1', keyA]]);
    const [sealed] = await codec.encode([plain]);
    expect(text(sealed!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(text(sealed!.metadata![KEY_ID_METADATA])).toBe('k1');
    expect(text(sealed!.data)).not.toContain('secret-release');
    expect(Object.keys(sealed!.metadata!)).toEqual(['encoding', KEY_ID_METADATA]);
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({ release: 'secret-release-2026', approver: 'ana' });
    expect(text(opened!.metadata!.encoding)).toBe('json/plain');
  });

  test('two encodings of the same payload differ (fresh IV each time)', async () => {
    const codec = codecWith('k1', [['k1', keyA]]);
    const [a, b] = await codec.encode([plain, plain]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  test('key rotation: a payload sealed with an old key still opens; new ones use the active key', async () => {
    const old = codecWith('k1', [['k1', keyA]]);
    const rotated = codecWith('k2', [
      ['k2', keyB],
      ['k1', keyA],
    ]);
    const [sealedOld] = await old.encode([plain]);
    const [opened] = await rotated.decode([sealedOld!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toMatchObject({ approver: 'ana' });
    const [sealedNew] = await rotated.encode([plain]);
    expect(text(sealedNew!.metadata![KEY_ID_METADATA])).toBe('k2');
    await expect(old.decode([sealedNew!])).rejects.toThrow('key id k2, which is not configured');
  });

  test('a wrong key, an altered byte or a relabelled key id fails authentication', async () => {
    const codec = codecWith('k1', [['k1', keyA]]);
    const [sealed] = await codec.encode([plain]);
    await expect(codecWith('k1', [['k1', keyB]]).decode([sealed!])).rejects.toThrow(CodecError);
    const altered = Buffer.from(sealed!.data!);
    altered[20] = altered[20]! ^ 1;
    await expect(codec.decode([{ ...sealed!, data: altered }])).rejects.toThrow('failed authentication');
    const both = codecWith('k1', [
      ['k1', keyA],
      ['k9', keyA],
    ]);
    const relabelled = { ...sealed!, metadata: { ...sealed!.metadata!, [KEY_ID_METADATA]: Buffer.from('k9') } };
    await expect(both.decode([relabelled])).rejects.toThrow('failed authentication');
  });

  test('payloads that are not encrypted pass through decode unchanged', async () => {
    const codec = codecWith('k1', [['k1', keyA]]);
    expect(await codec.decode([plain])).toEqual([plain]);
  });
});

describe('codecFromEnv', () => {
  const b64 = keyA.toString('base64');
  test('no key: no codec', () => {
    expect(codecFromEnv({})).toBeUndefined();
  });
  test('a key and id, with previous keys for rotation', async () => {
    const codec = codecFromEnv({
      CUTOVER_CODEC_KEY: b64,
      CUTOVER_CODEC_KEY_ID: '2026-11',
      CUTOVER_CODEC_PREVIOUS_KEYS: `2026-10=${keyB.toString('base64')}`,
    });
    expect(codec?.activeKeyId).toBe('2026-11');
    const [sealed] = await codecWith('2026-10', [['2026-10', keyB]]).encode([defaultPayloadConverter.toPayload(1)]);
    expect(defaultPayloadConverter.fromPayload((await codec!.decode([sealed!]))[0]!)).toBe(1);
  });
  test.each([
    ['a short key', { CUTOVER_CODEC_KEY: 'c2hvcnQ=' }, 'CUTOVER_CODEC_KEY: expected 32 bytes in base64'],
    [
      'a key id with a space',
      { CUTOVER_CODEC_KEY: b64, CUTOVER_CODEC_KEY_ID: 'a b' },
      'CUTOVER_CODEC_KEY_ID: expected 1–64 letters',
    ],
    [
      'a previous key that is not 32 bytes',
      { CUTOVER_CODEC_KEY: b64, CUTOVER_CODEC_PREVIOUS_KEYS: 'old=xyz' },
      'CUTOVER_CODEC_PREVIOUS_KEYS: entry "old=…"',
    ],
    [
      'previous keys without a key',
      { CUTOVER_CODEC_PREVIOUS_KEYS: `old=${b64}` },
      'CUTOVER_CODEC_PREVIOUS_KEYS: set CUTOVER_CODEC_KEY too',
    ],
  ])('%s is refused naming the variable', (_label, env, message) => {
    expect(() => codecFromEnv(env)).toThrow(message);
  });
});

describe('codec server', () => {
  const token = 'tok-' + randomBytes(16).toString('hex');
  const origin = 'http://127.0.0.1:8233';
  let server: http.Server;
  let base: string;
  const codec = codecWith('k1', [['k1', keyA]]);
  const logged: number[] = [];

  beforeAll(async () => {
    server = await serveCodec({ codec, token, origins: [origin], port: 0, onRequest: (e) => logged.push(e.status) });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  async function sealedBody(): Promise<string> {
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload({ kpi: 'PAR30', value: 0.042 })]);
    const wire = (b: Uint8Array) => Buffer.from(b).toString('base64');
    return JSON.stringify({
      payloads: [
        {
          metadata: Object.fromEntries(Object.entries(sealed!.metadata!).map(([k, v]) => [k, wire(v!)])),
          data: wire(sealed!.data!),
        },
      ],
    });
  }

  test('decodes for a caller with the token, by header or by path', async () => {
    const body = await sealedBody();
    for (const [url, headers] of [
      [`${base}/decode`, { authorization: `Bearer ${token}` }],
      [`${base}/${token}/decode`, {}],
    ] as const) {
      const res = await fetch(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...headers },
      });
      expect(res.status).toBe(200);
      const { payloads } = (await res.json()) as { payloads: { data: string }[] };
      expect(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString())).toEqual({ kpi: 'PAR30', value: 0.042 });
    }
  });

  test('refuses a caller without the token, or with a wrong one, and returns no payload', async () => {
    const body = await sealedBody();
    for (const [url, headers] of [
      [`${base}/decode`, {}],
      [`${base}/decode`, { authorization: `Bearer ${token}x` }],
      [`${base}/${token.slice(1)}/decode`, {}],
    ] as const) {
      const res = await fetch(url, { method: 'POST', body, headers });
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain('PAR30');
    }
  });

  test('CORS: the UI origin passes the preflight, another origin does not', async () => {
    const preflight = (o: string) =>
      fetch(`${base}/decode`, {
        method: 'OPTIONS',
        headers: {
          origin: o,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'x-namespace',
        },
      });
    const allowed = await preflight(origin);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(origin);
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/);
    const other = await preflight('http://evil.example');
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('malformed bodies and unknown paths get clear errors', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const bad = await fetch(`${base}/decode`, { method: 'POST', body: '{"payloads": 3}', headers: auth });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/expected \{"payloads"/);
    expect((await fetch(`${base}/other`, { method: 'POST', headers: auth })).status).toBe(404);
    expect((await fetch(`${base}/decode`, { headers: auth })).status).toBe(405);
    expect(logged).toContain(400);
  });
});
