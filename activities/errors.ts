/**
 * Domain errors of the activities, and their conversion into `ApplicationFailure`s whose `type` is one of
 * the exported constants, so retry policies never match on class names.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../plan/failures';

/** An action failed. `retryable` says whether another attempt could succeed. */
export class ActionError extends Error {
  override readonly name = 'ActionError';
  constructor(
    message: string,
    readonly type: FailureType,
    readonly retryable: boolean,
    readonly context: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

/** Converts a domain error into the failure Temporal records; anything else is rethrown as it is. */
export function toFailure(err: unknown, details?: unknown): unknown {
  if (err instanceof ActionError) {
    return ApplicationFailure.create({
      type: err.retryable ? FailureType.ActionTransient : err.type,
      message: err.message,
      nonRetryable: !err.retryable,
      cause: err,
      details: details === undefined ? [err.context] : [details],
    });
  }
  return err;
}

/** A verdict that fails the phase: non-retryable, carrying the phase's evidence as details. */
export function verdictFailure(type: FailureType, message: string, evidence: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: [evidence] });
}
