/**
 * Crashes and restarts across many cutovers of the example plan (its real KPI engines and deployments on
 * disk, with small datasets so that twenty fit in a few minutes):
 * - the worker killed with SIGKILL at random moments and started again;
 * - the worker frozen (SIGSTOP) past the heartbeat timeout while another takes over, then killed;
 * - the dev server stopped and started again on its SQLite file;
 * - actions that fail a set number of times, hang past their timeout, crash, or fail for good.
 * Every cutover must reach the end its plan and sign-offs call for, and the deployments' ledgers must show
 * no side effect done twice for one idempotency key and every compensation exactly once where it is due.
 */
import { EXAMPLE_APPROVERS as ROLES } from '../../examples/portfolio-kpi/approvers';
import { type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { workdirFor } from '../../activities/datasets';
import { loadPlan } from '../../plan/load';
import { planSchema, type CutoverPlan } from '../../plan/schema';
import { freePort } from '../../common/net';
import { startDevServer, type DevServer } from '../../toolchain/dev-server';
import { cutoverWorkflow } from '../../workflows';
import { requestRollbackSignal, signOffSignal } from '../../workflows/messages';
import type { CutoverState } from '../../shapes/status';
import { tempDir } from '../helpers/harness';
import { withFileOutputs } from '../../examples/portfolio-kpi/file-outputs';
import { report } from './report';
import { spawnWorker } from '../helpers/worker-process';

const ROOT = path.resolve(__dirname, '..', '..');
const FAULT = path.join(__dirname, 'fault.js');

type Kind = 'complete' | 'fail-twice' | 'hang' | 'crash' | 'fail-hard' | 'reject' | 'rollback';
const EXPECTED: Record<Kind, CutoverState> = {
  complete: 'completed',
  'fail-twice': 'completed',
  hang: 'completed',
  crash: 'completed',
  'fail-hard': 'failed',
  reject: 'rejected',
  rollback: 'rolled-back',
};
// 22 cutovers: most complete, some with injected action faults, and the three other ends.
const KINDS: Kind[] = [
  ...Array<Kind>(10).fill('complete'),
  'fail-twice',
  'fail-twice',
  'hang',
  'hang',
  'crash',
  'crash',
  'fail-hard',
  'fail-hard',
  'reject',
  'reject',
  'rollback',
  'rollback',
];

let dir: string;
let dbFile: string;
let port: number;
let server: DevServer;
const workers: ChildProcess[] = [];
let workerEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = tempDir('chaos-');
  dbFile = path.join(dir, 'temporal.sqlite');
  port = await freePort();
  server = await startDevServer({ port, uiPort: 0, dbFile });
  workerEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
    CUTOVER_TASK_QUEUE: 'chaos',
    CUTOVER_DATA_DIR: path.join(dir, 'data'),
    CUTOVER_LOG_LEVEL: 'error',
    CUTOVER_SHUTDOWN_GRACE: '1s',
  };
}, 120_000);

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  await server?.stop();
});

