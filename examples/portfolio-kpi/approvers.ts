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

/** Which of the example organisation's groups hold which role (the workers' CUTOVER_ROLE_GROUPS). */
export const EXAMPLE_ROLE_GROUPS =
  'engineering=eng-leads,qa=risk-qa,architecture=arch-board,operations=ops-oncall,business=biz-owners';

/**
 * The local OpenID provider's users (`npm start`): the five approvers in their role's group, and three who are
 * not approvers of the example (fay in no group that holds a role; gus in risk-qa but not in the plan; hal in
 * more groups than the approval app's session cookie can hold).
 * Their password is `<login>-pass`: a local stand-in for the organisation's directory.
 */
export const EXAMPLE_LOGINS: readonly { login: string; name: string; groups: string[] }[] = [
  { login: 'ana', name: 'Ana Alves', groups: ['eng-leads'] },
  { login: 'bo', name: 'Bo Berg', groups: ['risk-qa'] },
  { login: 'cy', name: 'Cy Chen', groups: ['arch-board'] },
  { login: 'di', name: 'Di Diaz', groups: ['ops-oncall'] },
  { login: 'ed', name: 'Ed Eze', groups: ['biz-owners'] },
  { login: 'fay', name: 'Fay Fox', groups: ['staff'] },
  { login: 'gus', name: 'Gus Gray', groups: ['risk-qa'] },
  // In 120 groups, as people in large organisations are: more than a session cookie holds.
  {
    login: 'hal',
    name: 'Hal Hill',
    groups: Array.from({ length: 120 }, (_, i) => `org-unit-${String(i).padStart(3, '0')}-members`),
  },
];

export const examplePassword = (login: string) => `${login}-pass`;
