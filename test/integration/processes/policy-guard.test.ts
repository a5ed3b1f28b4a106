/**
 * The workers' policy at run time, just before an action starts (activities/policy-guard.ts): what a placeholder
 * expands into, another cutover's folders reached by path, `..` or a planted symlink, and the allowed command,
 * run for real.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ActionError } from '../../../activities/errors';
import { actionGuard } from '../../../activities/policy-guard';
import { runAction } from '../../../activities/runner';
import { FailureType } from '../../../plan/failures';
import { APP, CUTOVER, DATA, OTHER, OUTSIDE, OWN, ROOT, step, writePolicy } from '../../helpers/policy-fixture';

describe('at run time', () => {
  test('a placeholder that expands into another script is refused before anything runs', async () => {
    const marker = path.join(ROOT, 'ran.txt');
    writeFileSync(path.join(OUTSIDE, 'marker.js'), `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran')`);
    const guard = actionGuard({ policy: writePolicy(), dataDir: DATA }, CUTOVER);
    const err = await runAction({
      action: { name: 'deploy', run: ['node', '{dataset}'] },
      idempotencyKey: 'k',
      baseDir: APP,
      placeholders: { dataset: path.join(OUTSIDE, 'marker.js') },
      ...(guard ? { guard } : {}),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ActionError);
    expect(err).toMatchObject({ type: FailureType.PolicyViolation, retryable: false });
    expect((err as Error).message).toContain("deploy: refused by the workers' policy");
    expect(existsSync(marker)).toBe(false);
  });

  test('the allowed command runs; an http action outside the prefixes does not', async () => {
    const guard = actionGuard({ policy: writePolicy(), dataDir: DATA }, CUTOVER);
    const outcome = await runAction({
      action: step('x'),
      idempotencyKey: 'k',
      baseDir: APP,
      ...(guard ? { guard } : {}),
    });
    expect(outcome.stdout).toBe('{}');
    await expect(
      runAction({ action: { http: 'http://127.0.0.1:9/x' }, idempotencyKey: 'k', ...(guard ? { guard } : {}) }),
    ).rejects.toMatchObject({ type: FailureType.PolicyViolation });
  });

  test("at run time, after placeholders expand, another cutover's folder is refused and nothing runs", async () => {
    const marker = path.join(OTHER, 'production', 'touched');
    const guard = actionGuard({ policy: writePolicy(), dataDir: DATA }, CUTOVER);
    for (const target of [path.join(OTHER, 'production'), `${OWN}/link/production`, `${OWN}/../cutover-test-b`]) {
      const err = await runAction({
        action: { name: 'deploy', run: ['node', 'step.js', '--target', '{dataset}'] },
        idempotencyKey: 'k',
        baseDir: APP,
        placeholders: { dataset: target },
        ...(guard ? { guard } : {}),
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ type: FailureType.PolicyViolation, retryable: false });
      expect((err as Error).message).toContain("another cutover's work folder");
    }
    expect(existsSync(marker)).toBe(false);
    // The same step with its own folder runs.
    const outcome = await runAction({
      action: { name: 'deploy', run: ['node', 'step.js', '--target', '{dataset}'] },
      idempotencyKey: 'k',
      baseDir: APP,
      placeholders: { dataset: path.join(OWN, 'production') },
      ...(guard ? { guard } : {}),
    });
    expect(outcome.stdout).toBe('{}');
  });

  test("production's worker runs only production's commands: the same step allowed by default is refused there", async () => {
    const production = ['deploy', 'undo', 'probe', 'decommission'].map((name) => ['node', 'app/step.js', name]);
    const policy = writePolicy({ commands: { default: [['node', 'app/step.js']], production } });
    const run = (environment: 'production' | 'staging', name: string) => {
      const guard = actionGuard({ policy, dataDir: DATA }, CUTOVER, environment);
      return runAction({ action: step(name), idempotencyKey: 'k', baseDir: APP, ...(guard ? { guard } : {}) });
    };
    await expect(run('production', 'migrate')).rejects.toMatchObject({
      type: FailureType.PolicyViolation,
      message: expect.stringContaining('is not a command the policy allows in production'),
    });
    expect((await run('production', 'probe')).stdout).toBe('{}');
    expect((await run('staging', 'migrate')).stdout).toBe('{}');
  });
});
