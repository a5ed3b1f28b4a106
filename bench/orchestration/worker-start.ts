/**
 * `npm run bench worker-start`: worker process spawned → polling, with and without the prebuilt bundle.
 */
import path from 'node:path';
import { freePort } from '../../common/net';
import { startDevServer } from '../../toolchain/dev-server';
import { save, spread } from '../common';
import { WORK, fmt, startWorker, table } from './stack';

export async function benchWorkerStart(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const server = await startDevServer({ port: await freePort(), uiPort: 0 });
  try {
    const variants: [string, NodeJS.ProcessEnv][] = [
      ['prebuilt bundle', {}],
      ['bundled at start', { CUTOVER_WORKFLOW_BUNDLE: path.join(WORK, 'no-such-bundle.js') }],
    ];
    const samples: Record<string, number[]> = Object.fromEntries(variants.map(([name]) => [name, []]));
    for (let i = 0; i < runs; i++) {
      for (const [name, env] of variants) {
        const { child, readyMs } = await startWorker({
          TEMPORAL_ADDRESS: server.address,
          CUTOVER_TASK_QUEUE: 'bench-start',
          CUTOVER_DATA_DIR: path.join(WORK, 'data'),
          ...env,
        });
        samples[name]!.push(readyMs);
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
    }
    const spreads = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, spread(v)]));
    table(
      ['worker start (spawn → polling)', 'p50 / p95 / max'],
      Object.entries(spreads).map(([k, s]) => [k, fmt(s, 'ms', 0)]),
    );
    await save('worker-start', { runs, startMs: spreads });
  } finally {
    await server.stop();
  }
}
