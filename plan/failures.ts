/**
 * `ApplicationFailure` type strings. Retry policies and callers match on these constants, never on class
 * names. Pure: imported by workflows, activities and the client alike.
 */
export const FailureType = {
  /** The plan is not valid; nothing was started. */
  InvalidPlan: 'InvalidPlan',
  /** An action ran and failed in a way a retry cannot fix (exit code, HTTP status, missing binary). */
  ActionFailed: 'ActionFailed',
  /** An action's output was not what the contract says (not JSON, a metric missing or out of range). */
  InvalidOutput: 'InvalidOutput',
  /** A measured figure missed its threshold: a verdict, not a fault. */
  ThresholdFailed: 'ThresholdFailed',
  /** Shadow mode or reconciliation found V2 outside its tolerances. */
  ComparisonFailed: 'ComparisonFailed',
  /** Health checks never came good within their time. */
  Unhealthy: 'Unhealthy',
  /** The sign-off deadline and its escalation window both passed. */
  SignoffExpired: 'SignoffExpired',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Types that a retry cannot fix: every activity retry policy lists them as non-retryable. */
export const NON_RETRYABLE_TYPES: string[] = [
  FailureType.InvalidPlan,
  FailureType.ActionFailed,
  FailureType.InvalidOutput,
  FailureType.ThresholdFailed,
  FailureType.ComparisonFailed,
  FailureType.Unhealthy,
];
