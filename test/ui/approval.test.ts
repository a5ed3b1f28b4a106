/**
 * The approval app in a real browser (Debian's chromium driven by playwright-core), against real parts: the
 * dev server, a worker process that trusts the app's attester key and requires attested sign-offs, the local
 * OpenID provider (oidc-provider) and `cutover serve` as a process. An approver opens the link from a
 * recorded notification, signs in at the provider, sees the evidence and approves; the gate counts it with
 * the login's issuer and subject. A user who is not an approver for the role is refused and changes nothing;
 * a raw `temporal workflow signal` is refused as unattested; a form without its CSRF token is refused.
 * Screenshots go to test-artifacts/approval/ (not in git). Needs `npm run build` and `npm run provision`.
 */
import { type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ed25519 } from '@noble/curves/ed25519';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { connect, startCutover, status, type Cutovers } from '../../lib/api';
import { renderStatus } from '../../lib/format';
import { freePort } from '../../common/net';
import { EXAMPLE_ROLE_GROUPS, examplePassword } from '../../examples/portfolio-kpi/approvers';
import type { DevServer } from '../../toolchain/dev-server';
import { startNodeProcess } from '../../toolchain/processes';
import { chromiumPath } from '../../toolchain/tools';
import type { CutoverStatus } from '../../shapes/status';
import { approveAll, stopProcess, tempDir, uniqueId } from '../helpers/harness';
import type { cutoverWorkflow } from '../../workflows';
import { pollFor } from '../helpers/poll';
import { makePlan, nodeRun, ok } from '../helpers/plans';
import { startTestDevServer, temporalSignal } from '../helpers/temporal';
import { spawnWorker } from '../helpers/worker-process';
import { windowPolicy, windowPolicyPlan } from '../helpers/windows';

