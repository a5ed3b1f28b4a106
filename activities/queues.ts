/**
 * Who polls a task queue, for a cutover whose work waits on it. The server keeps listing a poller for
 * minutes after its process died, so a poller counts as live only if it polled within LIVE_POLLER_MS.
 */
import { Context } from '@temporalio/activity';
import { temporal } from '@temporalio/proto';

/**
 * A live worker polls again as soon as a poll ends, and the server ends an empty long poll after a minute
 * (matching.longPollExpirationInterval): a poller not seen for 90 s has stopped.
 */
export const LIVE_POLLER_MS = 90_000;

/** The activity pollers of a task queue as a waiting cutover reports them. */
export interface QueueView {
  taskQueue: string;
  checkedAt: string;
  /** Pollers seen within LIVE_POLLER_MS. */
  live: number;
  /** The poller seen last, live or not, if the server lists any. */
  lastSeen?: { identity: string; at: string };
}

/** Describes `taskQueue`'s activity pollers through the worker's own client. */
export async function describeQueue(taskQueue: string): Promise<QueueView> {
  const { client } = Context.current();
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  const now = Date.now();
  const seen = (response.pollers ?? []).flatMap((poller) => {
    const seconds = poller.lastAccessTime?.seconds;
    if (seconds === undefined || seconds === null) return [];
    const at = Number(seconds) * 1000 + Math.floor((poller.lastAccessTime?.nanos ?? 0) / 1e6);
    return [{ identity: poller.identity ?? '', at }];
  });
  const last = seen.reduce<(typeof seen)[number] | undefined>((a, b) => (a && a.at >= b.at ? a : b), undefined);
  return {
    taskQueue,
    checkedAt: new Date(now).toISOString(),
    live: seen.filter((p) => now - p.at <= LIVE_POLLER_MS).length,
    ...(last ? { lastSeen: { identity: last.identity, at: new Date(last.at).toISOString() } } : {}),
  };
}
