/**
 * The Temporal UI in a real browser (Debian's chromium driven by playwright-core): while the example
 * cutover waits at the gate, an operator finds it in the list by CutoverPhase and CutoverState, reads its
 * search attributes and current details, and signs off through the UI's own signal form; the gate counts it.
 * Screenshots go to test-artifacts/ui/ (not in git). Needs `npm run build` and `npm run provision`.
 */
import { type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { connect, startCutover, status, type Cutovers } from '../../lib/api';
import { loadPlan } from '../../plan/load';
import type { DevServer } from '../../toolchain/dev-server';
import { chromiumPath } from '../../toolchain/tools';
import type { CutoverStatus } from '../../shapes/status';
import { tempDir, uniqueId } from '../helpers/harness';
import { pollUntil } from '../helpers/poll';
import { startTestDevServer } from '../helpers/temporal';
import { exampleWarehouse } from '../helpers/warehouse';
import { spawnWorker } from '../helpers/worker-process';

const ROOT = path.resolve(__dirname, '..', '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'ui');

let server: DevServer;
let worker: ChildProcess;
let browser: Browser;
let cutovers: Cutovers;
let page: Page;
let workflowId: string;
let runId: string;
const warehouse = exampleWarehouse();

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startTestDevServer({ ui: true });
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    CUTOVER_TASK_QUEUE: uniqueId('tq-ui'),
    CUTOVER_DATA_DIR: path.join(tempDir('ui-'), 'data'),
    CUTOVER_LOG_LEVEL: 'warn',
    // V1 writes to the example's warehouse, which the diff reads (a worker of its own: the variables it is given).
    ...warehouse.env,
  };
  worker = spawnWorker(env);
  cutovers = await connect(env);
  const example = await loadPlan(path.join(ROOT, 'examples', 'portfolio-kpi', 'plan.yaml'));
  // The UI is this test's subject, not the stress verdict: the example's absolute ceilings (p99 under 1 s at
  // 100,000 rows, memory spread) are the machine's when it is busy, and failed this test beside other work.
  // One small size, no sustained run, no error allowed: the phase still runs V1 and V2 and records evidence.
  const plan = { ...example, stress: { sizes: [2000], warmup: 0, iterations: 3, thresholds: { errorRate: 0 } } };
  const handle = await startCutover(cutovers, { ...plan, release: uniqueId('ui-release'), initiator: 'rm' });
  workflowId = handle.workflowId;
  runId = (await handle.describe()).runId;
  // The example's whole way to the gate: staging, shadow with its diffs, a short stress, the rehearsal.
  await waitForStatus((s) => s.state === 'awaiting-signoff', 220_000);

  browser = await chromium.launch({
    executablePath: chromiumPath(),
    // Headless, and nothing that would reach out to the (closed) network.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  page = await context.newPage();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await cutovers?.close();
  if (worker && worker.exitCode === null) {
    const gone = new Promise((r) => worker.once('exit', r));
    worker.kill('SIGTERM');
    await gone;
  }
  await server?.stop();
});

async function waitForStatus(predicate: (s: CutoverStatus) => boolean, timeoutMs: number): Promise<CutoverStatus> {
  return pollUntil(() => status(cutovers, workflowId), predicate, {
    what: 'the cutover to get there',
    timeoutMs,
    everyMs: 500,
    retryErrors: true,
    show: (s) => `${s.phase}/${s.state}, audit ${JSON.stringify(s.audit.slice(-2))}`,
  });
}

const ui = () => `http://127.0.0.1:${server.uiPort}/namespaces/default`;
const workflowPage = (tab: string) => `${ui()}/workflows/${workflowId}/${runId}/${tab}`;

test('the workflow list finds the cutover by CutoverPhase and CutoverState', async () => {
  const query = `CutoverPhase="signoff" AND CutoverState="awaiting-signoff" AND WorkflowId="${workflowId}"`;
  await page.goto(`${ui()}/workflows?query=${encodeURIComponent(query)}`);
  await page.getByRole('link', { name: workflowId }).first().waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'list.png') });
});

test('the workflow page shows its search attributes and the current-details summary', async () => {
  await page.goto(workflowPage('search-attributes'));
  await page.getByText('"CutoverState": "awaiting-signoff"').waitFor({ timeout: 30_000 });
  await page.getByText('"CutoverPhase": "signoff"').waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'search-attributes.png') });

  await page.goto(workflowPage('user-metadata'));
  // setCurrentDetails: the release, phase and state, one row per phase with its verdict, then the gate.
  // The UI renders each markdown field in a frame of its own; the current details are the one with the gate.
  const details = page.frameLocator('iframe[src*="Gate"]');
  await details
    .getByText(/signoff · awaiting-signoff/)
    .first()
    .waitFor({ timeout: 30_000 });
  await details.getByText(/14 metric comparison\(s\) within tolerance/).waitFor();
  await details.getByText(/engineering: unsigned · missing 1/).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'current-details.png'), fullPage: true });
});

test("a signOff sent through the UI's signal form is counted by the gate", async () => {
  await page.goto(workflowPage('history'));
  await page.getByRole('button', { name: 'More Actions' }).click();
  await page.getByText('Send a Signal', { exact: true }).filter({ visible: true }).click();
  await page.getByTestId('signal-select-button').filter({ visible: true }).click();
  await page.getByRole('option', { name: 'signOff', exact: true }).click();
  const input = page.getByRole('dialog').locator('[role="textbox"][data-language="json"]');
  await input.fill(
    JSON.stringify({ role: 'engineering', approver: 'ana', decision: 'approve', comment: 'from the UI' }),
  );
  // Leaving the editor reformats the JSON and moves the form's buttons; click Submit once that is done.
  await input.blur();
  await input.getByText('"approver": "ana",').waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'signal-form.png') });
  await page.getByTestId('confirm-modal-button').filter({ visible: true }).click();

  const after = await waitForStatus(
    (s) => s.gate.roles.some((r) => r.role === 'engineering' && r.missing === 0),
    30_000,
  );
  expect(after.gate.roles.find((r) => r.role === 'engineering')?.approvedBy).toEqual(['ana']);
  expect(after.gate.roles.filter((r) => r.missing > 0).map((r) => r.role)).toEqual([
    'qa',
    'architecture',
    'operations',
    'business',
  ]);
  expect(after.audit.some((e) => e.kind === 'signoff' && e.actor === 'ana' && e.accepted === true)).toBe(true);
  await page.goto(workflowPage('user-metadata'));
  await page.frameLocator('iframe[src*="Gate"]').getByText('engineering: signed by ana').waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'after-signoff.png'), fullPage: true });
});
