/**
 * Peak memory of a child process. On Linux it reads VmHWM from /proc (the kernel's own high-water mark, so
 * a sample taken late still sees an earlier peak, and the figure matches what `/usr/bin/time` reports);
 * elsewhere it falls back to sampling RSS with pidusage.
 */
import { readFile } from 'node:fs/promises';
import pidusage from 'pidusage';

export class PeakMemory {
  peakBytes = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly intervalMs = 10) {}

  /** Starts sampling `pid` until `stop()`. */
  watch(pid: number): void {
    const sample = async (): Promise<void> => {
      const bytes = await readHighWaterMark(pid);
      if (bytes !== undefined) this.peakBytes = Math.max(this.peakBytes, bytes);
    };
    void sample();
    this.timer = setInterval(() => void sample(), this.intervalMs);
  }

  stop(): number {
    if (this.timer) clearInterval(this.timer);
    return this.peakBytes;
  }
}

async function readHighWaterMark(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
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
