/**
 * Which of the organisation's identity-provider groups hold which sign-off role: `role=group|group` pairs,
 * comma-separated, as the workers' CUTOVER_ROLE_GROUPS gives them (the organisation policy's
 * `rules.roles.<role>.groups` take a role over). The approval app reads them from the cutover's status.
 */
export type RoleGroups = Record<string, string[]>;

/** Parses `qa=risk-qa|qa-leads,business=biz-owners`; the message of a bad pair names it. */
export function parseRoleGroups(text: string | undefined): RoleGroups | { error: string } {
  const out: RoleGroups = {};
  for (const pair of (text ?? '').split(',').filter((p) => p.trim() !== '')) {
    const [role, groups, extra] = pair.split('=').map((part) => part.trim());
    const list = (groups ?? '').split('|').map((g) => g.trim());
    if (
      !role ||
      !/^[a-z][a-z0-9-]{0,31}$/.test(role) ||
      extra !== undefined ||
      list.some((g) => g === '' || g.length > 200)
    ) {
      return { error: `"${pair.trim().slice(0, 80)}": expected role=group or role=group|group (e.g. qa=risk-qa)` };
    }
    if (out[role]) return { error: `role ${role} is given twice` };
    out[role] = list;
  }
  return out;
}
