/**
 * A workflow a rogue worker runs: whoever polls a queue of the namespace may run workflow code of their own, and
 * that code may schedule the workers' activities with any input. It asks the workers to run a step and says
 * what came back.
 */
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../../activities';
import type { StepInput } from '../../../shapes/evidence';

export async function rogueStepWorkflow(taskQueue: string, input: StepInput): Promise<string> {
  const { runStep } = proxyActivities<Activities>({
    taskQueue,
    startToCloseTimeout: '1m',
    retry: { maximumAttempts: 1 },
  });
  try {
    await runStep(input);
    return 'ran';
  } catch (err) {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    return cause instanceof ApplicationFailure ? `${cause.type}: ${cause.message}` : String(cause);
  }
}
