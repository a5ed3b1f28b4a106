/**
 * Peak memory of a child process and of everything it starts. On Linux it reads VmHWM from /proc (the kernel's
 * own high-water mark, so a sample taken late still sees an earlier peak, and the figure matches what
 * `/usr/bin/time` reports) for every process of the child's process group, and the peak is the largest sum of
 * the live members' marks seen at one reading: a V2 that does its work in a child (a wrapper, a shell, a JVM
 * launcher) is measured with that child, and sequential children do not add up. Elsewhere it falls back to
 * sampling the leader's RSS with pidusage.
 *
 * And from the kernel: where the machine has GNU time (/usr/bin/time), the launcher runs a measured step under it,
 * and time's wait4 gives the largest resident set of any process of the tree it waited for, and the tree's CPU time
 * (activities/launcher-thread.cjs). No sampling can miss that figure, however short a process lived (a 30 ms child's
 * 300 MB on a starved machine); the sum of concurrent members is the sampler's alone, and the peak is the larger of
 * the two. Not a cgroup's `memory.peak`: cgroup v2 is not what every worker has (these machines run cgroup v1, where
 * a worker may not create groups). What the sampler can miss, and the evidence says so (`MEMORY_METHOD`): a member
 * that lives less than one discovery interval (50 ms), and a process that leaves the group (setsid), which the
 * runner's group kill does not reach either.
 *
 * On Linux the sampling runs in a thread of its own: the last reading before a short process exits must not
 * wait for the worker's event loop, which may be busy (a missed reading made a 70 ms run look 15 % lighter
 * than its siblings, and the sustained stress run fail its memory-stability threshold).
 */
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import pidusage from 'pidusage';

/** The kernel's account of a process tree: its largest resident set (kB) and its CPU time, user and system. */
export interface KernelUsage {
  maxRssKb: number;
  cpuMs: number;
}

/** Processes watched at once by the sampler thread; more fall back to event-loop sampling. */
const SLOTS = 64;
/** Time between two readings of every watched process, in the sampler thread. */
const THREAD_INTERVAL_MS = 2;
/**
 * Time between two looks for new members of a watched process group. A look is a scan of /proc (about 2 ms
 * with 70 processes on the machine), so it is kept to a few per cent of one core while a stress phase runs.
 */
const DISCOVERY_INTERVAL_MS = 50;

/** How the stress evidence's memory figures were measured (`StressResult.memoryMethod`). */
export const MEMORY_METHOD =
  process.platform === 'linux'
    ? `the larger of the kernel's account of the process tree (wait4's ru_maxrss through GNU time, where the machine has it; CPU time too) and the process group's largest sum of its live members' VmHWM, read every ${THREAD_INTERVAL_MS} ms, new members found every ${DISCOVERY_INTERVAL_MS} ms`
    : 'the leader process alone: RSS sampled with pidusage';

// Shared layout (Int32Array): [0] watched count (the thread sleeps on it when 0), [1] a cell to sleep on,
// then per slot: pid (0: free, RESERVED: claimed for a process not started yet) and the peak in kB.
const COUNT = 0;
const SLEEP = 1;
const pidAt = (slot: number) => 2 + 2 * slot;
const peakAt = (slot: number) => 3 + 2 * slot;
const VM_HWM = /VmHWM:\s+(\d+) kB/;
const RESERVED = -1;

/**
 * A slot of the sampler thread claimed for a process about to start: whoever starts it stores its pid at
 * `pidIndex` of `shared`, then adds one to the count at `countIndex` and notifies it (the launcher thread
 * does, the moment the process exists: activities/launcher-thread.cjs).
 */
export interface SamplerSlot {
  shared: SharedArrayBuffer;
  pidIndex: number;
  countIndex: number;
}

// The thread's code shares the layout and the pattern above (embedded from their source).

const SAMPLER = `
const { workerData } = require('node:worker_threads');
const { readFileSync, readdirSync } = require('node:fs');
const s = new Int32Array(workerData.shared);
const pidAt = ${pidAt.toString()};
const peakAt = ${peakAt.toString()};
const VM_HWM = ${VM_HWM.toString()};
// Per slot: the leader it was filled for, and the members of its group seen so far (the leader included).
const groups = new Map();
let lastScan = 0;
function hwm(pid) {
  try {
    const m = VM_HWM.exec(readFileSync('/proc/' + pid + '/status', 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
// Field 5 of /proc/<pid>/stat is the process group; the name before it may hold spaces, so read after ')'.
// Each look rebuilds the members from what is in the group now, so a pid that left it (or was reused by another
// process after its member exited) is not counted past the next look.
function discover() {
  const leaders = new Map();
  for (const [slot, g] of groups) {
    g.members = new Set([g.leader]);
    leaders.set(g.leader, g);
  }
  let entries;
  try {
    entries = readdirSync('/proc');
  } catch {
    return;
  }
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      const stat = readFileSync('/proc/' + name + '/stat', 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const g = leaders.get(Number(fields[2]));
      if (g) g.members.add(Number(name));
    } catch {}
  }
}
for (;;) {
  if (Atomics.load(s, ${COUNT}) === 0) {
    groups.clear();
    Atomics.wait(s, ${COUNT}, 0);
    continue;
  }
  for (let slot = 0; slot < ${SLOTS}; slot++) {
    const pid = Atomics.load(s, pidAt(slot));
    if (pid <= 0) {
      groups.delete(slot);
      continue;
    }
    let g = groups.get(slot);
    if (!g || g.leader !== pid) {
      g = { leader: pid, members: new Set([pid]) };
      groups.set(slot, g);
    }
  }
  const now = Date.now();
  if (now - lastScan >= ${DISCOVERY_INTERVAL_MS}) {
    lastScan = now;
    discover();
  }
  for (const [slot, g] of groups) {
    let kb = 0;
    for (const member of g.members) {
      const own = hwm(member);
      if (own === 0 && member !== g.leader) g.members.delete(member);
      kb += own;
    }
    if (kb > 0 && Atomics.load(s, pidAt(slot)) === g.leader) {
      let current = Atomics.load(s, peakAt(slot));
      while (kb > current) {
        const seen = Atomics.compareExchange(s, peakAt(slot), current, kb);
        if (seen === current) break;
        current = seen;
      }
    }
  }
  Atomics.wait(s, ${SLEEP}, 0, ${THREAD_INTERVAL_MS});
}
`;

