/**
 * The built `cutover` CLI as a real process, against the real dev server and a real worker process; the
 * `temporal` CLI signs off and queries the same cutover. Needs `npm run build` (npm test does it).
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { ed25519 } from '@noble/curves/ed25519';
import { Worker } from '@temporalio/worker';
import { freePort, waitForPort } from '../../common/net';
import { type DevServer } from '../../toolchain/dev-server';
import { temporalCliPath } from '../../toolchain/tools';
import type { CutoverStatus } from '../../shapes/status';
import { runCli, type CliResult } from '../helpers/cli';
import { tempDir, uniqueId, stopProcess } from '../helpers/harness';
import { pollUntil } from '../helpers/poll';
import type { WhatIfResult } from '../../lib/what-if';
import { makePlanInput } from '../helpers/plans';
import { startTestDevServer } from '../helpers/temporal';
import { spawnWorker } from '../helpers/worker-process';

const run = promisify(execFile);

let server: DevServer;
let worker: ChildProcess;
let env: NodeJS.ProcessEnv;
let dir: string;
let metricsPort = 0;

beforeAll(async () => {
  server = await startTestDevServer();
  dir = tempDir('cli-');
  const taskQueue = uniqueId('tq-cli');
  metricsPort = await freePort();
  env = {
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    CUTOVER_TASK_QUEUE: taskQueue,
    CUTOVER_DATA_DIR: path.join(dir, 'data'),
    CUTOVER_LOG_LEVEL: 'warn',
    CUTOVER_METRICS_PORT: String(metricsPort),
  };
  worker = spawnWorker(env);
  // Up when it serves /metrics: a test that scrapes first (run alone with -t) must not find nothing there.
  await waitForPort(metricsPort, 60_000, () => worker.exitCode === null);
}, 120_000);

afterAll(async () => {
  await stopProcess(worker);
  await server?.stop();
});

function cutover(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(args, { ...env, ...extraEnv }, 60_000);
}

async function temporal(args: string[]): Promise<string> {
  const { stdout } = await run(temporalCliPath(), [...args, '--address', server.address], { timeout: 60_000 });
  return stdout;
}

/** A quick plan as a JSON file: real tiny processes, short windows in real time. */
function planFile(release: string, overrides: Record<string, unknown> = {}): string {
  const base = makePlanInput();
  const plan = {
    ...base,
    release,
    initiator: undefined,
    production: {
      ...base.production,
      monitor: { ...base.production.monitor, window: '6s', interval: '2s' },
      reconcile: { every: '1s', days: 1 },
      decommission: { ...base.production.decommission, afterCleanDays: 1 },
    },
    ...overrides,
  };
  const file = path.join(dir, `${release}.json`);
  writeFileSync(file, JSON.stringify(plan));
  return file;
}

