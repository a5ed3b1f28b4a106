/**
 * `npm run bench approve`: the approval app as approvers use it, in Debian's chromium (playwright-core), on
 * real parts (dev server, a worker process, the local OpenID provider, `cutover serve`).
 *
 * - Click → answer: BENCH_APPROVE_CUTOVERS (default 10) quick cutovers at the gate, each signed by its five
 *   approvers in the browser (50 clicks). Measured in the page (from the form's submit event to the first
 *   paint after the gate's section with the answer is swapped in: the app's status query, the attested
 *   update, the gate's answer, the section), with the app's Server-Timing per part, and from outside
 *   (playwright's click until the answer banner is visible).
 * - Cutover page with the full evidence set: the example cutover at its gate (shadow output diffs, stress with
 *   V1 against V2, the rehearsal); the server's render (GET, time to the last byte, BENCH_APPROVE_RENDERS
 *   default 50) and the browser's load with its charts drawn (10 loads).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ed25519 } from '@noble/curves/ed25519';
import { chromium, type BrowserContext } from 'playwright-core';
import { connect, startCutover, status, type Cutovers } from '../lib/api';
import { freePort } from '../common/net';
import { workerEnv, WORKER_NODE_OPTIONS } from '../common/worker-process';
import { EXAMPLE_APPROVERS, EXAMPLE_ROLE_GROUPS, examplePassword } from '../examples/portfolio-kpi/approvers';
import { loadPlan } from '../plan/load';
import { withFileOutputs } from '../examples/portfolio-kpi/file-outputs';
import { startDevServer } from '../toolchain/dev-server';
import { startNodeProcess } from '../toolchain/processes';
import { chromiumPath, projectRoot } from '../toolchain/tools';
import { save, spread } from './common';
import { fmt, quickPlan, table } from './orchestration';

const ROOT = projectRoot();
const WORK = path.join(ROOT, '.data', 'bench-approve');
const say = (line: string) => process.stderr.write(`${line}\n`);

async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** In the page (the project has no DOM types): ms from this document's navigation start to its first paint. */
const firstPaint = `performance.getEntriesByType('paint').find((p) => p.name === 'first-contentful-paint')?.startTime ?? NaN`;

const atGate = (c: Cutovers, id: string, timeoutMs: number) =>
  waitUntil(
    `${id} at its gate`,
    async () => ((await status(c, id)).state === 'awaiting-signoff' ? true : undefined),
    timeoutMs,
  );

