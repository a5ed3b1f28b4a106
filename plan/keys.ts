/**
 * ed25519 keys and signatures as plans and sign-offs carry them (hex or base64), without zod and without
 * Node built-ins: the workflow's gate verifies signatures with these, the plan schema and the CLI use them too.
 */
import type { ed25519 as Ed25519 } from '@noble/curves/ed25519';

/** Decodes a hex or base64 ed25519 public key and checks that it is a point on the curve. */
export function decodePublicKey(text: string): Uint8Array | undefined {
  const bytes = decodeBytes(text, 32);
  if (!bytes) return undefined;
  try {
    curve().ExtendedPoint.fromHex(bytes);
    return bytes;
  } catch {
    return undefined;
  }
}

/** Decodes hex or base64 text of exactly `length` bytes. */
export function decodeBytes(text: string, length: number): Uint8Array | undefined {
  if (new RegExp(`^[0-9a-fA-F]{${length * 2}}$`).test(text)) {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
    return out;
  }
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text)) {
    const out = base64Decode(text);
    return out && out.length === length ? out : undefined;
  }
  return undefined;
}

function base64Decode(text: string): Uint8Array | undefined {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const clean = text.replace(/=+$/, '');
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of clean) {
    const value = alphabet.indexOf(char);
    if (value < 0) return undefined;
    buffer = (buffer << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((buffer >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

/** The ed25519 curve, loaded on first use: a cutover without signatures never evaluates it. */
export function curve(): typeof Ed25519 {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('@noble/curves/ed25519') as { ed25519: typeof Ed25519 }).ed25519;
}

/**
 * KEYID=PUBLICKEY pairs, comma-separated, as the variable `variable` holds them (CUTOVER_ATTESTER_KEYS,
 * CUTOVER_WORKER_KEYS): the workers read them, and so does the record check of the report and the app. A pair
 * that is not a key id and an ed25519 public key throws, naming it.
 */
export function parseKeyPairs(variable: string, text: string | undefined): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const pair of (text ?? '').split(',').filter((p) => p.trim() !== '')) {
    const [id, key] = pair.split('=').map((part) => part.trim());
    if (!id || !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(id) || !key || decodePublicKey(key) === undefined) {
      throw new Error(
        `${variable}: "${pair.trim().slice(0, 80)}": expected KEYID=PUBLICKEY (an ed25519 public key, hex or base64)`,
      );
    }
    keys[id] = key;
  }
  return keys;
}
