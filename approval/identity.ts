/**
 * Who a signed-in user may sign for. Two things must both hold for a role: the organisation's login puts
 * the user in a group that holds the role (the workers' CUTOVER_ROLE_GROUPS or their policy's groups, which
 * the cutover's status carries), and the plan lists the user
 * among the role's approvers. The plan can only narrow the organisation's word, never widen it; the user
 * never chooses who they are.
 */
import { canonicalName } from '../workflows/gate';
import type { CutoverStatus } from '../shapes/status';
import type { RoleView } from '../shapes/evidence';

/** A login as the OpenID provider vouched for it. */
export interface Login {
  issuer: string;
  subject: string;
  /** The configured user claim's value: the approver's name in the plan. */
  user: string;
  groups: string[];
  name?: string;
}

export type RoleAnswer = { role: string; may: true } | { role: string; may: false; why: string };

export function rolesFor(
  login: Login,
  roleGroups: Record<string, string[]> | undefined,
  roles: RoleView[],
): RoleAnswer[] {
  return roles.map(({ role, approvers }) => {
    const holders = roleGroups?.[role] ?? [];
    if (holders.length === 0) {
      return {
        role,
        may: false,
        why: `the workers name no group that holds ${role} (their CUTOVER_ROLE_GROUPS or policy)`,
      };
    }
    if (!holders.some((group) => login.groups.includes(group))) {
      return {
        role,
        may: false,
        why: `${login.user} is not in a group that holds ${role} (${holders.join(' or ')})`,
      };
    }
    // As the gate compares them: Ana@Example.org at the login is the plan's ana@example.org.
    if (!approvers.some((name) => canonicalName(name) === canonicalName(login.user))) {
      return {
        role,
        may: false,
        why: `the plan does not list ${login.user} among the approvers for ${role} (${approvers.join(', ')})`,
      };
    }
    return { role, may: true };
  });
}

/**
 * Who a signed-in user may break the glass as, while a change waits for the calendar: the policy's break-glass role
 * (its groups at the login, and its names), and the plan's roles as the second person (as for a sign-off).
 */
export function glassRolesFor(login: Login, s: CutoverStatus): RoleAnswer[] {
  const w = s.waitingForWindow;
  if (!w?.breakGlass) return [];
  const by = w.breakGlassBy ?? { approvers: [], groups: [] };
  const glass: RoleView = { role: w.breakGlass, required: 1, approvers: by.approvers, approvedBy: [], missing: 1 };
  return rolesFor(login, { ...s.roleGroups, [w.breakGlass]: by.groups }, [glass, ...s.gate.roles]);
}
