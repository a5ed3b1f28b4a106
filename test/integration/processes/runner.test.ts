/**
 * The action runner with real child processes and a real HTTP server on loopback.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { runAction, EXIT_TEMPFAIL, setActionNice } from '../../../activities/runner';
import { ActionError } from '../../../activities/errors';
import { stopLauncher } from '../../../activities/launcher';
import { createActivities } from '../../../activities';
import type { StressResult } from '../../../shapes/phases';
import { FailureType } from '../../../plan/failures';
import { nodeRun, makePlan } from '../../helpers/plans';
import { tempDir } from '../../helpers/harness';
import { freePort } from '../../../common/net';

const key = 'wf/run/staging/step';

async function failure(promise: Promise<unknown>): Promise<ActionError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ActionError);
  return err as ActionError;
}

describe('processes', () => {
  test('an action runs at the nice value the worker sets (an urgent one does not), and what it starts inherits it', async () => {
    // Field 19 of /proc/<pid>/stat is the nice value; the shell reads its own, then a child's.
    const niceOf = async (urgent = false) =>
      (
        await runAction({
          urgent,
          action: { run: ['sh', '-c', "cut -d' ' -f19 /proc/$$/stat; sh -c \"cut -d' ' -f19 /proc/\\$\\$/stat\""] },
          idempotencyKey: key,
          baseDir: tempDir(),
        })
      ).stdout.trim();
    const before = await niceOf();
    try {
      setActionNice(7);
      // Seven steps below the worker's own priority (nice values stop at 19).
      const lowered = Math.min(19, Number(before.split('\n')[0]) + 7);
      expect(await niceOf()).toBe(`${lowered}\n${lowered}`);
      // A deploy or the reference reading before it is on the approval's path: not lowered.
      expect(await niceOf(true)).toBe(before);
    } finally {
      setActionNice(0);
    }
    expect(await niceOf()).toBe(before);
  });

  test('runs argv without a shell, in cwd, with env and the idempotency key', async () => {
    const dir = tempDir();
    const out = await runAction({
      action: {
        run: [
          ...nodeRun(
            'process.stdout.write(JSON.stringify([process.cwd(), process.env.GREETING, process.env.CUTOVER_IDEMPOTENCY_KEY, process.argv[1]]))',
          ),
          '$HOME;{release}',
        ],
        cwd: '.',
        env: { GREETING: 'hi {release}' },
      },
      idempotencyKey: key,
      baseDir: dir,
      placeholders: { release: 'r1' },
    });
    expect(JSON.parse(out.stdout)).toEqual([dir, 'hi r1', key, '$HOME;r1']);
    expect(out.exitCode).toBe(0);
  });

  test("the workers' secrets stay with the workers: no database URL, codec key or API key reaches an action", async () => {
    const secrets = {
      CUTOVER_DATABASE_WAREHOUSE: 'postgres://reader:pw@127.0.0.1:5432/portfolio',
      CUTOVER_CODEC_KEY: 'k',
      TEMPORAL_API_KEY: 'a',
      PORTFOLIO_KPI_WAREHOUSE: 'postgres://v1:pw@127.0.0.1:5432/portfolio',
    };
    Object.assign(process.env, secrets);
    try {
      const out = await runAction({
        action: { run: nodeRun('process.stdout.write(JSON.stringify(process.env))') },
        idempotencyKey: key,
      });
      const seen = JSON.parse(out.stdout) as Record<string, string>;
      expect(Object.keys(seen).filter((name) => name in secrets)).toEqual(['PORTFOLIO_KPI_WAREHOUSE']);
    } finally {
      for (const name of Object.keys(secrets)) delete process.env[name];
    }
  });

  test('a non-zero exit is not retryable and names the exit code and stderr', async () => {
    const err = await failure(
      runAction({
        action: { name: 'deploy', run: nodeRun("console.error('disk full'); process.exit(3)") },
        idempotencyKey: key,
      }),
    );
    expect(err).toMatchObject({ type: FailureType.ActionFailed, retryable: false });
    expect(err.message).toBe('deploy: exit code 3: disk full');
  });

  test("a failure's reason is the line that says what went wrong, not Node's closing version banner", async () => {
    // The case found by trying it: a deploy script that is not there. Node prints the cause, a stack, the
    // error's fields and, last, "Node.js v20…".
    const missing = path.join(tempDir(), 'switch-staging.js');
    const err = await failure(
      runAction({ action: { name: 'switch-staging', run: [process.execPath, missing] }, idempotencyKey: key }),
    );
    expect(err.message).toBe(`switch-staging: exit code 1: Error: Cannot find module '${missing}'`);
    // A thrown error with a stack: the message, not a frame.
    const thrown = await failure(
      runAction({
        action: { name: 'migrate', run: nodeRun("throw new TypeError('rows is not iterable')") },
        idempotencyKey: key,
      }),
    );
    expect(thrown.message).toBe('migrate: exit code 1: TypeError: rows is not iterable');
    // Nothing error-like: the last line said.
    const plain = await failure(
      runAction({
        action: {
          name: 'check',
          run: nodeRun("console.error('step 1 ok'); console.error('stopped at step 2'); process.exit(4)"),
        },
        idempotencyKey: key,
      }),
    );
    expect(plain.message).toBe('check: exit code 4: stopped at step 2');
  });

  test('exit 75 (EX_TEMPFAIL) is retryable', async () => {
    const err = await failure(
      runAction({ action: { run: nodeRun(`process.exit(${EXIT_TEMPFAIL})`) }, idempotencyKey: key }),
    );
    expect(err.retryable).toBe(true);
  });

  test('a missing binary is a clear, non-retryable failure', async () => {
    const err = await failure(runAction({ action: { run: ['/no/such/binary'] }, idempotencyKey: key }));
    expect(err.message).toBe('binary: program not found: /no/such/binary');
    expect(err.retryable).toBe(false);
  });

  test('a step whose child outlives it (its output detached) is killed with its group and reported', async () => {
    const out = await runAction({
      action: { run: ['sh', '-c', 'sleep 60 >/dev/null 2>&1 & echo $!'] },
      idempotencyKey: key,
    });
    const stray = Number(out.stdout.trim());
    expect(out.exitCode).toBe(0);
    expect(out.strayKilled).toBe(true);
    // Killed: gone, or a zombie waiting for whoever adopted it to reap it. Never still sleeping.
    const state = () => (existsSync(`/proc/${stray}/stat`) ? readFileSync(`/proc/${stray}/stat`, 'utf8') : '');
    const deadline = Date.now() + 5000;
    while (!/^\d+ \(sleep\) Z|^$/.test(state()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(state()).toMatch(/^$|^\d+ \(sleep\) Z/);
  });

  test('a step that leaves nothing behind reports no strays', async () => {
    const out = await runAction({ action: { run: ['sh', '-c', 'sleep 0.1 & wait'] }, idempotencyKey: key });
    expect(out.strayKilled).toBeUndefined();
  });

  test('a missing or unrunnable binary says the same when the worker lowers its actions (started through nice)', async () => {
    const dir = tempDir();
    const notExecutable = path.join(dir, 'not-executable');
    writeFileSync(notExecutable, '#!/bin/sh\n');
    setActionNice(5);
    try {
      const missing = await failure(runAction({ action: { run: ['/no/such/binary'] }, idempotencyKey: key }));
      expect(missing.message).toBe('binary: program not found: /no/such/binary');
      expect(missing.retryable).toBe(false);
      const denied = await failure(runAction({ action: { run: [notExecutable] }, idempotencyKey: key }));
      expect(denied.message).toBe(`not-executable: permission denied: ${notExecutable}`);
      expect(denied.retryable).toBe(false);
    } finally {
      setActionNice(0);
    }
  });

  test('a timeout kills the whole process group, even a child that ignores SIGTERM', async () => {
    const dir = tempDir();
    const pidFile = path.join(dir, 'grandchild.pid');
    // The action starts a grandchild that ignores SIGTERM, then hangs itself ignoring SIGTERM too.
    const script = `
      const { spawn } = require('child_process');
      const g = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
      require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(g.pid));
      process.on('SIGTERM', () => {});
      setInterval(() => {}, 1000);`;
    const started = Date.now();
    const err = await failure(
      runAction({ action: { run: nodeRun(script), timeout: '1s' }, idempotencyKey: key, killGraceMs: 300 }),
    );
    expect(err.message).toMatch(/timed out after 1000 ms/);
    expect(err.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 200));
    // Gone, or a zombie waiting to be reaped by init: either way it no longer runs.
    const state = existsSync(`/proc/${grandchild}/stat`)
      ? readFileSync(`/proc/${grandchild}/stat`, 'utf8').split(' ')[2]
      : 'gone';
    expect(['gone', 'Z', 'X']).toContain(state);
  });

  test('cancellation kills the process', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const err = await failure(
      runAction({
        action: { run: nodeRun('setInterval(() => {}, 1000)') },
        idempotencyKey: key,
        signal: controller.signal,
        killGraceMs: 200,
      }),
    );
    expect(err.message).toMatch(/cancelled/);
  });

  test('the processes start on the launcher thread: if it stops, what it watched is killed and retried, and the next one starts a new thread', async () => {
    let pid: number | undefined;
    const running = failure(
      runAction({
        action: { name: 'long', run: ['sleep', '30'] },
        idempotencyKey: key,
        onSpawn: (p) => (pid = p),
      }),
    );
    while (pid === undefined) await new Promise((r) => setTimeout(r, 10));
    await stopLauncher();
    const err = await running;
    expect(err.message).toMatch(/^long: the launcher thread stopped \(exit code 1\); its process was killed$/);
    expect(err.retryable).toBe(true);
    // SIGKILL is on its way: within a few seconds it no longer runs (gone, or a zombie for init to reap).
    const stateOf = () =>
      existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] : 'gone';
    for (let i = 0; i < 50 && !['gone', 'Z', 'X'].includes(stateOf()!); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(['gone', 'Z', 'X']).toContain(stateOf());
    const next = await runAction({ action: { run: ['sh', '-c', 'echo again'] }, idempotencyKey: key });
    expect(next.stdout).toBe('again\n');
  });

  test('output far past the bound keeps the tail and says how much was cut', async () => {
    const out = await runAction({
      action: { run: nodeRun("for (let i = 0; i < 20000; i++) process.stdout.write('line ' + i + '\\n')") },
      idempotencyKey: key,
      outputLimit: 1000,
    });
    expect(out.stdout.length).toBe(1000);
    expect(out.stdout.endsWith('line 19999\n')).toBe(true);
    expect(out.stdoutCut).toBeGreaterThan(100_000);
  });
});

describe('http', () => {
  let server: http.Server;
  let url: string;
  let calls = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      calls++;
      if (req.url === '/flaky') {
        res.statusCode = calls % 2 === 1 ? 500 : 200;
        res.end(res.statusCode === 200 ? 'ok' : 'boom');
      } else if (req.url === '/echo') {
        res.end(JSON.stringify({ method: req.method, key: req.headers['idempotency-key'] }));
      } else {
        res.statusCode = 404;
        res.end('no');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('500 is retryable; the retry gets 200', async () => {
    calls = 0;
    const err = await failure(runAction({ action: { http: `${url}/flaky` }, idempotencyKey: key }));
    expect(err).toMatchObject({ retryable: true });
    expect(err.message).toMatch(/HTTP 500/);
    const ok = await runAction({ action: { http: `${url}/flaky` }, idempotencyKey: key });
    expect(ok).toMatchObject({ status: 200, stdout: 'ok' });
  });

  test('404 is an answer, not retried; method and idempotency key are sent', async () => {
    expect(await failure(runAction({ action: { http: `${url}/missing` }, idempotencyKey: key }))).toMatchObject({
      retryable: false,
      type: FailureType.ActionFailed,
    });
    const echo = await runAction({ action: { http: `${url}/echo`, method: 'POST', body: '{}' }, idempotencyKey: key });
    expect(JSON.parse(echo.stdout)).toEqual({ method: 'POST', key });
  });

  test('a refused connection is retryable', async () => {
    const port = await freePort();
    const err = await failure(runAction({ action: { http: `http://127.0.0.1:${port}/health` }, idempotencyKey: key }));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/ECONNREFUSED/);
  });
});

describe('activities in MockActivityEnvironment', () => {
  const dataDir = tempDir();
  const activities = createActivities({ dataDir });
  const identity = { workflowId: 'wf-unit', release: 'r', key: 'wf-unit/run/x' };

  test('runStep heartbeats while its process runs', async () => {
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const result = await env.run(activities.runStep, {
      ...identity,
      label: 'slow',
      action: { run: nodeRun('setTimeout(() => {}, 5600)') },
    });
    expect(result).toMatchObject({ label: 'slow', exitCode: 0, attempt: 1 });
    expect(beats.length).toBeGreaterThanOrEqual(1);
  }, 15_000);

  test('runStep cancelled: the process is killed and the activity ends cancelled or failed retryably', async () => {
    const env = new MockActivityEnvironment();
    const running = env.run(activities.runStep, {
      ...identity,
      label: 'hang',
      action: { run: nodeRun('setInterval(() => {}, 1000)') },
    });
    setTimeout(() => env.cancel(), 300);
    const err = await running.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err instanceof ApplicationFailure || err instanceof CancelledFailure).toBe(true);
    if (err instanceof ApplicationFailure) expect(err.nonRetryable).toBe(false);
  });

  test('runShadow: non-JSON pipeline output fails the phase as InvalidOutput, never a verdict', async () => {
    const env = new MockActivityEnvironment();
    const plan = makePlan({ candidate: { run: nodeRun("process.stdout.write('NaN')") } });
    const err = await env.run(activities.runShadow, { ...identity, plan }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe(FailureType.InvalidOutput);
    expect((err as ApplicationFailure).message).toMatch(/candidate \(V2\): output is not JSON/);
  });

  test('runShadow: a missing metric and a gigabyte of output are failures with reasons', async () => {
    const env = new MockActivityEnvironment();
    const missing = makePlan({
      candidate: { run: nodeRun('process.stdout.write(JSON.stringify({ metrics: { TotalReceivable: 1000 } }))') },
    });
    const err = (await env
      .run(activities.runShadow, { ...identity, plan: missing })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(err.type).toBe(FailureType.ComparisonFailed);
    expect(err.message).toMatch(/PAR30: produced by V1 only/);
    const huge = makePlan({
      candidate: {
        run: nodeRun("const b = Buffer.alloc(1 << 20, 'x'); for (let i = 0; i < 64; i++) process.stdout.write(b)"),
      },
    });
    const err2 = (await new MockActivityEnvironment()
      .run(activities.runShadow, { ...identity, plan: huge })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(err2.type).toBe(FailureType.InvalidOutput);
    expect(err2.message).toMatch(/output too large/);
  });

  test('runStress resumes from the sizes in its heartbeat details', async () => {
    const done = {
      rows: 10,
      iterations: 77,
      errors: 0,
      latencyMs: { n: 77, p50: 1, p95: 1, p99: 1, max: 1, mean: 1, sd: 0 },
      rowsPerSecond: 1,
      usPerRow: 1,
      peakRssMb: 1,
      rssVariation: 0,
    };
    const env = new MockActivityEnvironment({ heartbeatDetails: { completedSizes: [done] }, attempt: 2 });
    const result: StressResult = await env.run(activities.runStress, { ...identity, plan: makePlan() });
    expect(result.sizes.map((s) => [s.rows, s.iterations])).toEqual([
      [10, 77],
      [20, 2],
    ]);
    expect(result.attempt).toBe(2);
    expect(result.sizes[1]?.peakRssMb).toBeGreaterThan(10);
  });

  test('generated datasets stay on disk in the cutover folder', async () => {
    await new MockActivityEnvironment().run(activities.runShadow, { ...identity, plan: makePlan() });
    expect(existsSync(path.join(dataDir, 'work', 'wf-unit', 'datasets', 'rows-10-seed-1.csv'))).toBe(true);
  });
});