function startWorker(): ChildProcess {
  const w = spawnWorker(workerEnv, { stdio: 'ignore' });
  workers.push(w);
  return w;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const random = (min: number, max: number) => min + Math.random() * (max - min);

async function chaosPlan(base: CutoverPlan, i: number, kind: Kind): Promise<CutoverPlan> {
  const counter = (what: string) => path.join(dir, `attempts-${i}-${what}`);
  type Action = NonNullable<CutoverPlan['staging']['tests']>;
  const withFault = (action: Action | undefined, mode: string, what: string): Action => {
    if (!action || !('run' in action)) throw new Error('the example plan runs processes');
    return { ...action, run: [process.execPath, FAULT, mode, counter(what), ...action.run] };
  };
  const staging = { ...base.staging };
  if (kind === 'fail-twice') staging.deploy = [withFault(staging.deploy[0], 'fail-2', 'deploy')];
  if (kind === 'hang')
    staging.healthChecks = [{ ...withFault(staging.healthChecks[0], 'hang-once', 'health'), timeout: '3s' }];
  if (kind === 'crash') staging.tests = withFault(staging.tests, 'crash-once', 'tests');
  if (kind === 'fail-hard') staging.tests = withFault(staging.tests, 'fail-hard', 'tests');
  return planSchema.parse({
    ...base,
    release: `chaos-${i}-${kind}`,
    initiator: 'rm',
    staging,
    // The example's first dataset: small tapes of other seeds can differ on PAR by more than the tolerance.
    shadow: { ...base.shadow, datasets: [{ generate: { rows: 20000, seed: 7 } }] },
    // Twenty cutovers share two cores here: the stress thresholds are the machine's, not the pipeline's.
    stress: {
      ...base.stress,
      sizes: [1000, 3000],
      iterations: 2,
      warmup: 0,
      sustained: { duration: '3s' },
      thresholds: { latencyP99: '60s', errorRate: 0, memoryVariation: 10, peakRssMb: 2000 },
      // Pairs of V1 and V2 are measured and resumed through the crashes; their verdict is the machine's here.
      compare: { minRuns: 5, maxRuns: 5, maxSlowdown: 100, maxMemoryGrowth: 100, onInconclusive: 'pass' },
    },
    production: {
      ...base.production,
      // A rollback is asked for during monitoring: give it a window long enough to be asked in.
      monitor: { ...base.production.monitor, window: kind === 'rollback' ? '10m' : '6s', interval: '1s' },
      reconcile: { every: '1s', days: 2 },
      decommission: { ...base.production.decommission, afterCleanDays: 2 },
    },
  });
}

interface LedgerEntry {
  action: string;
  key: string;
  phase: 'start' | 'done';
}

function ledgerOf(workflowId: string, environment: 'staging' | 'production'): LedgerEntry[] {
  const file = path.join(workdirFor(workerEnv.CUTOVER_DATA_DIR!, workflowId), environment, 'ledger.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LedgerEntry);
}

test('SIGKILLed and frozen workers, a restarted server and failing actions: every cutover ends as it should, no side effect twice', async () => {
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  // Twenty example cutovers at once: V1's tables in files, each cutover its own (the warehouse holds one V1's).
  const base = withFileOutputs(await loadPlan(path.join(ROOT, 'examples', 'portfolio-kpi', 'plan.yaml')));
  let connection = await Connection.connect({ address: `127.0.0.1:${port}` });
  let client = new Client({ connection });
  let worker = startWorker();

  const cutovers = await Promise.all(
    KINDS.map(async (kind, i) => {
      const workflowId = `chaos-${i}`;
      await client.workflow.start(cutoverWorkflow, {
        taskQueue: 'chaos',
        workflowId,
        args: [await chaosPlan(base, i, kind)],
      });
      return { workflowId, kind, state: 'running' as CutoverState, signed: false, rollbackAsked: false, why: '' };
    }),
  );

  const faults = { kills: 0, freezes: 0, serverRestarts: 0 };
  let done = false;
  const started = Date.now();

  // The chaos: kill the worker every few seconds for a while, freeze one past the heartbeat timeout, and
  // restart the server twice. Then let the cutovers finish in peace.
  const chaos = (async () => {
    while (!done && faults.kills < 24) {
      await sleep(random(1500, 5000));
      if (done) break;
      if (faults.kills === 8 && faults.freezes === 0) {
        // A worker that hangs: no heartbeats, no polls. Another takes over; the frozen one is then killed.
        const frozen = worker;
        frozen.kill('SIGSTOP');
        faults.freezes++;
        worker = startWorker();
        await sleep(20_000);
        frozen.kill('SIGKILL');
        continue;
      }
      if (faults.kills === 5 || faults.kills === 14) {
        await server.stop();
        faults.serverRestarts++;
        await sleep(random(500, 2000));
        server = await startDevServer({ port, uiPort: 0, dbFile });
      }
      worker.kill('SIGKILL');
      faults.kills++;
      await sleep(random(0, 800));
      worker = startWorker();
    }
  })();

  // The people: sign off (or reject) at the gate and ask for rollbacks, through signals, retrying while
  // the server is down. The state comes from visibility, which needs no worker.
  const deadline = started + 540_000;
  while (Date.now() < deadline) {
    try {
      for (const c of cutovers) {
        const description = await client.workflow.getHandle(c.workflowId).describe();
        const state = description.searchAttributes.CutoverState?.[0] as CutoverState | undefined;
        if (description.status.name !== 'RUNNING') {
          let failure = '';
          const result = await client.workflow
            .getHandle<typeof cutoverWorkflow>(c.workflowId)
            .result()
            .catch((err: Error & { cause?: Error & { cause?: Error } }) => {
              failure = [err.message, err.cause?.message, err.cause?.cause?.message].filter(Boolean).join(' / ');
              return undefined;
            });
          c.state = (result?.state ?? (description.status.name === 'FAILED' ? 'failed' : 'cancelled')) as CutoverState;
          c.why =
            (result?.phases ?? [])
              .filter((p) => p.outcome === 'failed')
              .map((p) => `${p.phase}: ${p.verdict ?? ''}`)
              .join('; ') || failure;
          continue;
        }
        const handle = client.workflow.getHandle(c.workflowId);
        if (state === 'awaiting-signoff' && !c.signed) {
          c.signed = true;
          if (c.kind === 'reject') {
            await handle.signal(signOffSignal, { role: 'qa', approver: 'bo', decision: 'reject', comment: 'chaos' });
          } else {
            for (const [role, approver] of ROLES)
              await handle.signal(signOffSignal, { role, approver, decision: 'approve' });
          }
        }
        if (state === 'monitoring' && c.kind === 'rollback' && !c.rollbackAsked) {
          c.rollbackAsked = true;
          await handle.signal(requestRollbackSignal, { requestedBy: 'di', reason: 'chaos: asked during monitoring' });
        }
      }
    } catch {
      // The server is restarting: reconnect and go on.
      await connection.close().catch(() => undefined);
      await sleep(1000);
      try {
        connection = await Connection.connect({ address: `127.0.0.1:${port}` });
        client = new Client({ connection });
      } catch {
        // still down
      }
      continue;
    }
    const finals = cutovers.filter((c) =>
      ['completed', 'failed', 'rejected', 'rolled-back', 'cancelled'].includes(c.state),
    );
    if (finals.length === cutovers.length) break;
    await sleep(1000);
  }
  done = true;
  await chaos;
  await connection.close();

  // Every cutover reached the end that its plan and sign-offs call for.
  const outcomes = cutovers.map((c) => ({
    id: c.workflowId,
    kind: c.kind,
    expected: EXPECTED[c.kind],
    got: c.state,
    ...(c.state !== EXPECTED[c.kind] ? { why: c.why } : {}),
  }));
  const correct = outcomes.filter((o) => o.expected === o.got);

  // The ledgers: no step done twice for one key; compensations exactly once where due, never otherwise.
  let duplicated = 0;
  const ledgerProblems: string[] = [];
  for (const c of cutovers) {
    for (const environment of ['staging', 'production'] as const) {
      const entries = ledgerOf(c.workflowId, environment).filter((e) => e.phase === 'done');
      const perKey = new Map<string, number>();
      for (const e of entries) perKey.set(`${e.action} ${e.key}`, (perKey.get(`${e.action} ${e.key}`) ?? 0) + 1);
      for (const [key, n] of perKey) {
        if (n > 1) {
          duplicated += n - 1;
          ledgerProblems.push(`${c.workflowId} ${environment}: ${key} done ${n} times`);
        }
      }
    }
    const undos = (environment: 'staging' | 'production') =>
      ledgerOf(c.workflowId, environment).filter((e) => e.action === 'undo' && e.phase === 'done').length;
    const prodDeploys = ledgerOf(c.workflowId, 'production').filter((e) => e.action === 'deploy' && e.phase === 'done');
    const expectStagingUndo = c.kind === 'fail-hard' || c.kind === 'reject' || c.kind === 'rollback';
    // The rollback rehearsal undoes staging once and deploys it again in every cutover that gets that far.
    const rehearsalUndos = c.kind === 'fail-hard' ? 0 : 1;
    if (undos('staging') !== rehearsalUndos + (expectStagingUndo ? 1 : 0)) {
      ledgerProblems.push(`${c.workflowId}: staging undone ${undos('staging')} times`);
    }
    if (undos('production') !== (c.kind === 'rollback' ? 1 : 0)) {
      ledgerProblems.push(`${c.workflowId}: production undone ${undos('production')} times`);
    }
    const deploysExpected = EXPECTED[c.kind] === 'completed' || c.kind === 'rollback' ? 1 : 0;
    if (prodDeploys.length !== deploysExpected) {
      ledgerProblems.push(`${c.workflowId}: production deployed ${prodDeploys.length} times`);
    }
  }
  const actionFaults = KINDS.filter((k) => ['fail-twice', 'hang', 'crash', 'fail-hard'].includes(k)).length;
  report({
    area: 'crashes, restarts, action faults',
    faults: `${faults.kills} SIGKILL, ${faults.freezes} frozen, ${faults.serverRestarts} server restarts, ${actionFaults} failing actions`,
    finishedCorrectly: `${correct.length} of ${cutovers.length}`,
    duplicated,
  });
  console.log(
    `chaos: ${Math.round((Date.now() - started) / 1000)} s; ${JSON.stringify(faults)}; wrong ends: ${JSON.stringify(outcomes.filter((o) => o.expected !== o.got))}; ledger: ${JSON.stringify(ledgerProblems)}`,
  );

  expect(faults.kills).toBeGreaterThanOrEqual(20);
  expect(faults.serverRestarts).toBe(2);
  expect(outcomes.filter((o) => o.expected !== o.got)).toEqual([]);
  expect(ledgerProblems).toEqual([]);
  expect(duplicated).toBe(0);
}, 600_000);
