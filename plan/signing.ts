/**
 * Plans signed by release managers: an ed25519 signature over the plan's canonical JSON (RFC 8785 form: keys
 * sorted by UTF-16 code units, ECMAScript number and string serialisation; `canonicalJson`), carried in the
 * plan's own `signature` field so that a plan started from the raw `temporal` CLI carries it too.
 *
 * What is signed is the validated plan (defaults applied, `baseDir` absolute), the form the workflow
 * receives from `cutover start` and from `temporal workflow start --input-file` alike, without four fields:
 * `signature` itself, `initiator` (the signer becomes the initiator), `policyDigest` and `seal` (the workers set them).
 * The key id, the signer and the expiry are signed with it, and the release is part of the plan: a signature
 * cannot be moved to another plan or release, or used after it expires.
 */
import { canonicalJson, utf8 } from './canonical';
import { curve, decodeBytes, decodePublicKey } from './keys';
import type { CutoverPlan, PlanSignature } from './schema';

/** The exact bytes a release manager signs for `plan` under `signature`'s key id, signer and expiry. */
export function planSigningMessage(plan: CutoverPlan, signature: Omit<PlanSignature, 'value'>): Uint8Array {
  const { signature: _signature, initiator: _initiator, policyDigest: _policyDigest, seal: _seal, ...signed } = plan;
  return utf8(
    ['cutover-plan/v1', signature.keyId, signature.signer, signature.expiresAt, canonicalJson(signed)].join('\n'),
  );
}

/** Signs `plan`: returns it with its `signature` field (hex). */
export function signPlan(
  plan: CutoverPlan,
  privateKey: Uint8Array,
  by: Omit<PlanSignature, 'value'>,
): CutoverPlan & { signature: PlanSignature } {
  const { signature: _old, initiator: _initiator, policyDigest: _policyDigest, seal: _seal, ...rest } = plan;
  const value = Buffer.from(curve().sign(planSigningMessage(rest as CutoverPlan, by), privateKey)).toString('hex');
  return { ...rest, signature: { ...by, value } };
}

/** Why `plan`'s signature does not hold under `publicKey` at `now`, or nothing when it does. */
export function planSignatureProblem(plan: CutoverPlan, publicKey: string, now: Date): string | undefined {
  const signature = plan.signature;
  if (!signature) return 'the plan is not signed';
  if (Date.parse(signature.expiresAt) <= now.getTime()) return `the signature expired at ${signature.expiresAt}`;
  const key = decodePublicKey(publicKey);
  const value = decodeBytes(signature.value, 64);
  if (!key || !value) return 'the signature is not a valid ed25519 signature';
  try {
    if (curve().verify(value, planSigningMessage(plan, signature), key)) return undefined;
  } catch {
    // A malformed signature: it does not verify.
  }
  return `the signature does not verify with key "${signature.keyId}": the plan changed after it was signed, or it was signed for another plan`;
}
