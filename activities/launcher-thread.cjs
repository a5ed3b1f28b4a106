// @ts-check
/**
 * The launcher thread: starts the actions' processes so that the worker's main thread never waits for one.
 *
 * `spawn` returns only once the child has exec'd (libuv waits on a pipe for it), and on a busy machine that
 * wait is the scheduler's: a few milliseconds each, dozens of times a second with many cutovers monitoring.
 * The main thread is the one that carries every workflow activation between Temporal's core and the workflow
 * thread, so each of those waits delayed whichever cutover was next, an approver's click included
 * (bench/README.md, "Lean under load"). Here the waits stall only this thread.
 *
 * Plain JavaScript (checked by tsc through the JSDoc types) because a worker thread loads its file itself: the
 * same file serves the built worker and the tests, which run the sources.
 *
 * Messages in: {@link Launch}. Messages out: {@link Started}, then {@link Ended} or {@link Failed}.
 */
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const { readFileSync, rmSync } = require('node:fs');
const { constants, tmpdir } = require('node:os');
const path = require('node:path');
const { parentPort } = require('node:worker_threads');
const { Tail } = require('./tail.cjs');

/**
 * GNU time: it waits for the child with wait4 and writes the kernel's account of the whole tree it waited for
 * (the largest resident set of any of its processes, their CPU time), which a sampler can miss for a process that
 * lives a few milliseconds. A C program of a few hundred kilobytes, so it costs the step about a millisecond.
 */
const TIME = '/usr/bin/time';
/** @type {boolean | undefined} */
let hasTime;
/** Whether `/usr/bin/time` is GNU time (asked once; it says so on stdout or stderr, depending on its version). */
function gnuTime() {
  if (hasTime === undefined) {
    const asked = spawnSync(TIME, ['--version'], { encoding: 'utf8' });
    hasTime = `${asked.stdout ?? ''}${asked.stderr ?? ''}`.includes('GNU');
  }
  return hasTime;
}

/**
 * @typedef {object} Launch
 * @property {number} id
 * @property {string} command
 * @property {string[]} args
 * @property {string} cwd
 * @property {Record<string, string>} env
 * @property {number} outputLimit bytes kept per stream (the tail)
 * @property {number | null} nice steps below the worker's priority the child starts at, or null to leave it there
 * @property {{ shared: SharedArrayBuffer, pidIndex: number, countIndex: number }} [sampler] the memory
 *   sampler's slot for the child (activities/memory.ts): its pid goes there the moment it exists
 * @property {boolean} [rusage] measure the child's tree from the kernel (GNU time, where the machine has it)
 *
 * @typedef {{ maxRssKb: number, cpuMs: number }} Usage the kernel's account of the tree: its largest resident
 *   set, and its CPU time (user + system)
 *
 * @typedef {{ type: 'started', id: number, pid: number }} Started
 * @typedef {{ type: 'ended', id: number, code: number | null, signal: string | null, durationMs: number,
 *   stdout: string, stderr: string, stdoutCut: number, stderrCut: number, usage?: Usage }} Ended
 * @typedef {{ type: 'failed', id: number, code: string | undefined, message: string }} Failed
 */

const port = parentPort;
if (!port) throw new Error('launcher-thread.cjs runs as a worker thread');

