/**
 * The zod twin of the workflow's message checks (workflows/message-checks.ts): the rules of a sign-off and a
 * rollback request written as schemas, so message-checks.test.ts can hold the zod-free checks that run in
 * every cutover to the same verdicts. Its only user is that test; no running cutover loads zod.
 */
import { z } from 'zod';
import { MAX_COMMENT_LENGTH, type RollbackRequest, type SignOff } from '../../workflows/messages';

/** A sign-off, as sent by the CLI, `temporal workflow signal` or the UI's signal form. */
export const signOffSchema = z.strictObject({
  role: z.string().min(1).max(64),
  approver: z.string().min(1).max(128),
  decision: z.enum(['approve', 'reject']),
  comment: z.string().max(MAX_COMMENT_LENGTH).optional(),
  /** The evidence digest the approver saw (`cutover status` shows it). */
  evidenceDigest: z
    .string()
    .regex(/^[0-9a-f]{64}$/, { error: 'expected the 64-character hex evidence digest' })
    .optional(),
  /** ed25519 signature (hex or base64) over `signOffMessage(...)`; required when the plan has keys. */
  signature: z.string().max(200).optional(),
  /** The approval app's attestation of who signed. */
  attestation: z
    .strictObject({
      keyId: z.string().min(1).max(64),
      issuer: z.string().min(1).max(512),
      subject: z.string().min(1).max(512),
      issuedAt: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      signature: z.string().min(1).max(200),
    })
    .optional(),
});
// The schema's shape is the interface's: a field added to one and not the other fails typecheck here.
const _sameSignOff: [SignOff, z.infer<typeof signOffSchema>] extends [z.infer<typeof signOffSchema>, SignOff]
  ? true
  : never = true;

export const rollbackRequestSchema = z.strictObject({
  requestedBy: z.string().min(1).max(128),
  reason: z.string().min(1).max(MAX_COMMENT_LENGTH),
});
const _sameRollbackRequest: [RollbackRequest, z.infer<typeof rollbackRequestSchema>] extends [
  z.infer<typeof rollbackRequestSchema>,
  RollbackRequest,
]
  ? true
  : never = true;
