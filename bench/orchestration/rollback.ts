/**
 * `npm run bench rollback`: requestRollback signal → undo started; breaching probe printed → undo started.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { requestRollbackSignal } from '../../workflows/messages';
import { save, spread } from '../common';
import { WORK, fmt, markOf, ms, nowNs, say, signOffAll, startCutovers, startStack, table, waitForState } from './stack';

export async function benchRollback(): Promise<void> {
  const count = Number(process.env.BENCH_ROLLBACKS ?? 20);
  const stack = await startStack();
  try {
    say(`rollback: ${count} by signal and ${count} by a breaching probe…`);
    const manual = await startCutovers(stack, count, (i) => ({
      release: `m${i}`,
      monitor: { window: '10m', interval: '30s' },
    }));
    const breach = await startCutovers(stack, count, (i) => ({
      release: `b${i}`,
      breachSwitch: path.join(WORK, `b${i}.breach`),
      monitor: { window: '10m', interval: '1s' },
    }));
    const all = [...manual, ...breach];
    await Promise.all(all.map((c) => waitForState(c.handle, ['awaiting-signoff'])));
    for (const c of all) await signOffAll(c.handle);
    await Promise.all(all.map((c) => waitForState(c.handle, ['monitoring'])));

    const bySignal: number[] = [];
    for (const c of manual) {
      const sent = nowNs();
      await c.handle.signal(requestRollbackSignal, { requestedBy: 'di', reason: 'bench' });
      bySignal.push(ms((await markOf(c.undoMark)) - sent));
    }
    const byBreach: number[] = [];
    for (const [i, c] of breach.entries()) {
      const switchFile = path.join(WORK, `b${i}.breach`);
      writeFileSync(switchFile, '');
      const undo = await markOf(c.undoMark);
      byBreach.push(ms(undo - (await markOf(`${switchFile}.at`))));
    }
    const states = await Promise.all(all.map((c) => c.handle.result().then((r) => r.state)));
    const rolledBack = states.filter((s) => s === 'rolled-back').length;
    const signal = spread(bySignal);
    const probe = spread(byBreach);
    table(
      ['rollback reaction', 'p50 / p95 / max', 'goal', 'rolled back'],
      [
        ['requestRollback signal → undo started', fmt(signal), '< 1 s', `${rolledBack} of ${2 * count} in all`],
        ['breaching probe printed → undo started', fmt(probe), '< 1 s (+ one interval)', ''],
      ],
    );
    await save('rollback', { cutovers: 2 * count, rolledBack, bySignalMs: signal, byBreachMs: probe });
  } finally {
    await stack.stop();
  }
}