port.on('message', (/** @type {Launch} */ launch) => {
  const { id } = launch;
  const stdout = new Tail(launch.outputLimit);
  const stderr = new Tail(launch.outputLimit);
  const started = process.hrtime.bigint();
  // A lowered child starts lowered: coreutils' `nice` sets the value and then execs the program (same pid), so
  // not one instruction of it, nor of anything it forks at once, runs at the worker's priority. Lowering it
  // after spawn returned (setPriority on its pid) raced the child: a short step had forked and finished first.
  const lowered = launch.nice !== null;
  const [program, programArgs] = lowered
    ? ['nice', ['-n', String(launch.nice), '--', launch.command, ...launch.args]]
    : [launch.command, launch.args];
  // Measured: GNU time above it all (nice included: it execs the program in place), its account in a file.
  const usageFile = launch.rusage && gnuTime() ? path.join(tmpdir(), `cutover-rusage-${process.pid}-${id}`) : undefined;
  const [command, args] = usageFile
    ? [TIME, ['-o', usageFile, '-f', '%M %U %S', '--', program, ...programArgs]]
    : [program, programArgs];
  // detached: the child leads its own process group, so a kill reaches everything it started.
  const child = spawn(command, args, {
    cwd: launch.cwd,
    env: launch.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (/** @type {Buffer} */ chunk) => stdout.push(chunk));
  child.stderr.on('data', (/** @type {Buffer} */ chunk) => stderr.push(chunk));
  if (child.pid !== undefined) {
    if (launch.sampler) {
      const cells = new Int32Array(launch.sampler.shared);
      Atomics.store(cells, launch.sampler.pidIndex, child.pid);
      Atomics.add(cells, launch.sampler.countIndex, 1);
      Atomics.notify(cells, launch.sampler.countIndex);
    }
    port.postMessage(/** @type {Started} */ ({ type: 'started', id, pid: child.pid }));
  }
  child.on('error', (/** @type {NodeJS.ErrnoException} */ err) => {
    port.postMessage(/** @type {Failed} */ ({ type: 'failed', id, code: err.code, message: err.message }));
  });
  child.on('close', (exitCode, exitSignal) => {
    const account = usageFile ? accountOf(usageFile) : undefined;
    // Under time, the program's own ending is in time's account (time exits 128 + N for a signal N).
    const code = account?.signal ? null : exitCode;
    const signal = account?.signal ?? exitSignal;
    const notStarted =
      (lowered ? startFailure(code, stderr.text(), 'nice: ') : undefined) ??
      (usageFile ? startFailure(code, stderr.text(), `${TIME}: cannot run `) : undefined);
    if (notStarted) {
      port.postMessage(/** @type {Failed} */ ({ type: 'failed', id, ...notStarted }));
      return;
    }
    port.postMessage(
      /** @type {Ended} */ ({
        type: 'ended',
        id,
        code,
        signal,
        ...(account?.usage ? { usage: account.usage } : {}),
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        stdout: stdout.text(),
        stderr: stderr.text(),
        stdoutCut: stdout.cut,
        stderrCut: stderr.cut,
      }),
    );
  });
});

/**
 * A wrapper (nice, time) could not exec the program: exit 127 (not found) or 126 (not runnable) and its own message,
 * starting `prefix`. The runner then reports the same ENOENT or EACCES as an unwrapped spawn would.
 *
 * @param {number | null} code
 * @param {string} stderr
 * @param {string} prefix
 * @returns {{ code: string, message: string } | undefined}
 */
function startFailure(code, stderr, prefix) {
  if ((code !== 127 && code !== 126) || !stderr.startsWith(prefix)) return undefined;
  return { code: code === 127 ? 'ENOENT' : 'EACCES', message: stderr.trim() };
}

/**
 * GNU time's account (`%M %U %S` on its last line; a line before it when the program was killed), read and removed.
 *
 * @param {string} file
 * @returns {{ usage?: Usage, signal?: string }}
 */
function accountOf(file) {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  } finally {
    rmSync(file, { force: true });
  }
  const lines = text.trim().split('\n');
  const figures = /^(\d+) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/.exec(lines.at(-1) ?? '');
  const killed = /^Command terminated by signal (\d+)/.exec(lines[0] ?? '');
  const number = killed ? Number(killed[1]) : undefined;
  const signal =
    number === undefined ? undefined : Object.entries(constants.signals).find(([, n]) => n === number)?.[0];
  return {
    ...(figures
      ? { usage: { maxRssKb: Number(figures[1]), cpuMs: Math.round((Number(figures[2]) + Number(figures[3])) * 1000) } }
      : {}),
    ...(signal ? { signal } : {}),
  };
}
