/**
 * `npm run bench gate`: cutovers waiting at the gate, then signed off.
 */
import { EXAMPLE_APPROVERS as ROLES } from '../../examples/portfolio-kpi/approvers';
import { readFileSync, writeFileSync } from 'node:fs';
import { freePort } from '../../common/net';
import { signOffSignal, statusQuery } from '../../workflows/messages';
import { save, spread } from '../common';
import {
  fmt,
  markOf,
  ms,
  nowNs,
  say,
  signOffAll,
  sleepMs,
  startCutovers,
  startStack,
  table,
  waitForState,
} from './stack';
import { cpuSeconds, inBatches, peakRssMb, rssMb, stickyCacheMisses, taskTroubles, troubleKinds } from './measures';

/**
 * `npm run bench gate`: BENCH_GATE (100,1000) cutovers brought to the gate on one worker: its RSS with all of
 * them waiting; then each count's first BENCH_WOKEN (20) are signed off one at a time (the reaction of a
 * cutover whose workflow the worker may have evicted, and whether it had), then all the others at once, and
 * every one must complete: worker peak RSS, wall time, dev server CPU, workflow task timeouts.
 */
export async function benchGate(): Promise<void> {
  const counts = (process.env.BENCH_GATE ?? '100,1000').split(',').map(Number);
  const woken = Number(process.env.BENCH_WOKEN ?? 20);
  const results: Record<string, unknown>[] = [];
  const rows: string[][] = [];
  for (const count of counts) {
    const metricsPort = await freePort();
    const stack = await startStack({ CUTOVER_METRICS_PORT: String(metricsPort) });
    troubleKinds.clear();
    try {
      const workerPid = stack.worker.pid!;
      const serverPid = stack.server.process.pid!;
      const cpuBefore = cpuSeconds(serverPid);
      const t0 = performance.now();
      say(`gate: ${count} cutovers to the gate…`);
      const cutovers = await startCutovers(stack, count, (i) => ({ release: `g${i}` }));
      await inBatches(cutovers, 20, (c) => waitForState(c.handle, ['awaiting-signoff'], 1_800_000));
      const atGateS = (performance.now() - t0) / 1000;
      // Let the last tasks settle, then read what waiting costs.
      await sleepMs(5000);
      const rssAtGate = rssMb(workerPid);
      const peakAtGate = peakRssMb(workerPid);
      // Diagnosis: the worker's memory map with all of them waiting, to see whose memory it is.
      if (process.env.BENCH_SMAPS) writeFileSync(process.env.BENCH_SMAPS, readFileSync(`/proc/${workerPid}/smaps`));
      say(`gate: all ${count} at the gate after ${atGateS.toFixed(1)} s; worker RSS ${rssAtGate.toFixed(0)} MB`);
      // The woken: four approvals each, then every other cutover is queried (a query runs a workflow task, so
      // with a cache smaller than the count the woken ones are evicted), then each gets its last approval in
      // turn, timed to its deploy's start; the SDK's cache-miss count says whether it had been evicted.
      const wokenSet = cutovers.slice(0, woken);
      await inBatches(wokenSet, 5, (c) => signOffAll(c.handle, ROLES.slice(0, 4)));
      await inBatches(cutovers.slice(woken), 20, (c) => c.handle.query(statusQuery));
      const reactions: number[] = [];
      let evicted = 0;
      for (const c of wokenSet) {
        const [role, approver] = ROLES[4]!;
        const misses = await stickyCacheMisses(metricsPort);
        const sent = nowNs();
        await c.handle.signal(signOffSignal, { role, approver, decision: 'approve' });
        reactions.push(ms((await markOf(c.deployMark)) - sent));
        // A miss: the worker no longer held this cutover and replayed its history to answer.
        if ((await stickyCacheMisses(metricsPort)) > misses) evicted++;
      }
      say(`gate: signing off the other ${count - woken}…`);
      await inBatches(cutovers.slice(woken), 50, (c) => signOffAll(c.handle));
      const states = await inBatches(cutovers, 50, (c) => c.handle.result().then((r) => r.state));
      const wallS = (performance.now() - t0) / 1000;
      const serverCpu = cpuSeconds(serverPid) - cpuBefore;
      const peak = peakRssMb(workerPid);
      const troubles = (
        await inBatches(cutovers, 20, async (c) => taskTroubles((await c.handle.fetchHistory()).events ?? []))
      ).reduce((a, b) => a + b, 0);
      const completed = states.filter((st) => st === 'completed').length;
      if (troubles > 0) say(`gate: workflow task troubles: ${JSON.stringify(Object.fromEntries(troubleKinds))}`);
      const reaction = spread(reactions);
      rows.push([
        String(count),
        `${rssAtGate.toFixed(0)} MB (peak ${peakAtGate.toFixed(0)})`,
        `${peak.toFixed(0)} MB`,
        `${completed} of ${count}`,
        String(troubles),
        `${wallS.toFixed(1)} s (gate ${atGateS.toFixed(1)} s)`,
        `${serverCpu.toFixed(1)} s`,
        `${fmt(reaction)}, ${evicted} of ${reactions.length} evicted`,
      ]);
      results.push({
        cutovers: count,
        workerRssAtGateMb: rssAtGate,
        workerPeakAtGateMb: peakAtGate,
        workerPeakMb: peak,
        completed,
        workflowTaskTroubles: troubles,
        wallS,
        atGateS,
        serverCpuS: serverCpu,
        wokenReactionMs: reaction,
        wokenEvicted: evicted,
        samples: reactions,
      });
    } finally {
      await stack.stop();
    }
  }
  table(
    [
      'cutovers',
      'worker RSS, all at the gate',
      'worker peak',
      'completed',
      'task timeouts',
      'wall time',
      'server CPU',
      'woken sign-off reaction p50 / p95 / max',
    ],
    rows,
  );
  await save('gate', {
    runs: results,
    env: { CUTOVER_MAX_CACHED_WORKFLOWS: process.env.CUTOVER_MAX_CACHED_WORKFLOWS },
  });
}
