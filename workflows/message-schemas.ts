/**
 * The shapes of a sign-off and a rollback request (zod). Kept apart from messages.ts so that a running
 * cutover loads them only when a sign-off or request arrives: the sandbox evaluates modules per workflow.
 */
import { z } from 'zod';
import { MAX_COMMENT_LENGTH } from './messages';

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
});
export type SignOff = z.infer<typeof signOffSchema>;

export const rollbackRequestSchema = z.strictObject({
  requestedBy: z.string().min(1).max(128),
  reason: z.string().min(1).max(MAX_COMMENT_LENGTH),
});
export type RollbackRequest = z.infer<typeof rollbackRequestSchema>;
