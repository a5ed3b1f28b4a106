/**
 * Where each kind of work runs. A plan's `environments` sends the work of a phase to that environment's task
 * queue, which must be the queue the workers give it (the policy's `environments`, else `<queue>-<name>`):
 * a plan cannot send production work to a queue of its own choosing, where any process could poll and
 * return invented evidence. Without `environments` everything runs on the workers' one queue.
 *
 * Pure and free of Node built-ins: workflow code imports it.
 */
export const ENVIRONMENTS = ['staging', 'production', 'compute'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/** The task queue the workers give `environment` when their policy names none: `<queue>-<environment>`. */
export function defaultEnvironmentQueue(taskQueue: string, environment: Environment): string {
  return `${taskQueue}-${environment}`;
}

/** The workers' task queue per environment. */
export type EnvironmentQueues = Readonly<Record<Environment, string>>;

/** The workers' queue per environment: the policy's where it names one, else `<queue>-<environment>`. */
export function environmentQueues(
  taskQueue: string,
  fromPolicy: Partial<Record<Environment, { taskQueue: string }>> = {},
): EnvironmentQueues {
  const queues = {} as Record<Environment, string>;
  for (const environment of ENVIRONMENTS) {
    queues[environment] = fromPolicy[environment]?.taskQueue ?? defaultEnvironmentQueue(taskQueue, environment);
  }
  return queues;
}

type Environments = Partial<Record<Environment, { taskQueue: string; noWorkerAlert?: string }>>;

/**
 * Binds a plan's `environments` to the workers' queues: a queue other than the workers' for that environment
 * is a problem at `environments.<name>.taskQueue`; an environment the policy routes (`routed`) and the plan
 * leaves out is routed there too, since the policy, not the plan, says where that work runs.
 */
export function bindEnvironments<P extends { environments?: Environments | undefined }>(
  plan: P,
  queues: EnvironmentQueues,
  routed: readonly Environment[] = [],
): { problems: { path: string; message: string }[]; plan: P } {
  const problems: { path: string; message: string }[] = [];
  const bound: Environments = { ...plan.environments };
  for (const environment of ENVIRONMENTS) {
    const given = plan.environments?.[environment];
    if (given && given.taskQueue !== queues[environment]) {
      problems.push({
        path: `environments.${environment}.taskQueue`,
        message: `"${given.taskQueue}" is not the queue the workers give ${environment} ("${queues[environment]}")`,
      });
    }
    if (!given && routed.includes(environment)) bound[environment] = { taskQueue: queues[environment] };
  }
  return { problems, plan: Object.keys(bound).length > 0 ? { ...plan, environments: bound } : plan };
}
