/**
 * `npm run bench concurrent`: BENCH_CONCURRENT (100) cutovers at once on one worker.
 */
import { save } from '../common';
import { say, signOffAll, startCutovers, startStack, table, waitForState } from './stack';
import { cpuSeconds, peakRssMb } from './measures';

export async function benchConcurrent(): Promise<void> {
  const count = Number(process.env.BENCH_CONCURRENT ?? 100);
  const stack = await startStack();
  try {
    say(`concurrent: ${count} cutovers at once on one worker…`);
    const serverPid = stack.server.process.pid!;
    const cpuBefore = cpuSeconds(serverPid);
    const t0 = performance.now();
    const cutovers = await startCutovers(stack, count, (i) => ({
      release: `c${i}`,
      monitor: { window: '10s', interval: '2s' },
    }));
    // Sign each off as soon as it reaches the gate, as five approvers would.
    const results = await Promise.all(
      cutovers.map(async (c) => {
        await waitForState(c.handle, ['awaiting-signoff'], 900_000);
        await signOffAll(c.handle);
        return (await c.handle.result()).state;
      }),
    );
    const wallS = (performance.now() - t0) / 1000;
    const serverCpu = cpuSeconds(serverPid) - cpuBefore;
    const workerRss = peakRssMb(stack.worker.pid!);
    const completed = results.filter((s) => s === 'completed').length;
    table(
      ['many at once', 'value', 'goal'],
      [
        ['cutovers completed', `${completed} of ${count} (${results.length - completed} not)`, 'all'],
        ['wall time, start to last completed', `${wallS.toFixed(1)} s`, ''],
        ['worker peak RSS (VmHWM)', `${workerRss.toFixed(0)} MB`, '< 500 MB'],
        ['dev server CPU', `${serverCpu.toFixed(1)} s (${((100 * serverCpu) / wallS).toFixed(0)} % of one core)`, ''],
      ],
    );
    await save('concurrent', { cutovers: count, completed, wallS, workerPeakRssMb: workerRss, serverCpuS: serverCpu });
  } finally {
    await stack.stop();
  }
}