const ROOT = path.resolve(__dirname, '..', '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'approval');
const CLIENT_SECRET = 'local-client-secret-for-the-test';

let server: DevServer;
let worker: ChildProcess;
let idp: ChildProcess;
let app: ChildProcess;
let browser: Browser;
let cutovers: Cutovers;
let receiver: Server;
const notifications: { event: string; link?: string; text: string }[] = [];
let appUrl: string;
let issuer: string;
let workflowId: string;
let glassWorker: ChildProcess;
let glassCutovers: Cutovers;
let glassId: string;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startTestDevServer();
  const dir = tempDir('approval-');
  const attesterKey = ed25519.utils.randomPrivateKey();
  const keyFile = path.join(dir, 'attester.key');
  writeFileSync(keyFile, Buffer.from(attesterKey).toString('hex'));
  // The workers' key: with it, the app's cutover page shows the record's digest and whether it verified.
  const workersKeyFile = path.join(dir, 'workers.key');
  writeFileSync(workersKeyFile, Buffer.from(ed25519.utils.randomPrivateKey()).toString('hex'));
  const [idpPort, appPort] = [await freePort(), await freePort()];
  appUrl = `http://127.0.0.1:${appPort}`;

  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      notifications.push(JSON.parse(body) as { event: string; link?: string; text: string });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));

  const taskQueue = uniqueId('tq-approval');
  const base = {
    ...process.env,
    TEMPORAL_ADDRESS: server.address,
    CUTOVER_TASK_QUEUE: taskQueue,
    CUTOVER_LOG_LEVEL: 'warn',
  };
  worker = spawnWorker({
    ...base,
    CUTOVER_DATA_DIR: path.join(dir, 'data'),
    CUTOVER_APPROVAL_URL: appUrl,
    CUTOVER_ATTESTER_KEYS: `app-1=${Buffer.from(ed25519.getPublicKey(attesterKey)).toString('hex')}`,
    CUTOVER_REQUIRE_ATTESTED: 'true',
    CUTOVER_ROLE_GROUPS: EXAMPLE_ROLE_GROUPS,
  });
  idp = await startNodeProcess(
    [path.join(ROOT, 'dist', 'scripts', 'idp.js'), '--port', String(idpPort), '--redirect', `${appUrl}/callback`],
    { ...process.env, CUTOVER_OIDC_CLIENT_SECRET: CLIENT_SECRET },
    /^idp ready /,
  );
  issuer = `http://127.0.0.1:${idpPort}`;
  // Not dev mode: every secret is given, as in production.
  app = await startNodeProcess(
    [path.join(ROOT, 'dist', 'client', 'cli.js'), 'serve', '--port', String(appPort)],
    {
      ...base,
      CUTOVER_SESSION_SECRET: 'a-session-secret-of-at-least-32-characters',
      CUTOVER_ATTESTER_KEY_ID: 'app-1',
      CUTOVER_ATTESTER_KEY_FILE: keyFile,
      CUTOVER_OIDC_ISSUER: issuer,
      CUTOVER_OIDC_CLIENT_ID: 'cutover-approvals',
      CUTOVER_OIDC_CLIENT_SECRET: CLIENT_SECRET,
      CUTOVER_APPROVAL_URL: appUrl,
      CUTOVER_WORKER_KEY_FILE: workersKeyFile,
      CUTOVER_WORKER_KEY_ID: 'workers-ui',
    },
    /^approvals ready /,
  );

  cutovers = await connect(base);

  // A second worker, whose policy lets an incident-commander (di, of group ops-oncall) break the glass, and a
  // cutover under it whose plan freezes production around today: its deploy will wait.
  const glassDir = tempDir('glass-');
  windowPolicy(glassDir, 'policy', {
    zone: 'UTC',
    breakGlass: { role: 'incident-commander', approvers: ['di'], groups: ['ops-oncall'] },
  });
  const glassEnv = { ...base, CUTOVER_TASK_QUEUE: uniqueId('tq-glass') };
  glassWorker = spawnWorker({
    ...glassEnv,
    CUTOVER_DATA_DIR: path.join(glassDir, 'data'),
    CUTOVER_APPROVAL_URL: appUrl,
    CUTOVER_ATTESTER_KEYS: `app-1=${Buffer.from(ed25519.getPublicKey(attesterKey)).toString('hex')}`,
    CUTOVER_ROLE_GROUPS: EXAMPLE_ROLE_GROUPS,
    CUTOVER_POLICY: path.join(glassDir, 'policy.yaml'),
    CUTOVER_WORKER_KEY_FILE: workersKeyFile,
  });
  glassCutovers = await connect(glassEnv);
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  const glassPlan = windowPolicyPlan(glassDir, `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, [
    'break-glass',
  ]);
  glassId = (
    await startCutover(glassCutovers, {
      ...glassPlan,
      production: {
        ...glassPlan.production,
        window: { freezes: [{ name: 'the test freeze', from: day(-1), to: day(1) }] },
      },
    })
  ).workflowId;
  const plan = makePlan({
    release: uniqueId('approval'),
    notify: [
      {
        name: 'chat',
        http: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
        events: ['gate-open'],
      },
    ],
  });
  workflowId = (await startCutover(cutovers, plan)).workflowId;

  browser = await chromium.launch({
    executablePath: chromiumPath(),
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
  });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await cutovers?.close();
  await glassCutovers?.close();
  await Promise.all([stopProcess(app), stopProcess(idp), stopProcess(worker), stopProcess(glassWorker)]);
  await new Promise((r) => receiver?.close(r));
  await server?.stop();
});

/** Waits until `probe` gives a value (its errors mean "not yet"). */
function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  return pollFor(probe, { what, timeoutMs, everyMs: 250, retryErrors: true });
}

/** A browser of one user, signed in at the provider on the way to `url`. */
async function signedIn(login: string, url: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1300, height: 1000 } });
  const page = await context.newPage();
  await page.goto(url);
  // The app sends an unknown visitor to the provider's login page.
  await page.waitForURL(`${issuer}/interaction/**`);
  await page.getByLabel('Login').fill(login);
  await page.getByLabel('Password').fill(examplePassword(login));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(url);
  await page.getByText(`Signed in as ${login}`).waitFor();
  return { context, page };
}

const gateOf = (s: CutoverStatus, role: string) => s.gate.roles.find((r) => r.role === role);

let link: string;
let ana: { context: BrowserContext; page: Page };

test('the gate-open notification carries the link to the cutover page', async () => {
  const opened = await waitFor(
    'the gate-open notification',
    async () => notifications.find((n) => n.event === 'gate-open'),
    120_000,
  );
  link = opened.link ?? '';
  expect(link).toBe(`${appUrl}/cutovers/${encodeURIComponent(workflowId)}`);
  // The Temporal UI's current details link there too (the status carries the same link).
  const s = await status(cutovers, workflowId);
  expect(s.approvalLink).toBe(link);
  expect(renderStatus(s)).toContain(`sign off: ${link}`);
  const metadata = await cutovers.client.workflow
    .getHandle(workflowId)
    .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  expect(metadata.currentDetails).toContain(`[Sign off in the approval app](${link})`);
});

test('an approver signs in at the provider, sees the evidence and approves; the gate counts it with the login', async () => {
  ana = await signedIn('ana', link);
  const { page } = ana;
  const before = await status(cutovers, workflowId);
  await page.getByRole('heading', { name: 'Sign-off: gate open' }).waitFor();
  await page.getByText(`On the evidence ${before.evidenceDigest}`).waitFor();
  await page.getByRole('heading', { name: 'Phases' }).waitFor();
  await page.getByRole('heading', { name: 'Shadow: V1 vs V2' }).waitFor();
  await page.getByText('You sign as ana for engineering.').waitFor();
  // The record as an auditor would check it: exported, signed with the workers' key, every check held.
  await page.locator('p.record').getByText("verified with workers' key workers-ui").waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'cutover-page.png'), fullPage: true });

  await page.getByLabel('Comment').fill('checked the shadow diffs');
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.locator('#answer').getByText('Counted: your approve for engineering').waitFor();
  expect(page.url()).toBe(link);

  const after = await status(cutovers, workflowId);
  expect(gateOf(after, 'engineering')).toMatchObject({ approvedBy: ['ana'], missing: 0 });
  const entry = after.audit.find((a) => a.kind === 'signoff' && a.accepted === true);
  expect(entry?.identity).toEqual({ issuer, subject: 'ana' });
  expect(after.gate.roles.filter((r) => r.missing > 0).map((r) => r.role)).toEqual([
    'qa',
    'architecture',
    'operations',
    'business',
  ]);
});

test('the list shows the cutover waiting for sign-off', async () => {
  const { page } = ana;
  await page.goto(`${appUrl}/`);
  await page.getByRole('heading', { name: 'Waiting for sign-off' }).waitFor();
  await page.getByRole('link', { name: workflowId }).waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'list.png'), fullPage: true });
});

test('a signed-in user who is not an approver for the role sees the refusal, and a forced post changes nothing', async () => {
  // gus is in risk-qa (the group holding qa), but the plan lists only bo for qa.
  const gus = await signedIn('gus', link);
  const refusal = gus.page.locator('#not-an-approver');
  await refusal.getByText('the plan does not list gus among the approvers for qa (bo)').waitFor();
  await refusal.getByText('gus is not in a group that holds engineering (eng-leads)').waitFor();
  await expect(gus.page.getByRole('button', { name: 'Approve' }).count()).resolves.toBe(0);
  await gus.page.screenshot({ path: path.join(ARTIFACTS, 'refusal.png'), fullPage: true });

  // The form is not there; posting it anyway with gus's own CSRF token is refused by the app.
  const csrf = await gus.page.locator('input[name=_csrf]').first().inputValue();
  const digest = (await status(cutovers, workflowId)).evidenceDigest ?? '';
  const answer = await gus.page.request.post(`${link}/signoff`, {
    form: { _csrf: csrf, role: 'qa', decision: 'approve', evidenceDigest: digest },
  });
  expect(answer.status()).toBe(403);
  expect(await answer.text()).toContain(
    'you cannot sign for qa: the plan does not list gus among the approvers for qa',
  );
  expect(gateOf(await status(cutovers, workflowId), 'qa')).toMatchObject({ approvedBy: [], missing: 1 });

  // A bad form (a decision the form does not offer) is refused too.
  const bad = await gus.page.request.post(`${link}/signoff`, {
    form: { _csrf: csrf, role: 'qa', decision: 'maybe', evidenceDigest: digest },
  });
  expect(bad.status()).toBe(400);

  // Both attempts are in the cutover's audit, with gus's login, not only in the app's log.
  const audited = await waitFor('the app refusals in the audit', async () => {
    const now = await status(cutovers, workflowId);
    const refusals = now.audit.filter((a) => a.rule === 'refused-by-app');
    return refusals.length >= 2 ? refusals : undefined;
  });
  expect(audited).toEqual([
    expect.objectContaining({
      kind: 'signoff',
      accepted: false,
      actor: 'gus',
      identity: { issuer: expect.any(String), subject: expect.any(String) },
      message: expect.stringContaining(
        'approve for qa refused by the approval app: the plan does not list gus among the approvers for qa',
      ),
    }),
    expect.objectContaining({
      actor: 'gus',
      message: expect.stringContaining('maybe for qa refused by the approval app: a bad form'),
    }),
  ]);
  await gus.context.close();
});

test('a refusal report not attested by an app the workers trust is dropped: the audit keeps only what the app vouched for', async () => {
  const before = (await status(cutovers, workflowId)).audit.filter((a) => a.rule === 'refused-by-app').length;
  await temporalSignal(
    server.address,
    workflowId,
    'approvalAppRefusal',
    JSON.stringify({
      role: 'qa',
      decision: 'approve',
      user: 'bo',
      reason: 'made up',
      attestation: { keyId: 'dev-app', issuer: 'x', subject: 'y', issuedAt: new Date().toISOString(), signature: '00' },
    }),
  );
  // Signals are handled in order: once a raw sign-off sent after it is audited (refused as unattested), the
  // report has been handled too.
  const marker = `after the forged report ${Date.now()}`;
  await temporalSignal(
    server.address,
    workflowId,
    'signOff',
    JSON.stringify({ role: 'qa', approver: 'bo', decision: 'reject', comment: marker }),
  );
  const now = await waitFor('the later signal handled', async () => {
    const s = await status(cutovers, workflowId);
    return s.audit.some((a) => a.rule === 'unattested' && a.actor === 'bo' && a.message.includes('reject'))
      ? s
      : undefined;
  });
  const after = now.audit.filter((a) => a.rule === 'refused-by-app');
  expect(after).toHaveLength(before);
  expect(after.some((a) => a.message.includes('made up'))).toBe(false);
});

test('with attested sign-offs required, a raw temporal workflow signal for the role is refused as unattested', async () => {
  const digest = (await status(cutovers, workflowId)).evidenceDigest ?? '';
  await temporalSignal(
    server.address,
    workflowId,
    'signOff',
    JSON.stringify({ role: 'qa', approver: 'bo', decision: 'approve', evidenceDigest: digest }),
  );
  const s = await waitFor('the signal refused', async () => {
    const now = await status(cutovers, workflowId);
    return now.audit.some((a) => a.kind === 'signoff' && a.accepted === false && a.rule === 'unattested')
      ? now
      : undefined;
  });
  expect(gateOf(s, 'qa')).toMatchObject({ approvedBy: [], missing: 1 });
});

test('a form post without its CSRF token, or with a made-up one, is refused and changes nothing', async () => {
  const bo = await signedIn('bo', link);
  const digest = (await status(cutovers, workflowId)).evidenceDigest ?? '';
  const form = { role: 'qa', decision: 'approve', evidenceDigest: digest };
  const without = await bo.page.request.post(`${link}/signoff`, { form });
  expect(without.status()).toBe(403);
  expect(await without.text()).toContain(
    'security token is missing or does not belong to your session: nothing was submitted',
  );
  const forged = await bo.page.request.post(`${link}/signoff`, { form: { ...form, _csrf: 'made-up-token' } });
  expect(forged.status()).toBe(403);
  // ana's token is bound to ana's login: it does not pass for bo.
  const anasToken = await ana.page.locator('input[name=_csrf]').first().inputValue();
  const tossed = await bo.page.request.post(`${link}/signoff`, { form: { ...form, _csrf: anasToken } });
  expect(tossed.status()).toBe(403);
  expect(gateOf(await status(cutovers, workflowId), 'qa')).toMatchObject({ approvedBy: [], missing: 1 });

  // With its token, bo's form counts: the refusals above were the token's, not bo's.
  await bo.page.reload();
  await bo.page.getByRole('button', { name: 'Approve' }).click();
  await bo.page.locator('#answer').getByText('Counted: your approve for qa').waitFor();
  expect(gateOf(await status(cutovers, workflowId), 'qa')).toMatchObject({ approvedBy: ['bo'], missing: 0 });
  await bo.context.close();
});

test('the page follows a cutover live: the form appears when the gate opens, without a reload by the user', async () => {
  const plan = makePlan({
    release: uniqueId('live'),
    staging: {
      deploy: [ok('switch-staging')],
      // Long enough to open the page while the gate is still closed.
      tests: { name: 'tests', run: nodeRun("setTimeout(() => process.stdout.write('{}'), 5000)") },
      healthChecks: [ok('health')],
    },
  });
  const id = (await startCutover(cutovers, plan)).workflowId;
  const page = await ana.context.newPage();
  await page.goto(`${appUrl}/cutovers/${encodeURIComponent(id)}`);
  await page.getByText('there is nothing to sign yet').waitFor();
  await page.getByRole('heading', { name: 'Sign-off: gate open' }).waitFor({ timeout: 60_000 });
  await page.getByRole('button', { name: 'Approve' }).waitFor();
  await page.close();
});

test('bad input is answered with the field and what is wrong, and a stale digest is refused by the gate', async () => {
  const { page } = ana;
  await page.goto(link);
  const csrf = await page.locator('input[name=_csrf]').first().inputValue();
  const bad = await page.request.post(`${link}/signoff`, {
    form: { _csrf: csrf, role: 'engineering', decision: 'maybe', evidenceDigest: 'f'.repeat(64) },
  });
  expect(bad.status()).toBe(400);
  expect(await bad.text()).toContain('decision: expected approve or reject');
  // The digest of other evidence than the gate holds: the gate refuses it as stale, and the page says so.
  const stale = await page.request.post(`${link}/signoff`, {
    form: { _csrf: csrf, role: 'engineering', decision: 'reject', comment: 'no', evidenceDigest: 'f'.repeat(64) },
  });
  expect(stale.status()).toBe(409);
  const text = await stale.text();
  expect(text).toContain('stale-evidence');
  expect(text).toContain('The evidence changed after this page showed it');
  expect((await status(cutovers, workflowId)).gate.status).toBe('open');
});

test('a login with more groups than a session cookie holds is refused with what to change', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(link);
  await page.waitForURL(`${issuer}/interaction/**`);
  await page.getByLabel('Login').fill('hal');
  await page.getByLabel('Password').fill(examplePassword('hal'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page
    .getByText('your login carries 120 groups, too many to keep in a session cookie')
    .waitFor({ timeout: 30_000 });
  expect(await context.cookies(appUrl)).not.toContainEqual(expect.objectContaining({ name: 'cutover_session' }));
  await context.close();
});

test('a rejection with its comment is counted, rejects the cutover, and the page says so', async () => {
  const cy = await signedIn('cy', link);
  await cy.page.getByLabel('Comment').fill('the PAR90 shift needs an explanation');
  await cy.page.getByRole('button', { name: 'Reject' }).click();
  await cy.page.locator('#answer').getByText('Counted: your reject for architecture. Gate rejected').waitFor();
  const s = await waitFor('the cutover rejected', async () => {
    const now = await status(cutovers, workflowId);
    return now.state === 'rejected' ? now : undefined;
  });
  expect(s.gate.rejectedBy).toMatchObject({
    role: 'architecture',
    approver: 'cy',
    comment: 'the PAR90 shift needs an explanation',
  });
  // Its record recounts the attested sign-offs and the raw signal refused as unattested, and still verifies.
  // A page of its own: the old one reloads itself as the cutover moves on, and would abort a navigation.
  const fresh = await cy.context.newPage();
  await fresh.goto(link);
  const line = fresh.locator('p.record');
  await line.getByText("verified with workers' key workers-ui").waitFor();
  expect(await line.textContent()).toMatch(
    /^Record [0-9a-f]{64} · verified with workers' key workers-ui \(5 checks held\)$/,
  );
  await cy.context.close();
});

test('inside a freeze, the incident-commander and a second person break the glass in the app: the deploy goes, marked', async () => {
  // The cutover under the break-glass policy: approved at the gate, its deploy waits for the freeze to end.
  await waitFor(
    'the break-glass cutover at its gate',
    async () => ((await status(glassCutovers, glassId)).state === 'awaiting-signoff' ? true : undefined),
    120_000,
  );
  await approveAll(glassCutovers.client.workflow.getHandle<typeof cutoverWorkflow>(glassId));
  await waitFor('the deploy waiting for its window', async () =>
    (await status(glassCutovers, glassId)).waitingForWindow?.breakGlass ? true : undefined,
  );
  const url = `${appUrl}/cutovers/${encodeURIComponent(glassId)}`;

  const di = await signedIn('di', url);
  await di.page
    .locator('#window')
    .getByText('break-glass: the incident-commander and a second person may let it go now')
    .waitFor();
  await di.page.locator('#break-glass select[name=role]').selectOption('incident-commander');
  await di.page.getByLabel('Reason').fill('INC-4711: V1 double-counts PAR90; the fix cannot wait for the freeze');
  await di.page.getByRole('button', { name: 'Break the glass' }).click();
  await di.page
    .locator('#glass-answer')
    .getByText('Counted: your break-glass as incident-commander. It takes a second person too.')
    .waitFor();
  await di.page.screenshot({ path: path.join(ARTIFACTS, 'break-glass-first.png'), fullPage: true });
  await di.context.close();

  const ana = await signedIn('ana', url);
  // ana holds no break-glass role: she may only be the second person, for engineering.
  expect(await ana.page.locator('#break-glass select[name=role] option').allTextContents()).toEqual(['engineering']);
  await ana.page.getByLabel('Reason').fill('INC-4711: seen the numbers; agreed');
  await ana.page.getByRole('button', { name: 'Break the glass' }).click();
  await ana.page.locator('#glass-answer').getByText('The glass is broken: the change goes now.').waitFor();
  await ana.context.close();

  const s = await waitFor('the deploy past its wait', async () => {
    const now = await status(glassCutovers, glassId);
    return now.breakGlass?.length ? now : undefined;
  });
  expect(s.breakGlass?.[0]?.by.map((b) => [b.approver, b.role, b.attested?.subject])).toEqual([
    ['di', 'incident-commander', expect.any(String)],
    ['ana', 'engineering', expect.any(String)],
  ]);
  expect(s.breakGlass?.[0]?.closed).toMatch(/^the freeze "the test freeze"/);
  expect(s.waitingForWindow).toBeUndefined();
  const told = await waitFor('the break-glass notifications', async () => {
    const glass = notifications.filter((n) => n.event === 'break-glass');
    return glass.length >= 3 ? glass : undefined;
  });
  expect(told.some((n) => n.text.includes('break-glass: the production deploy goes ahead inside the freeze'))).toBe(
    true,
  );
});