export async function benchApprove(): Promise<void> {
  const count = Number(process.env.BENCH_APPROVE_CUTOVERS ?? 10);
  const renders = Number(process.env.BENCH_APPROVE_RENDERS ?? 50);
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const server = await startDevServer({ port: await freePort(), uiPort: 0 });
  const key = ed25519.utils.randomPrivateKey();
  const keyFile = path.join(WORK, 'attester.key');
  writeFileSync(keyFile, Buffer.from(key).toString('hex'));
  const [idpPort, appPort] = [await freePort(), await freePort()];
  const appUrl = `http://127.0.0.1:${appPort}`;
  const issuer = `http://127.0.0.1:${idpPort}`;
  const secret = 'bench-client-secret';
  const base = { ...process.env, TEMPORAL_ADDRESS: server.address, CUTOVER_TASK_QUEUE: 'bench-approve' };
  const children: ChildProcess[] = [];
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
  });
  let c: Cutovers | undefined;
  try {
    children.push(
      await startNodeProcess(
        [...WORKER_NODE_OPTIONS, path.join(ROOT, 'dist', 'worker', 'main.js')],
        {
          ...workerEnv(base),
          CUTOVER_DATA_DIR: path.join(WORK, 'data'),
          CUTOVER_LOG_LEVEL: 'info',
          CUTOVER_APPROVAL_URL: appUrl,
          CUTOVER_ATTESTER_KEYS: `bench=${Buffer.from(ed25519.getPublicKey(key)).toString('hex')}`,
          CUTOVER_REQUIRE_ATTESTED: 'true',
          CUTOVER_ROLE_GROUPS: EXAMPLE_ROLE_GROUPS,
        },
        /"worker polling"/,
      ),
    );
    children.push(
      await startNodeProcess(
        [path.join(ROOT, 'dist', 'scripts', 'idp.js'), '--port', String(idpPort), '--redirect', `${appUrl}/callback`],
        { ...process.env, CUTOVER_OIDC_CLIENT_SECRET: secret },
        /^idp ready /,
      ),
    );
    children.push(
      await startNodeProcess(
        [path.join(ROOT, 'dist', 'client', 'cli.js'), 'serve', '--port', String(appPort)],
        {
          ...base,
          CUTOVER_LOG_LEVEL: 'warn',
          CUTOVER_SESSION_SECRET: 'bench-session-secret-of-32-characters-at-least',
          CUTOVER_ATTESTER_KEY_ID: 'bench',
          CUTOVER_ATTESTER_KEY_FILE: keyFile,
          CUTOVER_OIDC_ISSUER: issuer,
          CUTOVER_OIDC_CLIENT_ID: 'cutover-approvals',
          CUTOVER_OIDC_CLIENT_SECRET: secret,
          CUTOVER_APPROVAL_URL: appUrl,
        },
        /^approvals ready /,
      ),
    );
    c = await connect(base);
    const cutovers = c;

    // The example first: its evidence is the full set the render measurement needs.
    say('the example cutover to its gate…');
    // The approvals are the subject: V1's tables in files (the bench's stack runs no warehouse).
    const example = withFileOutputs(await loadPlan(path.join(ROOT, 'examples', 'portfolio-kpi', 'plan.yaml')));
    const exampleId = (
      await startCutover(cutovers, { ...example, release: `bench-approve-example-${Date.now().toString(36)}` })
    ).workflowId;
    await atGate(cutovers, exampleId, 600_000);

    // One browser context per approver, each signed in once at the provider.
    const contexts = new Map<string, BrowserContext>();
    for (const [role, login] of EXAMPLE_APPROVERS) {
      const context = await browser.newContext({ viewport: { width: 1300, height: 1000 } });
      const page = await context.newPage();
      await page.goto(`${appUrl}/`);
      await page.waitForURL(`${issuer}/interaction/**`);
      await page.getByLabel('Login').fill(login);
      await page.getByLabel('Password').fill(examplePassword(login));
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${appUrl}/`);
      await page.close();
      contexts.set(role, context);
    }

    // The cutover page with the full evidence: the server's render, then the browser's load.
    const exampleUrl = `${appUrl}/cutovers/${encodeURIComponent(exampleId)}`;
    const cookies = await contexts.get('engineering')!.cookies(appUrl);
    const cookie = cookies.map((k) => `${k.name}=${k.value}`).join('; ');
    const serverMs: number[] = [];
    let bytes = 0;
    for (let i = 0; i < renders + 3; i++) {
      const t0 = performance.now();
      const res = await fetch(exampleUrl, { headers: { cookie } });
      const body = await res.text();
      if (res.status !== 200 || !body.includes('Sign-off: gate open')) throw new Error(`render: ${res.status}`);
      if (i >= 3) serverMs.push(performance.now() - t0);
      bytes = Buffer.byteLength(body);
    }
    const loadMs: number[] = [];
    const paintMs: number[] = [];
    const page = await contexts.get('engineering')!.newPage();
    for (let i = 0; i < 11; i++) {
      await page.goto(exampleUrl, { waitUntil: 'load' });
      // The charts are drawn after the first paint: wait for the last canvas to have been drawn on.
      await page.waitForFunction('window.Chart && Object.keys(Chart.instances).length >= 3');
      const load = Number(await page.evaluate('performance.now()'));
      if (i > 0) {
        loadMs.push(load);
        paintMs.push(Number(await page.evaluate(firstPaint)));
      }
    }
    await page.close();

    // Click → answer over quick cutovers at their gates.
    say(`${count} quick cutovers to their gates…`);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const release = `bench-approve-${Date.now().toString(36)}-${i}`;
      const plan = quickPlan({
        release,
        deployMark: path.join(WORK, `${release}.deploy`),
        undoMark: path.join(WORK, `${release}.undo`),
      });
      ids.push((await startCutover(cutovers, plan)).workflowId);
    }
    for (const id of ids) await atGate(cutovers, id, 300_000);
    const inPage: number[] = [];
    const server: Record<string, number[]> = {};
    const outside: number[] = [];
    for (const id of ids) {
      for (const [role] of EXAMPLE_APPROVERS) {
        const p = await contexts.get(role)!.newPage();
        await p.goto(`${appUrl}/cutovers/${encodeURIComponent(id)}`);
        // As an approver would: the page settled (its charts drawn) before the click.
        await p.waitForFunction('window.Chart && Object.keys(Chart.instances).length >= 3');
        const t0 = performance.now();
        await p.getByRole('button', { name: 'Approve' }).click();
        await p.locator('#answer').getByText(`Counted: your approve for ${role}`).waitFor();
        outside.push(performance.now() - t0);
        const shown = await p.evaluate(
          `new Promise((resolve) => { const find = () => { const m = performance.getEntriesByName('answer-shown')[0]; const s = performance.getEntriesByName('submit')[0]; const r = performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/signoff')).pop(); if (m && s && r) resolve({ shown: m.startTime - s.startTime, timing: r.serverTiming.map((t) => [t.name, t.duration]) }); else setTimeout(find, 5); }; find(); })`,
        );
        const { shown: at, timing } = shown as { shown: number; timing: [string, number][] };
        inPage.push(at);
        for (const [name, duration] of timing) (server[name] ??= []).push(duration);
        await p.close();
      }
    }
    const completedGates = (
      await Promise.all(ids.map(async (id) => (await status(cutovers, id)).gate.status === 'approved'))
    ).filter(Boolean).length;

    const click = spread(inPage);
    const clickOutside = spread(outside);
    const render = spread(serverMs);
    const load = spread(loadMs);
    table(
      ['approval app', 'p50 / p95 / max', 'goal', ''],
      [
        [
          'click on Approve → answer shown (in the page: submit → answer painted)',
          fmt(click),
          'p95 < 300 ms',
          `${completedGates} of ${count} gates approved`,
        ],
        ['click on Approve → answer visible (playwright, from outside)', fmt(clickOutside), '', ''],
        ...Object.entries(server).map(([name, values]) => [`  in the app: ${name}`, fmt(spread(values)), '', '']),
        [`cutover page, full evidence: server render (GET, ${(bytes / 1024).toFixed(0)} KiB)`, fmt(render), '', ''],
        ['cutover page, full evidence: browser, navigation → first paint', fmt(spread(paintMs)), '', ''],
        ['cutover page, full evidence: browser, navigation → charts drawn', fmt(load), '', ''],
      ],
    );
    await save('approve', {
      cutovers: count,
      clickToAnswerMs: click,
      clickToAnswerOutsideMs: clickOutside,
      appMs: Object.fromEntries(Object.entries(server).map(([name, values]) => [name, spread(values)])),
      renderMs: render,
      pageBytes: bytes,
      browserChartsDrawnMs: load,
      browserFirstPaintMs: spread(paintMs),
      gatesApproved: completedGates,
      samples: { inPage, outside, serverMs, loadMs },
    });
  } finally {
    await browser.close();
    await c?.close();
    await Promise.all(
      children.map((child) => {
        if (child.exitCode !== null) return undefined;
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        return gone;
      }),
    );
    await server.stop();
  }
}
