/**
 * AES-256-GCM payload codec: everything the Temporal server stores (plans, evidence, sign-offs, audit
 * trail, query results) is encrypted by the worker and the CLI before it leaves the process.
 *
 * An encrypted payload is `binary/encrypted` with the key id in its metadata, so keys can rotate: new
 * payloads use the active key, old ones decode with whichever key they name. The plaintext is the whole
 * original Payload (metadata and data), protobuf-encoded; the ciphertext is `iv(12) | sealed | tag(16)`,
 * with the key id as additional authenticated data so a payload cannot be moved to another key's name.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const utf8 = new TextEncoder();
const PayloadProto = temporal.api.common.v1.Payload;

/** A codec setting that is missing or malformed, or a payload that cannot be decrypted. */
export class CodecError extends Error {
  override readonly name = 'CodecError';
}

export interface CodecKeys {
  /** The key id new payloads are encrypted with. */
  activeKeyId: string;
  keys: ReadonlyMap<string, Buffer>;
}

export class AesGcmCodec implements PayloadCodec {
  constructor(private readonly keys: CodecKeys) {
    if (!keys.keys.has(keys.activeKeyId)) throw new CodecError(`no key with the active id ${keys.activeKeyId}`);
  }

  get activeKeyId(): string {
    return this.keys.activeKeyId;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.keys.activeKeyId;
    const key = this.keys.keys.get(keyId)!;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(utf8.encode(keyId));
      const sealed = Buffer.concat([cipher.update(PayloadProto.encode(payload).finish()), cipher.final()]);
      return {
        metadata: { encoding: utf8.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8.encode(keyId) },
        data: Buffer.concat([iv, sealed, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (metadataText(payload, 'encoding') !== ENCRYPTED_ENCODING) return payload;
      const keyId = metadataText(payload, KEY_ID_METADATA);
      if (!keyId) throw new CodecError(`an encrypted payload has no ${KEY_ID_METADATA} metadata`);
      const key = this.keys.keys.get(keyId);
      if (!key) throw new CodecError(`a payload is encrypted with key id ${keyId}, which is not configured`);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new CodecError('an encrypted payload is too short');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(utf8.encode(keyId));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new CodecError(`a payload encrypted with key id ${keyId} failed authentication (wrong key or altered)`);
      }
      const decoded = PayloadProto.decode(plain);
      return { metadata: decoded.metadata ?? {}, data: decoded.data ?? new Uint8Array() };
    });
  }
}

function metadataText(payload: Payload, key: string): string | undefined {
  const value = payload.metadata?.[key];
  return value ? Buffer.from(value).toString('utf8') : undefined;
}

const keyId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'expected 1–64 letters, digits, . _ or -' });
const key = z
  .string()
  .transform((v) => Buffer.from(v, 'base64'))
  .refine((b) => b.length === 32, { error: 'expected 32 bytes in base64 (openssl rand -base64 32)' });

export const codecEnvSchema = z.object({
  CUTOVER_CODEC_KEY: key.optional().describe('AES-256 key in base64; set it to encrypt every payload'),
  CUTOVER_CODEC_KEY_ID: keyId.default('default').describe('Id of CUTOVER_CODEC_KEY, stored with each payload'),
  CUTOVER_CODEC_PREVIOUS_KEYS: z
    .string()
    .optional()
    .describe('Older keys still able to decrypt, as id=base64,id=base64 (key rotation)'),
});

/**
 * The codec the environment asks for, or undefined when CUTOVER_CODEC_KEY is not set (payloads then go
 * to the server as plain JSON). A malformed setting throws a CodecError naming the variable.
 */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmCodec | undefined {
  // An empty variable counts as unset, as `CUTOVER_CODEC_KEY= cutover …` means.
  const set = (name: string) => (env[name] === '' ? undefined : env[name]);
  const parsed = codecEnvSchema.safeParse({
    CUTOVER_CODEC_KEY: set('CUTOVER_CODEC_KEY'),
    CUTOVER_CODEC_KEY_ID: set('CUTOVER_CODEC_KEY_ID'),
    CUTOVER_CODEC_PREVIOUS_KEYS: set('CUTOVER_CODEC_PREVIOUS_KEYS'),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    throw new CodecError(`${name}: ${issue.message}`);
  }
  const { CUTOVER_CODEC_KEY, CUTOVER_CODEC_KEY_ID, CUTOVER_CODEC_PREVIOUS_KEYS } = parsed.data;
  if (!CUTOVER_CODEC_KEY) {
    if (CUTOVER_CODEC_PREVIOUS_KEYS) throw new CodecError('CUTOVER_CODEC_PREVIOUS_KEYS: set CUTOVER_CODEC_KEY too');
    return undefined;
  }
  const keys = new Map<string, Buffer>([[CUTOVER_CODEC_KEY_ID, CUTOVER_CODEC_KEY]]);
  for (const entry of (CUTOVER_CODEC_PREVIOUS_KEYS ?? '').split(',').filter((e) => e.trim())) {
    const [id = '', value = ''] = entry.trim().split(/=(.*)/s);
    const parsedId = keyId.safeParse(id);
    const parsedKey = key.safeParse(value);
    if (!parsedId.success || !parsedKey.success) {
      throw new CodecError(
        `CUTOVER_CODEC_PREVIOUS_KEYS: entry "${id}=…": ${(parsedId.error ?? parsedKey.error)!.issues[0]!.message}`,
      );
    }
    if (keys.has(id)) throw new CodecError(`CUTOVER_CODEC_PREVIOUS_KEYS: key id ${id} appears twice`);
    keys.set(id, parsedKey.data);
  }
  return new AesGcmCodec({ activeKeyId: CUTOVER_CODEC_KEY_ID, keys });
}
