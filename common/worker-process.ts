/**
 * How the worker process is started, wherever it is: `npm run worker` (package.json says the same, and a test
 * holds them equal), `cutover worker` from an installed package, `npm start` and the benches.
 */

/**
 * Node's options for the worker process (bench/README.md, gate; each measured alone on 100 cutovers at the gate).
 * - `--max-semi-space-size=2`: each semi-space of V8's young generation may grow to 16 MB by default, in the
 *   worker's main thread and in its workflow thread alike; at 2 MB the worker took about 60 MB less, and a young
 *   object that lives longer is promoted sooner, which the workflows' state does anyway.
 * - `--optimize-for-size` ("enables optimizations which favor memory size over execution speed", V8's help):
 *   the heaps grown while 100 cutovers race to the gate were most of the worker's peak; with it, about 40 MB
 *   less, at the same busy sign-off reaction and woken reaction.
 */
export const WORKER_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=2', '--optimize-for-size'];

/**
 * The environment the worker process starts with, where the process cannot set it itself: glibc gives each
 * thread that allocates an arena of its own, up to eight per core (Temporal's core threads, the workflow thread,
 * the launcher thread); two arenas held 100 cutovers at the gate in about 24 MB less, at the same busy sign-off
 * reaction (bench/README.md, gate). A value already in the environment wins.
 */
export const WORKER_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** The worker's environment: WORKER_ENV beneath `env` (a value already set wins). */
export function workerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...WORKER_ENV, ...env };
}