async function statusOf(id: string): Promise<CutoverStatus> {
  const r = await cutover(['status', id, '--json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as CutoverStatus;
}

async function waitFor(
  id: string,
  predicate: (s: CutoverStatus) => boolean,
  timeoutMs = 90_000,
): Promise<CutoverStatus> {
  // A failing `cutover status` fails the test here: it is never taken for "not yet".
  return pollUntil(() => statusOf(id), predicate, {
    what: `${id} to match`,
    timeoutMs,
    everyMs: 500,
    show: (s) => `${s.phase}/${s.state}`,
  });
}

const APPROVERS: [string, string][] = [
  ['engineering', 'ana'],
  ['qa', 'bo'],
  ['architecture', 'cy'],
  ['operations', 'di'],
];
const ALL_APPROVERS: [string, string][] = [...APPROVERS, ['business', 'ed']];

/** Starts a cutover of a fresh release (its plan from `planFile`) and waits until it is at the gate. */
async function startAtGate(overrides: Record<string, unknown> = {}): Promise<{ id: string; gate: CutoverStatus }> {
  const release = uniqueId('rel');
  const id = `cutover-${release}`;
  expect((await cutover(['start', planFile(release, overrides), '--as', 'rm'])).code).toBe(0);
  return { id, gate: await waitFor(id, (s) => s.state === 'awaiting-signoff') };
}

/** Every approver of `approvers` approves `id` through the CLI (`cutover approve`); each is counted. */
async function approveThroughCli(id: string, approvers: [string, string][] = ALL_APPROVERS): Promise<void> {
  for (const [role, name] of approvers) {
    expect((await cutover(['approve', id, '--role', role, '--as', name])).code).toBe(0);
  }
}

/** A rejection after a wrong-role refusal: ana tries to sign for qa, then bo rejects. */
async function refuseThenReject(id: string): Promise<{ wrong: CliResult; rejected: CutoverStatus }> {
  const wrong = await cutover(['approve', id, '--role', 'qa', '--as', 'ana']);
  expect((await cutover(['reject', id, '--role', 'qa', '--as', 'bo', '--comment', 'PAR90 unexplained'])).code).toBe(0);
  return { wrong, rejected: await waitFor(id, (x) => x.state === 'rejected') };
}

/** A plan whose monitoring lasts long enough to roll it back by hand. */
function longMonitoring(): Record<string, unknown> {
  const base = makePlanInput();
  return { production: { ...base.production, monitor: { ...base.production.monitor, window: '10m', interval: '2s' } } };
}

/** All five approve `id`, then di rolls it back by hand during monitoring. */
async function approveThenRollBack(id: string): Promise<CutoverStatus> {
  await approveThroughCli(id);
  await waitFor(id, (s) => s.state === 'monitoring');
  expect((await cutover(['rollback', id, '--reason', 'dashboard shows a PAR30 spike', '--as', 'di'])).code).toBe(0);
  return waitFor(id, (x) => x.state === 'rolled-back');
}

test('start → status → four CLI approvals and one `temporal workflow signal` → completed; `temporal workflow query` reads it', async () => {
  const release = uniqueId('rel');
  const started = await cutover(['start', planFile(release), '--as', 'rm']);
  expect(started.code).toBe(0);
  const id = `cutover-${release}`;
  expect(started.stdout).toContain(`started ${id}`);
  expect(started.stdout).toContain(`cutover status ${id} --watch`);

  const again = await cutover(['start', planFile(release), '--as', 'rm']);
  expect(again.code).toBe(1);
  expect(again.stderr.trim()).toBe(
    `cutover: a cutover with id ${id} is already running; watch it with: cutover status ${id} --watch`,
  );

  const gate = await waitFor(id, (s) => s.state === 'awaiting-signoff');
  for (const [role, name] of APPROVERS) {
    const r = await cutover(['approve', id, '--role', role, '--as', name, '--comment', 'looks good']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`approve for ${role} by ${name} counted`);
  }
  // The same sign-off from the temporal CLI, with the digest the approver saw.
  const input = JSON.stringify({
    role: 'business',
    approver: 'ed',
    decision: 'approve',
    evidenceDigest: gate.evidenceDigest,
  });
  await temporal(['workflow', 'signal', '--workflow-id', id, '--name', 'signOff', '--input', input]);

  const done = await waitFor(id, (s) => s.state === 'completed');
  expect(done.gate.roles.map((r) => r.approvedBy)).toEqual([['ana'], ['bo'], ['cy'], ['di'], ['ed']]);
  expect(done.audit.find((a) => a.actor === 'ed' && a.kind === 'signoff')?.message).toContain('counted');

  const queried = JSON.parse(
    await temporal(['workflow', 'query', '--workflow-id', id, '--type', 'status', '--output', 'json']),
  ) as { queryResult: CutoverStatus[] };
  expect(queried.queryResult[0]?.state).toBe('completed');

  // Visibility is eventually consistent: wait until the search attributes list this cutover as completed.
  let rows: { workflowId: string; state?: string; release?: string }[] = [];
  for (let i = 0; i < 40 && !rows.some((r) => r.workflowId === id); i++) {
    const listed = await cutover(['list', '--state', 'completed', '--json']);
    expect(listed.code).toBe(0);
    rows = JSON.parse(listed.stdout) as typeof rows;
    if (!rows.some((r) => r.workflowId === id)) await new Promise((r) => setTimeout(r, 250));
  }
  expect(rows.find((r) => r.workflowId === id)).toMatchObject({ state: 'completed', release });
  expect(rows.every((r) => r.state === 'completed')).toBe(true);
  const other = JSON.parse((await cutover(['list', '--state', 'rejected', '--json'])).stdout) as typeof rows;
  expect(other.some((r) => r.workflowId === id)).toBe(false);

  const report = await cutover(['report', id, '--format', 'md']);
  expect(report.code).toBe(0);
  expect(report.stdout).toContain('# Cutover report');
  expect(report.stdout).toContain('| shadow | passed');
  const html = path.join(dir, 'report.html');
  expect((await cutover(['report', id, '--format', 'html', '--out', html])).code).toBe(0);
  const page = readFileSync(html, 'utf8');
  // Charts drawn by the inlined library: the page needs nothing from the network.
  expect(page).toContain('Chart.js v4');
  expect(page).toMatch(/<canvas id="latency">[\s\S]*<canvas id="scaling">[\s\S]*<canvas id="kpis">/);
  expect(page).not.toMatch(/<script[^>]+src=/);

  // What-if: the recorded evidence under a tighter rehearsal target. It reads only: the cutover stays completed.
  const tight = planFile(`${release}-tight`, { rollback: { ...makePlanInput().rollback, target: '1ms' } });
  const whatIf = await cutover(['what-if', id, '--plan', tight, '--json']);
  expect(whatIf.code).toBe(0);
  const [answer] = JSON.parse(whatIf.stdout) as WhatIfResult[];
  expect(answer?.changes).toEqual([
    expect.objectContaining({ check: 'rollback rehearsal time', before: 'pass', after: 'fail', limit: '1 ms' }),
  ]);
  // The monitor's probes were read (from its own history) and judged: the same triggers, the same verdict.
  expect(answer?.notes.join('\n')).not.toMatch(/no probe samples/);
  expect(answer?.unchanged).toBeGreaterThanOrEqual(4);
  const asText = await cutover(['what-if', id, '--plan', tight]);
  expect(asText.stdout).toContain(`${id}: 1 verdict(s) would change under ${tight}`);
  expect((await statusOf(id)).state).toBe('completed');

  // The finished history replays on today's workflow code.
  const connection = await Connection.connect({ address: server.address });
  const history = await new Client({ connection }).workflow.getHandle(id).fetchHistory();
  await connection.close();
  await Worker.runReplayHistory({ workflowsPath: require.resolve('../../workflows') }, history, id);
}, 180_000);

test('reject → rejected; a refused sign-off names its rule and exits 1', async () => {
  const { id } = await startAtGate();
  const { wrong, rejected } = await refuseThenReject(id);
  expect(wrong.code).toBe(1);
  expect(wrong.stderr.trim()).toBe(
    'cutover: sign-off refused (wrong-role): "ana" may sign for engineering, not for qa',
  );
  expect(rejected.gate.rejectedBy).toEqual({ role: 'qa', approver: 'bo', comment: 'PAR90 unexplained' });

  // The auditor's record of it, through the CLI: export signs it with the workers' key, verify checks it offline.
  const secret = ed25519.utils.randomPrivateKey();
  const keyFile = path.join(dir, 'workers.key');
  writeFileSync(keyFile, Buffer.from(secret).toString('hex'), { mode: 0o600 });
  const record = path.join(dir, `${id}.record.json`);
  const exported = await cutover(['export', id, '--out', record, '--with-history'], {
    CUTOVER_WORKER_KEY_FILE: keyFile,
    CUTOVER_WORKER_KEY_ID: 'workers-cli',
  });
  expect(exported.stderr).toBe('');
  expect(exported.code).toBe(0);
  const publicKey = Buffer.from(ed25519.getPublicKey(secret)).toString('hex');
  const verified = await cutover(['verify', record, '--worker-key', `workers-cli=${publicKey}`, '--replay']);
  expect(verified.stdout).not.toContain('FAIL');
  expect(verified.code).toBe(0);
  // Its history, exported with it, replays on this release's prebuilt workflow bundle and agrees with it.
  expect(verified.stdout).toContain("ok   replay: the history replays on this release's workflow code");
  expect(verified.stdout).toContain('ok   history outcome: ended rejected');
  // The audit trail the replay writes is the one the workflow chained and the record holds.
  expect(verified.stdout).toMatch(
    /^ok {3}history audit: the \d+ entries the replay wrote, chained as the record has them/m,
  );
  // The wrong-role refusal is recounted as a refusal, qa's rejection as the gate's end.
  expect(verified.stdout).toMatch(/^ok {3}sign-offs: 2 sign-off\(s\) recounted: gate rejected$/m);
  expect(verified.stdout.trim().split('\n').at(-1)).toBe(`${record}: verified`);
  // The same history as the auditor's standard tool writes it (`temporal workflow show --output json`) is the one
  // the record names, and replays as well.
  const shown = path.join(dir, `${id}.history.json`);
  writeFileSync(shown, await temporal(['workflow', 'show', '--workflow-id', id, '--output', 'json']));
  const againstShown = await cutover([
    'verify',
    record,
    '--worker-key',
    `workers-cli=${publicKey}`,
    '--replay',
    '--history',
    shown,
  ]);
  expect(againstShown.stdout).toContain('ok   history: ');
  expect(againstShown.stdout.trim().split('\n').at(-1)).toBe(`${record}: verified`);
  // The html report says the record's digest and that it verified, where the workers' key is configured.
  const report = path.join(dir, `${id}.html`);
  const reported = await cutover(['report', id, '--format', 'html', '--out', report], {
    CUTOVER_WORKER_KEY_FILE: keyFile,
    CUTOVER_WORKER_KEY_ID: 'workers-cli',
  });
  expect(reported.code).toBe(0);
  expect(readFileSync(report, 'utf8')).toMatch(
    /<p class="record">Record <code>[0-9a-f]{64}<\/code> · <b>verified<\/b> with workers' key workers-cli \(5 checks held\)<\/p>/,
  );
  const envelope = JSON.parse(readFileSync(record, 'utf8')) as { payload: string };
  const changed = Buffer.from(envelope.payload, 'base64')
    .toString('utf8')
    .replace('PAR90 unexplained', 'PAR90 explained');
  writeFileSync(record, JSON.stringify({ ...envelope, payload: Buffer.from(changed).toString('base64') }));
  const tampered = await cutover(['verify', record, '--worker-key', `workers-cli=${publicKey}`]);
  expect(tampered.code).toBe(1);
  expect(tampered.stdout).toMatch(/^FAIL envelope: envelope: signatures\[0\]: does not verify with key "workers-cli"/m);
  // No trusted key named: a usage mistake, one line.
  const untrusted = await cutover(['verify', record]);
  expect(untrusted.code).toBe(1);
  expect(untrusted.stderr.trim()).toBe(
    "cutover: name the workers' key you trust: --worker-key ID=PUBLICKEY or --trust FILE",
  );
}, 120_000);

test('rollback during monitoring → rolled-back', async () => {
  const { id } = await startAtGate(longMonitoring());
  const s = await approveThenRollBack(id);
  expect(s.rollback).toMatchObject({ requestedBy: 'di', automatic: false });
}, 120_000);

describe('user mistakes print one line and exit non-zero', () => {
  test('an unknown workflow id', async () => {
    const r = await cutover(['status', 'cutover-does-not-exist']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('cutover: no cutover with id cutover-does-not-exist in namespace default');
  });

  test('a server that does not answer names the address', async () => {
    const r = await cutover(['status', 'x'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^cutover: cannot reach Temporal at 127\.0\.0\.1:1/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  }, 30_000);

  test('a bad plan lists every problem by path and starts nothing', async () => {
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'release: "bad release!"\nsignoff:\n  roles: { qa: [] }\nextra: 1\n');
    const r = await cutover(['start', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('signoff.roles.qa: expected at least 1 approver');
    expect(r.stderr).toContain('(plan): unknown key "extra"');
    expect(r.stderr).toContain('release: expected letters, digits');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const listed = JSON.parse((await cutover(['list', '--json'])).stdout) as { release?: string }[];
    expect(listed.some((w) => w.release === 'bad release!')).toBe(false);
  });

  test('start --dry-run validates and starts nothing', async () => {
    const release = uniqueId('dry');
    const r = await cutover(['start', planFile(release), '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('valid; --dry-run, nothing started');
    expect((await cutover(['status', `cutover-${release}`])).code).toBe(1);
  });

  test('plan init writes a starting plan that validates, and will not overwrite one', async () => {
    const out = path.join(tempDir('init-'), 'plan.yaml');
    const first = await cutover(['plan', 'init', '--out', out, '--release', 'orders-v2']);
    expect(first.code).toBe(0);
    const valid = await cutover(['plan', 'validate', out]);
    expect(valid.stdout).toContain(`${out}: valid plan for release orders-v2 (5 sign-off roles)`);
    const again = await cutover(['plan', 'init', '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`cutover: ${out}: exists (--force overwrites it)`);
    const badName = await cutover(['plan', 'init', '--out', `${out}.2`, '--release', 'no spaces allowed']);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toContain('release');
  });

  test('plan schema prints the JSON Schema editors use', async () => {
    const r = await cutover(['plan', 'schema']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout) as { $id: string; properties: Record<string, { description?: string }> };
    expect(schema.$id).toBe('urn:cutover:plan-schema');
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['release', 'shadow', 'stress', 'signoff']));
  });

  test('what-if: an unknown id, a query that finds nothing, a plan or a policy that does not validate: one line, exit 1', async () => {
    const good = planFile(uniqueId('wi'));
    const unknown = await cutover(['what-if', 'cutover-no-such', '--plan', good]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe('cutover: no cutover with id cutover-no-such in namespace default');
    const nothing = await cutover(['what-if', '--query', 'CutoverRelease = "no-such-release"', '--plan', good]);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr.trim()).toBe('cutover: no cutover matches CutoverRelease = "no-such-release"');
    const bad = path.join(dir, 'bad-what-if.json');
    writeFileSync(bad, JSON.stringify({ release: 'x' }));
    const invalid = await cutover(['what-if', 'cutover-anything', '--plan', bad]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('baseline');
    const badPolicy = path.join(dir, 'bad-calendar-policy.yaml');
    writeFileSync(badPolicy, 'version: 1\npipelines:\n  - match: "x*"\n    calendar: { zone: Mars/Base }\n');
    const refused = await cutover(['what-if', 'cutover-anything', '--plan', good, '--policy', badPolicy]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(
      `cutover: policy ${badPolicy}: pipelines[0].calendar.zone: expected an IANA time zone such as Europe/London`,
    );
  });

  test('a usage error exits 2', async () => {
    const r = await cutover(['approve', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("required option '--role <role>' not specified");
  });
});

test('the worker serves /metrics: sign-offs counted and refused, phase durations, rollbacks, and the SDK metrics', async () => {
  // Counters are per worker and other tests add to them: this test reads them before and after cutovers of
  // its own (one completed, one rejected after a wrong-role refusal, one rolled back by hand) and checks what
  // they added, so it passes alone (`-t metrics`) and in the suite.
  const scrape = async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);
  };
  const before = await scrape();
  await Promise.all([
    startAtGate().then(async ({ id }) => {
      await approveThroughCli(id);
      await waitFor(id, (s) => s.state === 'completed');
    }),
    startAtGate().then(async ({ id }) => expect((await refuseThenReject(id)).wrong.code).toBe(1)),
    startAtGate(longMonitoring()).then(({ id }) => approveThenRollBack(id)),
  ]);
  const after = await scrape();
  const added = (pattern: RegExp) => after(pattern) - before(pattern);
  expect(added(/^cutover_signoffs_total\{role="engineering",result="counted",rule=""\} (\d+)$/m)).toBe(2);
  expect(added(/^cutover_signoffs_total\{role="qa",result="refused",rule="wrong-role"\} (\d+)$/m)).toBe(1);
  expect(added(/^cutover_phase_duration_seconds_count\{phase="shadow",outcome="passed"\} (\d+)$/m)).toBe(3);
  expect(added(/^cutover_phase_duration_seconds_count\{phase="signoff",outcome="failed"\} (\d+)$/m)).toBe(1);
  expect(added(/^cutover_rollbacks_total\{kind="manual"\} (\d+)$/m)).toBe(1);
  // The SDK's own metrics follow in the same scrape.
  expect(after(/^temporal_workflow_completed\{[^}]*\} (\d+)$/m)).toBeGreaterThanOrEqual(1);
}, 180_000);
