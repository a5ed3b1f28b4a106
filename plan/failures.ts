/**
 * Every `ApplicationFailure` type string of cutover, defined once. Retry policies, the workflow, the CLI and
 * the tests match on these constants, never on class names or retyped strings. Pure: imported by workflows,
 * activities and the client alike.
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
  /** The workers' policy refuses the plan (at the plan check) or an action (at run time). */
  PolicyViolation: 'PolicyViolation',
  /**
   * The worker holds another policy than the one the cutover was checked against: it refuses the activity at
   * once, and the workflow waits for a worker with the cutover's policy (never a run under other rules).
   */
  PolicyMismatch: 'PolicyMismatch',
  /** The sign-off deadline and its escalation window both passed. */
  SignoffExpired: 'SignoffExpired',
  /** An action failed in a way another attempt may fix (timeout, signal, 5xx, EX_TEMPFAIL): retried. */
  ActionTransient: 'ActionTransient',
  /** A `submitSignOff` update too large to keep in history, refused by its validator before anything is written. */
  MalformedSignOff: 'MalformedSignOff',
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
  FailureType.PolicyViolation,
];
