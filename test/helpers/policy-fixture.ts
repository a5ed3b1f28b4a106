/**
 * The policy tests' fixture on the real file system: an app folder with the one allowed script, a folder outside
 * it with a script and a symlink to it from inside, a data folder whose work root holds this cutover's and
 * another's work folders (with a symlink planted in its own), and the policy that allows only `node app/step.js`.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { ResolvedPolicy } from '../../policy/schema';
import { fileSystemResolver, loadPolicy } from '../../policy/load';
import { checkPlanAgainstPolicy } from '../../policy/check';
import type { CutoverPlanInput } from '../../plan/schema';
import { tempDir } from './harness';
import { makePlan, scriptPlanInput, scriptStep } from './plans';

export const ROOT = tempDir('policy-');
export const APP = path.join(ROOT, 'app');
export const OUTSIDE = path.join(ROOT, 'outside');
mkdirSync(APP);
mkdirSync(OUTSIDE);
writeFileSync(path.join(APP, 'step.js'), 'process.stdout.write("{}")');
writeFileSync(path.join(OUTSIDE, 'evil.js'), 'process.stdout.write("{}")');
// A symlink inside the allowed folder whose target lies outside it.
symlinkSync(path.join(OUTSIDE, 'evil.js'), path.join(APP, 'link.js'));

/** The policy file of these tests: node with app/step.js only, the app folder, one URL prefix. */
export function writePolicy(
  extra: Record<string, unknown> = {},
  releaseManagers: Record<string, unknown> = {},
): ResolvedPolicy {
  const file = path.join(ROOT, `policy-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    stringify({
      version: 1,
      releaseManagers,
      pipelines: [
        {
          match: 'test-*',
          roles: Object.fromEntries(
            ['engineering', 'qa', 'architecture', 'operations', 'business'].map((role, i) => [
              role,
              { approvers: [['ana', 'bo', 'cy', 'di', 'ed'][i]] },
            ]),
          ),
          commands: { default: [['node', 'app/step.js']] },
          env: ['LEDGER'],
          folders: ['app'],
          urls: ['http://127.0.0.1:8080/'],
          ceilings: {
            tolerances: { '*': { relative: 1e-9 }, PAR30: { relative: 0.05 } },
            stress: { latencyP99: '500ms', errorRate: 0.01 },
            rollbackTarget: '300s',
            triggers: { errorRate: 0.01, kpiDrift: 0.05, failedProbes: 3 },
          },
          ...extra,
        },
      ],
    }),
  );
  return loadPolicy(file);
}

export const step = scriptStep;

/** The workers' data folder, inside the policy's folder (as a data folder often is): every cutover's work root. */
export const DATA = path.join(APP, 'data');
export const CUTOVER = { workflowId: 'cutover-test-a', release: 'test-release' };
export const OWN = path.join(DATA, 'work', 'cutover-test-a');
export const OTHER = path.join(DATA, 'work', 'cutover-test-b');
mkdirSync(OWN, { recursive: true });
mkdirSync(path.join(OTHER, 'production'), { recursive: true });
// A symlink planted in the cutover's own work folder, pointing at the other cutover's folder.
symlinkSync(OTHER, path.join(OWN, 'link'));
// And one whose target does not exist yet: a cutover's folder still to come, which a step could create through it.
symlinkSync('../cutover-test-c', path.join(OWN, 'future'));

/** A plan whose every action runs `node step.js` in the app folder: within the policy. */
export function planInput(overrides: Partial<CutoverPlanInput> = {}): CutoverPlanInput {
  return scriptPlanInput(APP, '', overrides);
}

export function check(overrides: Partial<CutoverPlanInput> = {}, policy = writePolicy()) {
  return checkPlanAgainstPolicy(makePlan(planInput(overrides)), policy, fileSystemResolver);
}
