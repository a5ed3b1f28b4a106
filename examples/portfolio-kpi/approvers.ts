/**
 * The example plan's approvers, one per role (plan.yaml's `signoff.roles`): defined once for the dev stack's
 * instructions, the benches and the chaos suite.
 */
export const EXAMPLE_APPROVERS: readonly [string, string][] = [
  ['engineering', 'ana'],
  ['qa', 'bo'],
  ['architecture', 'cy'],
  ['operations', 'di'],
  ['business', 'ed'],
];
