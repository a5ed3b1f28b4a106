/**
 * `npm run bench signoff`: last signOff signal sent → production deploy action started, over BENCH_CUTOVERS (50).
 */
import { EXAMPLE_APPROVERS as ROLES } from '../../examples/portfolio-kpi/approvers';
import { freePort } from '../../common/net';
import { signOffSignal } from '../../workflows/messages';
import { save, spread } from '../common';
import type { Layout } from './stack';
import { fmt, markOf, ms, nowNs, say, signOffAll, startCutovers, startStack, table, waitForState } from './stack';
import { eventKind, eventMs, histogramLine, printTimeline, summaryOf } from './measures';

export type SignoffLoad = 'quiet' | 'busy';

interface SignoffRun {
  /** Last signal sent → the deploy activity's ActivityTaskStarted event (the measure). */
  toActivity: number[];
  /** Last signal sent → the deploy action's first line (`date +%s%N`): stricter, includes its process start. */
  toAction: number[];
  /** Earlier cutovers still running at each last approval. */
  inFlight: number[];
  completed: number;
}

/**
 * Brings `count` cutovers to the gate, then signs them off one at a time. `quiet`: each signed cutover runs
 * to its end before the next is signed (the others wait at the gate). `busy`: the next is signed as soon as
 * the deploy starts, so the earlier ones are still monitoring (1 s probes) and reconciling (≈ 30 at once).
 */
export async function measureSignoffs(count: number, load: SignoffLoad, layout: Layout = 'one'): Promise<SignoffRun> {
  const metricsPort = await freePort();
  const stack = await startStack({ CUTOVER_METRICS_PORT: String(metricsPort) }, layout);
  try {
    say(`signoff (${load}): ${count} cutovers to the gate…`);
    const cutovers = await startCutovers(stack, count);
    await Promise.all(cutovers.map((c) => waitForState(c.handle, ['awaiting-signoff'])));
    const toAction: number[] = [];
    const sentAt: bigint[] = [];
    // Signed cutovers not yet ended, at each last approval: the load the busy run measures under.
    const inFlight: number[] = [];
    let ended = 0;
    for (const c of cutovers) {
      inFlight.push(sentAt.length - ended);
      await signOffAll(c.handle, ROLES.slice(0, 4));
      const [role, approver] = ROLES[4]!;
      const sent = nowNs();
      sentAt.push(sent);
      await c.handle.signal(signOffSignal, { role, approver, decision: 'approve' });
      toAction.push(ms((await markOf(c.deployMark)) - sent));
      const end = c.handle.result().finally(() => ended++);
      if (load === 'quiet') await end;
    }
    const states = await Promise.all(cutovers.map((c) => c.handle.result().then((r) => r.state)));
    const toActivity = await Promise.all(
      cutovers.map(async (c, i) => {
        const events = (await c.handle.fetchHistory()).events ?? [];
        const deploy = events.find((e) => summaryOf(e).startsWith('production: deploy'));
        const started = events.find(
          (e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(deploy?.eventId),
        );
        if (!started) throw new Error(`cutover ${i}: no production deploy activity started`);
        return eventMs(started) - Number(sentAt[i]! / 1_000_000n);
      }),
    );
    if (process.env.BENCH_TIMELINE) {
      // The five slowest: every event from the last signal to the deploy's start.
      const slowest = toAction
        .map((r, i) => [r, i] as const)
        .sort((x, y) => y[0] - x[0])
        .slice(0, 5);
      for (const [r, i] of slowest) {
        const events = (await cutovers[i]!.handle.fetchHistory()).events ?? [];
        const signal = events.findLastIndex((e) => e.workflowExecutionSignaledEventAttributes);
        say(`cutover ${i}: ${r.toFixed(1)} ms`);
        printTimeline(events.slice(signal, signal + 12));
      }
    }
    if (process.env.BENCH_TIMELINE) {
      // Every cutover's workflow tasks, started → completed, by what woke them (the event before the task).
      const byCause = new Map<string, number[]>();
      for (const c of cutovers) {
        const events = (await c.handle.fetchHistory()).events ?? [];
        events.forEach((e, i) => {
          if (!e.workflowTaskCompletedEventAttributes) return;
          const started = events[i - 1];
          // Event ids count from 1 in a whole history: the scheduled event is at its id - 1, its cause before it.
          const before = events[Number(e.workflowTaskCompletedEventAttributes.scheduledEventId) - 2];
          const cause = before ? eventKind(before) : '?';
          const list = byCause.get(cause) ?? [];
          list.push(eventMs(e) - eventMs(started!));
          byCause.set(cause, list);
        });
      }
      for (const [cause, took] of byCause) say(`workflow tasks after ${cause}: ${fmt(spread(took))}`);
    }
    if (process.env.BENCH_TIMELINE) {
      // Inside the worker: how long workflow tasks and local activities took (the SDK's histograms, whole run).
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      for (const name of [
        'temporal_workflow_task_execution_latency',
        'temporal_local_activity_execution_latency',
        'temporal_workflow_task_schedule_to_start_latency',
        'temporal_activity_schedule_to_start_latency',
      ]) {
        say(`${name}: ${histogramLine(text, name)}`);
      }
    }
    return { toActivity, toAction, inFlight, completed: states.filter((st) => st === 'completed').length };
  } finally {
    await stack.stop();
  }
}

export async function benchSignoff(): Promise<void> {
  const count = Number(process.env.BENCH_CUTOVERS ?? 50);
  const loads = (process.env.BENCH_SIGNOFF_LOAD ?? 'quiet,busy').split(',') as SignoffLoad[];
  const rows: string[][] = [];
  const results: Record<string, unknown> = {};
  for (const load of loads) {
    const run = await measureSignoffs(count, load);
    const activity = spread(run.toActivity);
    const action = spread(run.toAction);
    const busy = spread(run.inFlight);
    rows.push(
      [
        `${load}: deploy activity started (${busy.p50} / ${busy.max} others running, p50 / max)`,
        fmt(activity),
        'p95 < 100 ms',
        `${run.completed} of ${count}`,
      ],
      [`${load}: deploy action running`, fmt(action), '', ''],
    );
    results[load] = {
      completed: run.completed,
      toActivityStartedMs: activity,
      toActionRunningMs: action,
      othersRunning: busy,
      samples: { toActivityStarted: run.toActivity, toActionRunning: run.toAction },
    };
  }
  table(['sign-off reaction (last signOff signal sent →)', 'p50 / p95 / max', 'goal', 'completed'], rows);
  await save('signoff', { cutovers: count, ...results });
}