let sampler: { buffer: SharedArrayBuffer; shared: Int32Array; next: number } | null | undefined;

/** The sampler thread, started on first use (unref'd: it never keeps the process alive); null off Linux. */
function samplerThread(): { buffer: SharedArrayBuffer; shared: Int32Array; next: number } | null {
  if (sampler !== undefined) return sampler;
  if (process.platform !== 'linux') return (sampler = null);
  try {
    const buffer = new SharedArrayBuffer(4 * (2 + 2 * SLOTS));
    const worker = new Worker(SAMPLER, { eval: true, workerData: { shared: buffer } });
    worker.unref();
    worker.on('error', () => (sampler = null));
    sampler = { buffer, shared: new Int32Array(buffer), next: 0 };
  } catch {
    sampler = null;
  }
  return sampler;
}

export class PeakMemory {
  peakBytes = 0;
  /** The tree's CPU time, user and system, from the kernel's account (where the machine has GNU time). */
  cpuMs?: number;
  private kernelBytes = 0;
  private timer?: NodeJS.Timeout;
  private slot?: number;

  constructor(private readonly intervalMs = 10) {}

  /**
   * The kernel's account of the ended process tree (wait4's, through GNU time: activities/launcher-thread.cjs): its
   * largest resident set, which no sampling can miss however short the process lived, and its CPU time. The peak is
   * the larger of it and the sampled sum of the group's live members (which the kernel's largest single process
   * does not see when several run at once).
   */
  account(usage: KernelUsage | undefined): void {
    if (!usage) return;
    this.kernelBytes = Math.max(this.kernelBytes, usage.maxRssKb * 1024);
    this.cpuMs = usage.cpuMs;
  }

  /**
   * Claims a slot of the sampler thread for a process about to start, so that its first reading does not wait
   * for this (possibly busy) thread to hear that it started. Undefined off Linux or with every slot taken:
   * then `watch` the pid once it is known.
   */
  reserve(): SamplerSlot | undefined {
    const thread = samplerThread();
    if (!thread) return undefined;
    const slot = this.claim(thread, RESERVED);
    return slot === undefined ? undefined : { shared: thread.buffer, pidIndex: pidAt(slot), countIndex: COUNT };
  }

  /** Starts watching `pid` until `stop()`. */
  watch(pid: number): void {
    const thread = samplerThread();
    if (thread && this.claim(thread, pid) !== undefined) {
      Atomics.add(thread.shared, COUNT, 1);
      Atomics.notify(thread.shared, COUNT);
      return;
    }
    const sample = async (): Promise<void> => {
      const bytes = await readHighWaterMark(pid);
      if (bytes !== undefined) this.peakBytes = Math.max(this.peakBytes, bytes);
    };
    void sample();
    this.timer = setInterval(() => void sample(), this.intervalMs);
  }

  /** Stops watching; the peak in bytes (0 if no reading was taken). */
  stop(): number {
    if (this.timer) clearInterval(this.timer);
    const thread = sampler;
    if (this.slot !== undefined && thread) {
      const kb = Atomics.load(thread.shared, peakAt(this.slot));
      // A reserved slot whose process never started was never counted.
      const pid = Atomics.exchange(thread.shared, pidAt(this.slot), 0);
      if (pid > 0) Atomics.sub(thread.shared, COUNT, 1);
      this.slot = undefined;
      this.peakBytes = Math.max(this.peakBytes, kb * 1024);
    }
    this.peakBytes = Math.max(this.peakBytes, this.kernelBytes);
    return this.peakBytes;
  }

  /** Takes a free slot for `pid` (or RESERVED). Only this thread claims and frees slots. */
  private claim(thread: { shared: Int32Array; next: number }, pid: number): number | undefined {
    // Round robin, so that a slot just freed is not reused while a reading of it may be in flight.
    for (let i = 0; i < SLOTS; i++) {
      const slot = (thread.next + i) % SLOTS;
      if (Atomics.load(thread.shared, pidAt(slot)) === 0) {
        Atomics.store(thread.shared, peakAt(slot), 0);
        Atomics.store(thread.shared, pidAt(slot), pid);
        thread.next = (slot + 1) % SLOTS;
        this.slot = slot;
        return slot;
      }
    }
    return undefined;
  }
}

async function readHighWaterMark(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = VM_HWM.exec(status);
    if (match) return Number(match[1]) * 1024;
  } catch {
    // Not Linux, or the process has just exited.
  }
  try {
    return (await pidusage(pid)).memory;
  } catch {
    return undefined;
  }
}
