/**
 * The policy sees every action a plan can hold: `actionsOf` (what the plan check and the run-time guard bound)
 * lists each one, found here by walking plans of every kind for anything shaped like an action (`run` argv or
 * `http` URL), so a new phase or field whose actions are left out of the policy's view fails here. Each listed
 * action has the environment whose commands bind it.
 */
import { actionsOf, environmentOfPath } from '../../policy/actions';
import { planSchema } from '../../plan/schema';
import { makePlanInput, planVariety, planWithEveryAction } from '../helpers/plans';

/** The paths (in actionsOf's notation) of everything in `value` that has the shape of an action. */
function actionPaths(value: unknown, at = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => actionPaths(item, `${at}[${i}]`));
  if (!value || typeof value !== 'object') return [];
  const record = value as Record<string, unknown>;
  const isAction = Array.isArray(record.run) || typeof record.http === 'string';
  const here = isAction ? [at] : [];
  return here.concat(
    Object.entries(record).flatMap(([key, child]) =>
      key === 'run' ? [] : actionPaths(child, at ? `${at}.${key}` : key),
    ),
  );
}

test.each(planVariety())('every action of %s is in the policy’s view', (_name, input) => {
  const plan = planSchema.parse(input);
  const seen = actionPaths(plan).sort();
  expect(
    actionsOf(plan)
      .map((a) => a.path)
      .sort(),
  ).toEqual(seen);
});

test('a plan with every optional action (generator, escalation, decommission, notifications) is seen whole', () => {
  const plan = planWithEveryAction();
  const paths = actionsOf(plan).map((a) => a.path);
  expect(paths).toEqual(
    expect.arrayContaining(['generator', 'signoff.escalate', 'production.decommission', 'notify[0]']),
  );
  expect(paths.sort()).toEqual(actionPaths(plan).sort());
});

test("each action is bound by its environment's commands: the pipelines by compute, staging's by staging, production's by production, the probe by its own list", () => {
  const plan = planSchema.parse(makePlanInput());
  const byEnvironment = Object.fromEntries(actionsOf(plan).map(({ path }) => [path, environmentOfPath(path)]));
  expect(byEnvironment).toMatchObject({
    generator: 'compute',
    baseline: 'compute',
    candidate: 'compute',
    'staging.deploy[0]': 'staging',
    'staging.tests': 'staging',
    rollback: 'staging',
    'production.deploy': 'production',
    'production.undo': 'production',
    'production.monitor.probe': 'probe',
    'production.decommission': 'production',
  });
});
