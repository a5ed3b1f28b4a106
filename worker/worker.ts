/**
 * Builds and runs the cutover worker: connection, activities, prebuilt workflow bundle, graceful shutdown.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { NativeConnection, Worker, type InjectedSinks } from '@temporalio/worker';
import type { PayloadCodec } from '@temporalio/common';
import type { CutoverSinks } from '../workflows/sinks';
import { createActivities, ENVIRONMENT_ACTIVITIES } from '../activities';
import type { Environment } from '../plan/environments';
import { setActionNice } from '../activities/runner';
import { temporalTarget } from '../common/temporal-env';
import { loadBundle } from '../common/workflow-bundle';
import type { WorkerConfig } from './config';

/** The prebuilt bundle next to the compiled worker (dist/workflow-bundle.js), if there is one. */
export function defaultBundlePath(): string {
  return path.join(__dirname, '..', 'workflow-bundle.js');
}

/** One of the process's Temporal workers: the queue it polls and what it runs there. */
export interface ServedQueue {
  worker: Worker;
  taskQueue: string;
  /** `orchestrator`, or the environment whose work this queue carries. */
  role: 'orchestrator' | Environment;
  workflows: boolean;
  activities: string[];
}

/**
 * The workers of one process, on one connection: the orchestrator's (the workflows and every activity, for
 * plans without `environments`, on CUTOVER_TASK_QUEUE) and one per environment served, each registering only
 * its environment's activities on that environment's queue (plan/environments.ts).
 */
export async function createWorker(
  config: WorkerConfig,
  sinks: InjectedSinks<CutoverSinks>,
  connection?: NativeConnection,
  codec?: PayloadCodec,
): Promise<{ served: ServedQueue[]; connection: NativeConnection }> {
  const target = temporalTarget();
  const conn = connection ?? (await NativeConnection.connect(target.connectionOptions));
  await mkdir(config.dataDir, { recursive: true });
  setActionNice(config.CUTOVER_ACTION_NICE);
  const activities = createActivities({
    dataDir: config.dataDir,
    queues: config.queues,
    attestation: config.attestation,
    ...(config.CUTOVER_APPROVAL_URL ? { approvalUrl: config.CUTOVER_APPROVAL_URL } : {}),
    diff: { memoryLimit: config.CUTOVER_DIFF_MEMORY, threads: config.CUTOVER_DIFF_THREADS },
    databases: config.databases,
    ...(config.policy ? { policy: config.policy } : {}),
    ...(config.seals ? { seals: config.seals } : {}),
  });
  const common = {
    connection: conn,
    namespace: target.namespace,
    ...(codec ? { dataConverter: { payloadCodecs: [codec] } } : {}),
    maxConcurrentActivityTaskExecutions: config.CUTOVER_MAX_ACTIVITIES,
    shutdownGraceTime: config.CUTOVER_SHUTDOWN_GRACE,
    // Progress in heartbeat details must reach the server soon after it is made, or a crash loses it.
    maxHeartbeatThrottleInterval: '2s',
  };
  const served: ServedQueue[] = [];
  if (config.orchestrator) {
    const bundlePath = config.CUTOVER_WORKFLOW_BUNDLE ?? defaultBundlePath();
    const workflows = existsSync(bundlePath)
      ? { workflowBundle: { code: await loadBundle(bundlePath) } }
      : { workflowsPath: require.resolve('../workflows') };
    const worker = await Worker.create({
      ...common,
      taskQueue: config.CUTOVER_TASK_QUEUE,
      activities,
      sinks,
      maxConcurrentWorkflowTaskExecutions: config.CUTOVER_MAX_WORKFLOW_TASKS,
      ...(config.CUTOVER_MAX_CACHED_WORKFLOWS !== undefined
        ? { maxCachedWorkflows: config.CUTOVER_MAX_CACHED_WORKFLOWS }
        : {}),
      // The SDK's 10 s by default. One worker carrying many cutovers can be busy for longer than that (1,000
      // cutovers signed off at once: bench/README.md): past it a task is recorded as timed out and sent again,
      // with the whole history, on the normal queue, to the same busy worker. Longer has its price: after a
      // worker dies, its cutovers' tasks and status queries wait that long before another worker answers.
      stickyQueueScheduleToStartTimeout: config.CUTOVER_STICKY_TIMEOUT,
      ...workflows,
    });
    served.push({
      worker,
      taskQueue: config.CUTOVER_TASK_QUEUE,
      role: 'orchestrator',
      workflows: true,
      activities: Object.keys(activities),
    });
  }
  for (const environment of config.environments) {
    const names = ENVIRONMENT_ACTIVITIES[environment];
    const taskQueue = config.queues[environment];
    const worker = await Worker.create({
      ...common,
      taskQueue,
      activities: Object.fromEntries(names.map((name) => [name, activities[name]])),
    });
    served.push({ worker, taskQueue, role: environment, workflows: false, activities: [...names] });
  }
  return { served, connection: conn };
}
