/** The change-window tests' plan, policy and clock (test/workflows/change-window*.test.ts, break-glass.test.ts). */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadPolicy } from '../../policy/load';
import type { CutoverPlan } from '../../plan/schema';
import type { WorkflowHandle } from '@temporalio/client';
import type { CutoverStatus } from '../../shapes/status';
import { cutoverWorkflow } from '../../workflows';
import { approveAll, uniqueId, waitForStatus } from './harness';
import { makePlan, makePlanInput, scriptPlanInput } from './plans';

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri'] as const;

/**
 * The test plan, production allowed to change on weekdays 09:00–15:00 London time, plus `freezes`; `notify`, a
 * receiver told of `window-wait`.
 */
export function windowPlan(options: { freezes?: unknown[]; notify?: string } = {}) {
  const input = makePlanInput();
  return makePlan({
    release: uniqueId('test-window'),
    production: {
      ...input.production,
      window: {
        zone: 'Europe/London',
        windows: [{ days: [...WEEKDAYS], from: '09:00', to: '15:00' }],
        freezes: options.freezes ?? [],
      },
    },
    ...(options.notify ? { notify: [{ name: 'ops', http: options.notify, events: ['window-wait'] }] } : {}),
  } as never);
}

/**
 * Moves a time-skipping server's clock to `iso`. Only forward, and once per server as a rule: the server skips on
 * by itself once its last workflow ends (ten years, seen), so each dated test has a file and a server of its own.
 */
export async function skipTo(env: TestWorkflowEnvironment, iso: string): Promise<void> {
  const ahead = Date.parse(iso) - (await env.currentTimeMs());
  if (ahead <= 0) throw new Error(`the server's clock is past ${iso} already`);
  await env.sleep(ahead);
}

/** The first audit entry that starts with `start`. */
export const auditEntry = (s: CutoverStatus, start: string) => s.audit.find((a) => a.message.startsWith(start));

/** Starts a cutover of `plan`, approves it at the gate, and returns it once its change waits for the window. */
export async function approvedAndWaiting(
  t: { env: TestWorkflowEnvironment; taskQueue: string },
  plan: CutoverPlan,
): Promise<{ handle: WorkflowHandle<typeof cutoverWorkflow>; waiting: CutoverStatus }> {
  const handle = await t.env.client.workflow.start(cutoverWorkflow, {
    taskQueue: t.taskQueue,
    workflowId: uniqueId('window'),
    args: [plan],
  });
  await waitForStatus(handle, (s) => s.state === 'awaiting-signoff');
  await approveAll(handle);
  return { handle, waiting: await waitForStatus(handle, (s) => s.waitingForWindow !== undefined) };
}

/** Weekdays 09:00–15:00 London time: the calendar of these tests' policies. */
export const LONDON_WEEKDAYS = {
  zone: 'Europe/London',
  windows: [{ days: [...WEEKDAYS], from: '09:00', to: '15:00' }],
};

/**
 * A workers' policy with `calendar`, written as `<name>.yaml` in `dir`, whose default rules let the script plan
 * (`windowPolicyPlan`) run: `node app/step.js` in `dir/app`, and notifications to loopback.
 */
export function windowPolicy(dir: string, name: string, calendar: Record<string, unknown>) {
  const app = path.join(dir, 'app');
  if (!existsSync(app)) {
    mkdirSync(app, { recursive: true });
    // Every action: writes the dataset it is given (the generator), prints what a pipeline or probe prints.
    writeFileSync(
      path.join(app, 'step.js'),
      [
        "if (process.argv[3]) require('fs').writeFileSync(process.argv[3], 'x');",
        'process.stdout.write(JSON.stringify({ metrics: { TotalReceivable: 1000, PAR30: 0.1 }, rows: 10, errorRate: 0 }));',
      ].join('\n'),
    );
  }
  const file = path.join(dir, `${name}.yaml`);
  const rules = { commands: { default: [['node', 'app/step.js']] }, folders: ['app'], urls: ['http://127.0.0.1:'] };
  writeFileSync(file, stringify({ version: 1, default: { ...rules, calendar } }));
  return loadPolicy(file);
}

/** The plan a `windowPolicy` lets run, telling `events` to the receiver at `notify`. */
export function windowPolicyPlan(dir: string, notify: string, events: string[]) {
  return makePlan({
    ...scriptPlanInput(path.join(dir, 'app')),
    release: uniqueId('test-window'),
    notify: [{ name: 'ops', http: notify, events }],
  } as never);
}
