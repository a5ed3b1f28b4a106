/**
 * `npm run bench what-if`: `cutover what-if --all` over completed cutovers.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { type CutoverPlan } from '../../plan/schema';
import { save, spread } from '../common';
import { ROOT, WORK, say, signOffAll, startCutovers, startStack, table, waitForState } from './stack';

/**
 * `npm run bench what-if`: 100 cutovers run to completion on the local dev server, then `cutover what-if --all`
 * with a tighter plan, as a process (connecting, listing, fetching every history and every monitor run's,
 * judging, printing). Goal: under 10 s.
 */
export async function benchWhatIf(): Promise<void> {
  const count = Number(process.env.BENCH_WHAT_IF_CUTOVERS ?? 100);
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const stack = await startStack();
  try {
    say(`starting ${count} cutovers…`);
    const cutovers = await startCutovers(stack, count);
    for (const c of cutovers) await waitForState(c.handle, ['awaiting-signoff']);
    say('signing off and waiting for completion…');
    await Promise.all(cutovers.map((c) => signOffAll(c.handle)));
    for (const c of cutovers) await waitForState(c.handle, ['completed']);
    // The same plan with the PAR30 tolerance at zero and a 1 ms rehearsal target: verdicts that change.
    const first = cutovers[0]?.plan as CutoverPlan;
    const tighter = {
      ...first,
      shadow: { ...first.shadow, tolerances: { PAR30: { relative: 0 } } },
      rollback: { ...first.rollback, target: '1ms' },
    };
    const planFile = path.join(WORK, 'tighter.json');
    writeFileSync(planFile, JSON.stringify(tighter));
    const walls: number[] = [];
    let output = '';
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      output = await new Promise<string>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [path.join(ROOT, 'dist', 'client', 'cli.js'), 'what-if', '--all', '--plan', planFile, '--json'],
          { env: { ...process.env, TEMPORAL_ADDRESS: stack.server.address }, stdio: ['ignore', 'pipe', 'inherit'] },
        );
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`what-if exited ${code}`))));
      });
      walls.push(performance.now() - started);
    }
    const results = JSON.parse(output) as { changes: unknown[] }[];
    const changed = results.filter((r) => r.changes.length > 0).length;
    const s = spread(walls);
    table(
      ['cutovers', 'runs', 'wall time p50', 'max', 'cutovers with changes'],
      [[results.length, runs, `${(s.p50 / 1000).toFixed(2)} s`, `${(s.max / 1000).toFixed(2)} s`, changed]],
    );
    await save('what-if', { cutovers: results.length, wallMs: s, changed });
  } finally {
    await stack.stop();
  }
}
