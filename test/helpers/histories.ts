/**
 * The recorded cutover histories (test/workflows/replay/histories) and replaying them on a worker: the replay suite
 * replays them on the workflow code, the bundle test on the built bundle, the shape check reads their plans.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';

export const HISTORIES = path.join(__dirname, '..', 'workflows', 'replay', 'histories');

export interface Recorded {
  file: string;
  workflowId: string;
  /** The history as the temporal CLI exports it (JSON). */
  history: {
    events: { workflowExecutionStartedEventAttributes?: { input?: { payloads?: { data: string }[] } } }[];
  };
}

/** Every recorded history, by file name. */
export function recordedHistories(): Recorded[] {
  return readdirSync(HISTORIES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({
      file,
      ...(JSON.parse(readFileSync(path.join(HISTORIES, file), 'utf8')) as Omit<Recorded, 'file'>),
    }));
}

/** Replays every recorded history on a worker with `options`: how many replayed, and each one that failed. */
export async function replayAll(options: ReplayWorkerOptions): Promise<{ replayed: number; failures: string[] }> {
  const histories = recordedHistories().map((r) => ({ workflowId: r.workflowId, history: historyFromJSON(r.history) }));
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of Worker.runReplayHistories(options, histories)) {
    replayed++;
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  return { replayed, failures };
}
