/**
 * What the orchestration benches read about processes, histories and the worker's metrics.
 */
import { readFileSync } from 'node:fs';
import type { temporal } from '@temporalio/proto';

export const eventMs = (e: temporal.api.history.v1.IHistoryEvent) =>
  Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;

/** An event's user-metadata summary (activities are scheduled with one), or ''. */
export function summaryOf(e: temporal.api.history.v1.IHistoryEvent): string {
  const data = e.userMetadata?.summary?.data;
  if (!data) return '';
  try {
    return String(JSON.parse(Buffer.from(data).toString('utf8')));
  } catch {
    return '';
  }
}

/** An event's kind: its attributes' name without `EventAttributes`. */
export const eventKind = (e: temporal.api.history.v1.IHistoryEvent): string =>
  (Object.keys(e).find((k) => k.endsWith('EventAttributes')) ?? '?').replace(/EventAttributes$/, '');

/** utime + stime of a process, in seconds. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The kernel's peak resident set (VmHWM) of a process, in MB. */
export function peakRssMb(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

/** Current resident set (VmRSS) of a process, in MB. */
export function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

/** Runs `task` over `items`, at most `width` at a time. */
export async function inBatches<T, R>(
  items: readonly T[],
  width: number,
  task: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await task(items[i]!, i);
      }
    }),
  );
  return out;
}

/** A Prometheus histogram's cumulative buckets (le=count), summed over its label sets, on one line. */
export function histogramLine(text: string, name: string): string {
  const buckets = new Map<string, number>();
  const bucket = new RegExp(`^${name}(?:_seconds|_milliseconds)?_bucket\\{.*le="([^"]+)".*\\} (\\S+)$`);
  for (const line of text.split('\n')) {
    const match = bucket.exec(line);
    if (match) buckets.set(match[1]!, (buckets.get(match[1]!) ?? 0) + Number(match[2]));
  }
  return [...buckets].map(([le, n]) => `≤${le}:${n}`).join(' ') || '(none)';
}

/** The SDK's count of workflow tasks for runs the worker no longer had in its cache (from its /metrics). */
export async function stickyCacheMisses(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('temporal_sticky_cache_miss'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

/** Why workflow tasks timed out or failed, counted over all histories (a worker too slow or too full to answer). */
export const troubleKinds = new Map<string, number>();

/** Workflow tasks that timed out or failed in a history; their kinds go to troubleKinds. */
export function taskTroubles(events: temporal.api.history.v1.IHistoryEvent[]): number {
  let n = 0;
  for (const e of events) {
    const timedOut = e.workflowTaskTimedOutEventAttributes;
    const failed = e.workflowTaskFailedEventAttributes;
    if (!timedOut && !failed) continue;
    n++;
    const kind = timedOut
      ? `timed out (${String(timedOut.timeoutType)})`
      : `failed (${String(failed?.cause)}: ${(failed?.failure?.message ?? '').slice(0, 80)})`;
    troubleKinds.set(kind, (troubleKinds.get(kind) ?? 0) + 1);
  }
  return n;
}

/** BENCH_TIMELINE=1: each event of the last cutover with its time since the start, to see where time goes. */
export function printTimeline(events: temporal.api.history.v1.IHistoryEvent[]): void {
  const start = eventMs(events[0]!);
  let previous = start;
  for (const e of events) {
    const at = eventMs(e);
    process.stderr.write(
      `${(at - start).toFixed(1).padStart(8)} ms  +${(at - previous).toFixed(1).padStart(6)}  ${eventKind(e)}\n`,
    );
    previous = at;
  }
}
