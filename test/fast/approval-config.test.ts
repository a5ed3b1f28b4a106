/**
 * The approval app's configuration and who may sign what: outside dev mode it refuses to start without its
 * secrets, every bad value is named; a role needs both the organisation's group and the plan's listing.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { ed25519 } from '@noble/curves/ed25519';
import { stringify } from 'yaml';
import { createCheckPlan } from '../../activities/plan-check';
import { loadServeConfig } from '../../approval/config';
import { environmentQueues } from '../../plan/environments';
import { loadPolicy } from '../../policy/load';
import { parseRoleGroups, type RoleGroups } from '../../plan/role-groups';
import { ConfigError, loadConfig } from '../../worker/config';
import { makePlan } from '../helpers/plans';
import { rolesFor, type Login } from '../../approval/identity';
import { signOffFormSchema } from '../../approval/app';
import type { RoleView } from '../../shapes/evidence';
import { tempDir } from '../helpers/harness';

const keyFile = path.join(tempDir('approval-config-'), 'attester.key');
const privateKey = ed25519.utils.randomPrivateKey();
writeFileSync(keyFile, Buffer.from(privateKey).toString('hex'));

const production = {
  CUTOVER_SESSION_SECRET: 'x'.repeat(32),
  CUTOVER_ATTESTER_KEY_ID: 'app-1',
  CUTOVER_ATTESTER_KEY_FILE: keyFile,
  CUTOVER_OIDC_ISSUER: 'https://login.example.org',
  CUTOVER_OIDC_CLIENT_ID: 'cutover',
  CUTOVER_OIDC_CLIENT_SECRET: 'secret',
};

const without = (name: keyof typeof production) => {
  const { [name]: _gone, ...rest } = production;
  return rest;
};

test('with every secret given, the configuration names its key and scopes', () => {
  const config = loadServeConfig(production);
  expect(config.attester.keyId).toBe('app-1');
  expect(config.attester.publicKey).toBe(Buffer.from(ed25519.getPublicKey(privateKey)).toString('hex'));
  expect(config.oidc.scopes).toBe('openid profile email groups');
  expect(config.generated).toEqual([]);
});

test.each([
  ['CUTOVER_SESSION_SECRET', 'CUTOVER_SESSION_SECRET is not set: the app signs its session cookies with it'],
  ['CUTOVER_ATTESTER_KEY_FILE', 'CUTOVER_ATTESTER_KEY_FILE is not set: the app signs every sign-off it relays with it'],
  ['CUTOVER_OIDC_ISSUER', 'CUTOVER_OIDC_ISSUER is not set'],
  ['CUTOVER_OIDC_CLIENT_SECRET', 'CUTOVER_OIDC_CLIENT_SECRET is not set'],
] as const)('outside dev mode, it refuses to start without %s', (name, message) => {
  expect(() => loadServeConfig(without(name))).toThrow(message);
});

test('dev mode makes up the session secret and the attester key, and says so', () => {
  const config = loadServeConfig(
    { CUTOVER_OIDC_ISSUER: 'http://127.0.0.1:4455', CUTOVER_OIDC_CLIENT_ID: 'cutover-approvals' },
    { dev: true },
  );
  expect(config.sessionSecret).toMatch(/^[0-9a-f]{64}$/);
  expect(config.generated.join('\n')).toContain(`CUTOVER_ATTESTER_KEYS=dev=${config.attester.publicKey}`);
});

test('a bad value is named with what was expected', () => {
  expect(() => loadServeConfig({ ...production, CUTOVER_SESSION_SECRET: 'short' })).toThrow(
    'CUTOVER_SESSION_SECRET="short": expected at least 32 characters',
  );
  expect(() => loadServeConfig({ ...production, CUTOVER_OIDC_ISSUER: 'ftp://x' })).toThrow(
    'CUTOVER_OIDC_ISSUER="ftp://x": expected an http:// or https:// URL',
  );
  const badKey = path.join(tempDir('approval-config-'), 'bad.key');
  writeFileSync(badKey, 'not a key');
  expect(() => loadServeConfig({ ...production, CUTOVER_ATTESTER_KEY_FILE: badKey })).toThrow(
    'expected an ed25519 private key (32 bytes, hex or base64)',
  );
  expect(parseRoleGroups('qa=risk-qa|qa-leads,business=biz-owners')).toEqual({
    qa: ['risk-qa', 'qa-leads'],
    business: ['biz-owners'],
  });
  expect(() => loadConfig({ CUTOVER_ROLE_GROUPS: 'qa' })).toThrow(ConfigError);
  expect(() => loadConfig({ CUTOVER_ROLE_GROUPS: 'qa=a,qa=b' })).toThrow('CUTOVER_ROLE_GROUPS: role qa is given twice');
  expect(() => loadConfig({ CUTOVER_ROLE_GROUPS: 'qa=a||b' })).toThrow(
    'CUTOVER_ROLE_GROUPS: "qa=a||b": expected role=group or role=group|group',
  );
});

const roles: RoleView[] = [
  { role: 'qa', required: 1, approvers: ['bo'], approvedBy: [], missing: 1 },
  { role: 'business', required: 1, approvers: ['ed', 'gus'], approvedBy: [], missing: 1 },
  { role: 'architecture', required: 1, approvers: ['cy'], approvedBy: [], missing: 1 },
];
const login = (user: string, groups: string[]): Login => ({ issuer: 'https://idp', subject: user, user, groups });
const groups = parseRoleGroups('qa=risk-qa,business=biz-owners') as RoleGroups;

test('a role needs the group that holds it and the plan listing the user; the plan narrows, never widens', () => {
  expect(rolesFor(login('bo', ['risk-qa']), groups, roles)).toEqual([
    { role: 'qa', may: true },
    { role: 'business', may: false, why: 'bo is not in a group that holds business (biz-owners)' },
    {
      role: 'architecture',
      may: false,
      why: 'the workers name no group that holds architecture (their CUTOVER_ROLE_GROUPS or policy)',
    },
  ]);
  // In the group, not in the plan: narrowed out.
  expect(rolesFor(login('gus', ['risk-qa']), groups, roles)[0]).toEqual({
    role: 'qa',
    may: false,
    why: 'the plan does not list gus among the approvers for qa (bo)',
  });
  // In the plan, not in the group: the plan cannot widen the organisation's word.
  expect(rolesFor(login('gus', ['staff']), groups, roles)[1]).toEqual({
    role: 'business',
    may: false,
    why: 'gus is not in a group that holds business (biz-owners)',
  });
});

test('the sign-off form is checked field by field', () => {
  const digest = 'a'.repeat(64);
  const base = { _csrf: 't', role: 'qa', decision: 'approve', evidenceDigest: digest };
  expect(signOffFormSchema.parse({ ...base, comment: '  ' })).toEqual({ ...base });
  expect(signOffFormSchema.safeParse({ ...base, role: 'QA!' }).error?.issues[0]?.message).toBe(
    'expected a role of the plan',
  );
  expect(signOffFormSchema.safeParse({ ...base, evidenceDigest: 'abc' }).error?.issues[0]?.path).toEqual([
    'evidenceDigest',
  ]);
  expect(signOffFormSchema.safeParse({ ...base, comment: 'x'.repeat(2001) }).success).toBe(false);
});

test("the workers' plan check gives the cutover its role groups and the app's address; a plan's own are dropped", async () => {
  const settings = {
    keys: {},
    require: false,
    maxAge: '10m',
    roleGroups: { qa: ['risk-qa'], business: ['biz-owners'] },
  };
  const claimed = makePlan();
  const plan = {
    ...claimed,
    approvalUrl: 'https://evil.example.org',
    signoff: { ...claimed.signoff, roleGroups: { qa: ['everyone'], engineering: ['everyone'] } },
  };
  const effective = await createCheckPlan({
    queues: environmentQueues('tq'),
    attestation: settings,
    approvalUrl: 'https://cutover.example.org',
  })(plan);
  expect(effective.approvalUrl).toBe('https://cutover.example.org');
  expect(effective.signoff.roleGroups).toEqual({ qa: ['risk-qa'], business: ['biz-owners'] });
  const unset = await createCheckPlan({ queues: environmentQueues('tq') })(plan);
  expect(unset.approvalUrl).toBeUndefined();
  expect(unset.signoff.roleGroups).toBeUndefined();

  // The organisation policy's groups take a role over from CUTOVER_ROLE_GROUPS.
  const file = path.join(tempDir('approval-policy-'), 'policy.yaml');
  writeFileSync(
    file,
    stringify({
      version: 1,
      default: {
        roles: { qa: { approvers: ['bo'], groups: ['qa-leads'] } },
        commands: { default: [[process.execPath]] },
        folders: ['/'],
      },
    }),
  );
  const withPolicy = await createCheckPlan({
    policy: loadPolicy(file),
    queues: environmentQueues('tq'),
    attestation: settings,
  })(claimed);
  expect(withPolicy.signoff.roleGroups).toEqual({ qa: ['qa-leads'], business: ['biz-owners'] });
});

test('the login’s user is compared with the plan’s approvers as the gate compares names (Ana@Example.org is ana@example.org)', () => {
  const mailRoles: RoleView[] = [
    { role: 'qa', required: 1, approvers: ['ana@example.org'], approvedBy: [], missing: 1 },
  ];
  expect(rolesFor(login('Ana@Example.org', ['risk-qa']), groups, mailRoles)).toEqual([{ role: 'qa', may: true }]);
  expect(rolesFor(login('anna@example.org', ['risk-qa']), groups, mailRoles)[0]).toMatchObject({ may: false });
});
