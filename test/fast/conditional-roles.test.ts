/**
 * Roles the gate awaits only when a dbt cutover's evidence shows something (`signoff.requiredWhen`; the policy's
 * `requireSignoffWhen`): a broken contract, an exposure downstream of a change, a noisy model. The plan names the
 * role and its approvers; the policy may demand one; the gate finds the reasons in the shadow's models when it
 * opens, and the role is awaited then (and only then), its reason shown.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { planSchema } from '../../plan/schema';
import type { ModelReport } from '../../shapes/evidence';
import type { GateState } from '../../shapes/status';
import { applySignOff, gateRules, gateView } from '../../workflows/gate';
import { neededBecause } from '../../workflows/gate-needs';
import { roleLabel } from '../../workflows/output-lines';
import { APP, check, planInput, writePolicy } from '../helpers/policy-fixture';

const ROLES = { engineering: ['ana'], qa: ['bo'], architecture: ['cy'], operations: ['di'], business: ['ed'] };
mkdirSync(path.join(APP, 'jaffle'), { recursive: true });
const dbt = { project: 'jaffle', v1: { ref: 'v1' }, v2: { ref: 'v2' }, database: 'warehouse', schema: 'jaffle' };

/** A plan with the five roles and `extra` ones, `requiredWhen` as given, a dbt section unless `kpi`. */
function withRoles(extra: Record<string, string[]>, requiredWhen?: Record<string, string[]>, kpi = false) {
  const input = planInput(kpi ? {} : ({ dbt } as Parameters<typeof planInput>[0]));
  return {
    ...input,
    signoff: { ...input.signoff, roles: { ...ROLES, ...extra }, ...(requiredWhen ? { requiredWhen } : {}) },
  } as Parameters<typeof planInput>[0];
}

const policy = (requireSignoffWhen?: Record<string, string>) =>
  writePolicy({
    databases: { warehouse: { schemas: ['jaffle_v1', 'jaffle_v2'] } },
    ...(requireSignoffWhen ? { requireSignoffWhen } : {}),
  });

test('a conditional role must be one of the roles, and a condition one the evidence can show', () => {
  const problems = (input: unknown) =>
    planSchema.safeParse(input).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  expect(problems(withRoles({}, { 'data-owner': ['noisy'] }))).toEqual([
    'signoff.requiredWhen.data-owner: no role "data-owner" in signoff.roles: list its approvers there',
  ]);
  expect(problems(withRoles({ 'data-owner': ['flo'] }, { 'data-owner': ['rainy'] }))?.[0]).toMatch(
    /^signoff\.requiredWhen\.data-owner\.0: /,
  );
});

test("the policy's requireSignoffWhen: the role listed, its condition joined, a role it requires never conditional", () => {
  const needs = policy({ noisy: 'data-owner', contractBroken: 'architecture' });
  // Not listed: refused by path, saying how to list it.
  expect(check(withRoles({}), needs).problems).toEqual([
    {
      path: 'signoff.roles',
      message:
        'the policy needs role "data-owner" to sign when the evidence shows a noisy model: list its approvers (signoff.requiredWhen.data-owner: [noisy] awaits it only then)',
    },
  ]);
  // Listed as conditional on something else: the policy's condition joins the plan's in the effective plan.
  const joined = check(withRoles({ 'data-owner': ['flo'] }, { 'data-owner': ['exposureAffected'] }), needs);
  expect(joined.problems).toEqual([]);
  expect(joined.effective.signoff.requiredWhen).toEqual({ 'data-owner': ['exposureAffected', 'noisy'] });
  // Awaited always (architecture is one of the five): nothing to add.
  expect(check(withRoles({ 'data-owner': ['flo'] }), needs).effective.signoff.requiredWhen).toBeUndefined();
  // A role the policy requires always cannot be made conditional by a plan.
  expect(check(withRoles({}, { qa: ['noisy'] }), policy()).problems).toEqual([
    { path: 'signoff.requiredWhen.qa', message: 'the policy requires role "qa" always: it cannot be conditional' },
  ]);
  // A plan with no dbt section shows none of these: the policy asks nothing of it.
  expect(check(withRoles({}, undefined, true), needs).problems).toEqual([]);
});

/** The shadow's evidence with these models. */
const evidence = (...models: Partial<ModelReport>[]) => ({
  shadow: {
    datasets: [
      {
        models: models.map((m) => ({
          model: 'm',
          contractBroken: [],
          downstream: { models: [], exposures: [] },
          ...m,
        })),
      },
    ],
  },
});

const record = (role: string, approver: string) => ({
  role,
  approver,
  decision: 'approve' as const,
  digest: 'd',
  signed: false,
  at: 't',
  via: 'update' as const,
});

/** The five roles' sign-offs on `gate`. */
const fiveSigned = (config: ReturnType<typeof gateRules>, gate: GateState) =>
  Object.entries(ROLES).reduce((g, [role, [who]]) => applySignOff(config, g, record(role, who as string)), gate);

test('the gate awaits a conditional role only when the evidence shows its condition, and says why', () => {
  const plan = planSchema.parse(
    withRoles({ 'data-owner': ['flo'] }, { 'data-owner': ['noisy', 'contractBroken', 'exposureAffected'] }),
  );
  const config = gateRules(plan, 'cutover-x');
  const opened = (e: Record<string, unknown>): GateState => {
    const needs = neededBecause(config.requiredWhen, e);
    return { status: 'open', evidenceDigest: 'd', signoffs: [], ...(needs ? { needs } : {}) };
  };
  // Clean evidence: the five roles approve it; data-owner is not awaited.
  const clean = fiveSigned(config, opened(evidence({ model: 'orders' })));
  expect(clean.status).toBe('approved');
  const idle = gateView(config, clean).roles.find((r) => r.role === 'data-owner');
  expect(idle).toMatchObject({ required: 0, missing: 0 });
  expect(roleLabel(idle as NonNullable<typeof idle>)).toBe(
    'data-owner (not awaited: only on noisy, contractBroken, exposureAffected)',
  );
  // A noisy model and an exposure downstream of a change: awaited, with the models named.
  const shown = evidence(
    { model: 'customers', noise: { columns: [], rows: { aa: 1, v2: 1 }, mayHide: [] } },
    { model: 'orders', downstream: { models: [], exposures: ['finance_dashboard'] } },
  );
  const waiting = fiveSigned(config, opened(shown));
  expect(waiting.status).toBe('open');
  const role = gateView(config, waiting).roles.find((r) => r.role === 'data-owner');
  expect(role).toMatchObject({ required: 1, missing: 1 });
  expect(roleLabel(role as NonNullable<typeof role>)).toBe(
    'data-owner (needed: a noisy model: customers; an exposure affected: orders)',
  );
  expect(applySignOff(config, waiting, record('data-owner', 'flo')).status).toBe('approved');
  // And a plan with no conditional role finds nothing to add.
  expect(neededBecause(undefined, shown)).toBeUndefined();
});
