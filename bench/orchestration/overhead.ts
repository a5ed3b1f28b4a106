/**
 * `npm run bench overhead` and `layout`: the orchestration per activity, and the sign-off reactions per layout.
 */
import type { temporal } from '@temporalio/proto';
import { save, spread, type Spread } from '../common';
import type { Layout } from './stack';
import { fmt, say, startCutovers, startStack, table, waitForState } from './stack';
import type { SignoffLoad } from './signoff';
import { measureSignoffs } from './signoff';
import { eventMs, printTimeline } from './measures';

/** Scheduled → started, for every workflow and activity task. */
function dispatchGaps(events: temporal.api.history.v1.IHistoryEvent[]): number[] {
  const scheduled = new Map<string, number>();
  const gaps: number[] = [];
  for (const e of events) {
    if (e.workflowTaskScheduledEventAttributes || e.activityTaskScheduledEventAttributes) {
      scheduled.set(String(e.eventId), eventMs(e));
    }
    const from =
      e.workflowTaskStartedEventAttributes?.scheduledEventId ?? e.activityTaskStartedEventAttributes?.scheduledEventId;
    if (from !== undefined && from !== null) gaps.push(eventMs(e) - scheduled.get(String(from))!);
  }
  return gaps;
}

export async function benchOverhead(): Promise<void> {
  const count = Number(process.env.BENCH_OVERHEAD_CUTOVERS ?? 20);
  const s = await measureOverhead(count, 'one');
  table(
    ['phase overhead (start → gate, do-nothing actions)', 'p50 / p95 / max', 'goal'],
    [
      [`orchestration per activity (${s.activities} activities per cutover)`, fmt(s.perActivity), 'p50 < 20 ms'],
      ["activity's own time (started → completed)", fmt(s.own), ''],
    ],
  );
  await save('overhead', {
    cutovers: count,
    activitiesPerCutover: s.activities,
    overheadMs: s.perActivity,
    ownMs: s.own,
  });
}

/** Start → gate of `count` do-nothing cutovers, one at a time: the orchestration's time per activity. */
async function measureOverhead(
  count: number,
  layout: Layout,
): Promise<{ perActivity: Spread; own: Spread; activities: number }> {
  const stack = await startStack({}, layout);
  try {
    say(`overhead: ${count} cutovers, one at a time, to the gate…`);
    const perActivity: number[] = [];
    const ownMs: number[] = [];
    let activities = 0;
    for (let i = 0; i < count; i++) {
      const [c] = await startCutovers(stack, 1, () => ({ release: `o${i}` }));
      await waitForState(c!.handle, ['awaiting-signoff']);
      const events = (await c!.handle.fetchHistory()).events ?? [];
      const start = eventMs(events[0]!);
      if (i === count - 1 && process.env.BENCH_TIMELINE) printTimeline(events);
      if (process.env.BENCH_TIMELINE)
        say(
          `cutover ${i}: task dispatch ${dispatchGaps(events)
            .map((g) => g.toFixed(0))
            .join(' ')} ms`,
        );
      // The gate's deadline (72 h), not the timers that watch an environment's queue (queue-watch.ts).
      const gate = events.find((e) => Number(e.timerStartedEventAttributes?.startToFireTimeout?.seconds ?? 0) >= 3600);
      const started = new Map<string, number>();
      let own = 0;
      let n = 0;
      for (const e of events) {
        if (e.activityTaskStartedEventAttributes) {
          started.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), eventMs(e));
        }
        const done = e.activityTaskCompletedEventAttributes;
        if (done && eventMs(e) <= eventMs(gate!)) {
          own += eventMs(e) - started.get(String(done.scheduledEventId))!;
          n++;
        }
      }
      const overhead = (eventMs(gate!) - start - own) / n;
      perActivity.push(overhead);
      ownMs.push(own / n);
      activities = n;
      await c!.handle.terminate('bench: measured');
    }
    return { perActivity: spread(perActivity), own: spread(ownMs), activities };
  } finally {
    await stack.stop();
  }
}

/**
 * `npm run bench layout`: the sign-off reactions (BENCH_SIGNOFF_LOAD: quiet, busy) and the per-activity
 * overhead in each layout of BENCH_LAYOUTS (one,four), one after the other in the same run.
 */
export async function benchLayout(): Promise<void> {
  const layouts = (process.env.BENCH_LAYOUTS ?? 'one,four').split(',') as Layout[];
  const loads = (process.env.BENCH_SIGNOFF_LOAD ?? 'quiet,busy').split(',') as SignoffLoad[];
  const count = Number(process.env.BENCH_CUTOVERS ?? 50);
  const overheadCount = Number(process.env.BENCH_OVERHEAD_CUTOVERS ?? 20);
  const rows: string[][] = [];
  const results: Record<string, Record<string, unknown>> = {};
  for (const layout of layouts) {
    results[layout] = {};
    for (const load of loads) {
      const signoff = await measureSignoffs(count, load, layout);
      const reaction = spread(signoff.toActivity);
      const action = spread(signoff.toAction);
      rows.push(
        [
          `${LAYOUT_NAMES[layout]}: ${load} sign-off → deploy activity started`,
          fmt(reaction),
          `${signoff.completed} of ${count}`,
        ],
        [`${LAYOUT_NAMES[layout]}: ${load} sign-off → deploy action running`, fmt(action), ''],
      );
      results[layout][load] = {
        completed: signoff.completed,
        toActivityStartedMs: reaction,
        toActionRunningMs: action,
        samples: signoff.toActivity,
      };
    }
    const overhead = await measureOverhead(overheadCount, layout);
    rows.push([`${LAYOUT_NAMES[layout]}: orchestration per activity`, fmt(overhead.perActivity), '']);
    results[layout].overheadPerActivityMs = overhead.perActivity;
  }
  table(['layout', 'p50 / p95 / max', 'completed'], rows);
  await save('layout', { cutovers: count, overheadCutovers: overheadCount, ...results });
}

const LAYOUT_NAMES: Record<Layout, string> = {
  one: 'one worker, one queue',
  'one-routed': 'one worker, environments',
  four: 'four workers',
};
