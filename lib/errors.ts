/**
 * The client's own errors, apart from api.ts so that the CLI can name them without loading the Temporal client
 * (a command that never connects, such as `plan validate` or a refused `start`, starts a third faster).
 */

/** A mistake of the user's: printed as one line, exit code 1, no stack trace. */
export class UserError extends Error {
  override readonly name = 'UserError';
}
