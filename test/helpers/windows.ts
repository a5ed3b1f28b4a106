/** The change-window tests' plan and clock (test/workflows/change-window*.test.ts). */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import type { CutoverStatus } from '../../shapes/status';
import { cutoverWorkflow } from '../../workflows';
import { approveAll, uniqueId, waitForStatus } from './harness';
import { makePlan, makePlanInput } from './plans';

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
  plan: ReturnType<typeof windowPlan>,
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
