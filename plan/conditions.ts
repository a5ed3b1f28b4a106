/**
 * What a dbt cutover's evidence may show that makes a role's sign-off needed (`signoff.requiredWhen`, the policy's
 * `requireSignoffWhen`): a model contract V2 breaks, an exposure downstream of a model V2 changes, a model whose own
 * builds disagree (noise). Pure, and safe in workflow code.
 */
export const SIGNOFF_CONDITIONS = ['contractBroken', 'exposureAffected', 'noisy'] as const;
export type SignoffCondition = (typeof SIGNOFF_CONDITIONS)[number];

/** How each condition reads where the gate says why a role is needed. */
export const CONDITION_TEXT: Record<SignoffCondition, string> = {
  contractBroken: 'a contract broken',
  exposureAffected: 'an exposure affected',
  noisy: 'a noisy model',
};
