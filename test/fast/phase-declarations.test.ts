/**
 * The phase declarations (shapes/phases.ts) are what the routing, the environments' workers, the policy's view
 * and the seal read: each activity is declared by a phase (or is the orchestrator's own), each environment's
 * workers register what its phases schedule, and each action is bound by the commands of the environment whose
 * queue runs it. The policy's view of whole plans is test/fast/policy-view.test.ts.
 */
import { createActivities, ENVIRONMENT_ACTIVITIES } from '../../activities';
import { ENVIRONMENTS } from '../../plan/environments';
import { actionsOf, environmentOfPath } from '../../policy/actions';
import { POLICY_ENVIRONMENTS } from '../../policy/schema';
import { CUTOVER_ACTIONS, PHASE_DECLARATIONS, PHASES } from '../../shapes/phases';
import { PHASE_ENVIRONMENT } from '../../workflows/queue-watch';
import { tempDir } from '../helpers/harness';
import { planWithEveryAction } from '../helpers/plans';

/** The activities that run on the cutover's own queue whatever the phase: the plan check, queue watch, notices, and the change calendar's answer. */
const ORCHESTRATOR_ACTIVITIES = ['checkPlan', 'describeQueue', 'notify', 'changeWindow'];

test('every activity the workers make is declared by a phase, or is the orchestrator’s own', () => {
  const made = Object.keys(createActivities({ dataDir: tempDir('phases-') })).sort();
  const declared = new Set(PHASES.flatMap((phase) => PHASE_DECLARATIONS[phase].activities));
  expect(made.filter((name) => !declared.has(name as never) && !ORCHESTRATOR_ACTIVITIES.includes(name))).toEqual([]);
  // And nothing is declared that the workers do not make.
  expect([...declared].filter((name) => !made.includes(name))).toEqual([]);
});

test("each environment's workers register exactly the activities of the phases routed to it", () => {
  const sorted = (names: readonly string[]) => [...names].sort();
  expect(Object.fromEntries(ENVIRONMENTS.map((e) => [e, sorted(ENVIRONMENT_ACTIVITIES[e])]))).toEqual({
    staging: ['checkHealth', 'rehearseRollback', 'runStep'],
    production: ['deployProduction', 'probe', 'runStep'],
    compute: ['reconcile', 'runShadow', 'runStress'],
  });
  expect(PHASE_ENVIRONMENT).toEqual({
    staging: 'staging',
    shadow: 'compute',
    stress: 'compute',
    'rollback-rehearsal': 'staging',
    signoff: undefined,
    production: 'production',
    monitoring: 'production',
    reconciliation: 'compute',
    decommission: 'production',
  });
});

test("a phase's actions are bound by the commands of the environment whose queue runs them", () => {
  for (const phase of PHASES) {
    const { environment, actions } = PHASE_DECLARATIONS[phase];
    for (const slot of actions) {
      expect(POLICY_ENVIRONMENTS).toContain(slot.commands);
      // The orchestrator's queue is bound by `default`; production's probe by its own list, within production.
      const expected =
        environment === undefined
          ? ['default']
          : environment === 'production'
            ? ['production', 'probe']
            : [environment];
      expect({ phase, path: slot.path, commands: expected.includes(slot.commands) }).toEqual({
        phase,
        path: slot.path,
        commands: true,
      });
    }
  }
  for (const slot of CUTOVER_ACTIONS) expect(slot.commands).toBe('default');
});

test('every declared slot is found in a plan that fills it, under its path and its commands', () => {
  const plan = planWithEveryAction();
  const paths = actionsOf(plan).map(({ path }) => path.replace(/\[\d+\]$/, ''));
  const slots = [...PHASES.flatMap((phase) => PHASE_DECLARATIONS[phase].actions), ...CUTOVER_ACTIONS];
  expect(new Set(paths)).toEqual(new Set(slots.map((slot) => slot.path)));
  for (const slot of slots) expect(environmentOfPath(`${slot.path}[0]`)).toBe(slot.commands);
  // A path no phase declares is bound by the default list, never by an environment's.
  expect(environmentOfPath('staging.unknown')).toBe('default');
});
