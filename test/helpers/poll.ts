/**
 * Waiting in tests for something another process or server does: one loop for every test (the status query, the
 * CLI's `status`, the API, a page's state), so that they all time out the same way and say what they last saw.
 */

export interface PollOptions<T> {
  /** What is awaited, for the timeout's message: "the cutover at the gate". */
  what: string;
  /** How long to wait in all: 60 s unless given. */
  timeoutMs?: number;
  /** How long between reads: 200 ms unless given. */
  everyMs?: number;
  /**
   * Whether a read that throws means "not yet" (a workflow not started, a server restarting). Otherwise the
   * error fails the wait at once: a broken `cutover status` is never taken for a slow one.
   */
  retryErrors?: boolean;
  /** Where waiting longer cannot help (the cutover already ended): the reason, and the wait fails with it. */
  hopeless?: (value: T) => string | undefined;
  /** How the last value reads in the timeout's message. */
  show?: (value: T) => string;
}

/** Reads `read` until `done` holds and returns that value; fails after `timeoutMs` naming what it last read. */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  options: PollOptions<T>,
): Promise<T> {
  const { what, timeoutMs = 60_000, everyMs = 200, retryErrors = false, hopeless, show } = options;
  const deadline = Date.now() + timeoutMs;
  let last: { value: T } | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = { value: await read() };
    } catch (err) {
      if (!retryErrors) throw err;
      lastError = err;
    }
    if (last && done(last.value)) return last.value;
    const reason = last && hopeless?.(last.value);
    if (reason) throw new Error(`${reason} before ${what}`);
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  const seen = last
    ? `last seen ${show ? show(last.value) : JSON.stringify(last.value)}`
    : `nothing read (${lastError instanceof Error ? lastError.message : String(lastError)})`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${seen}`);
}

/** `pollUntil` for reads that answer `undefined` until there is something: returns the first defined value. */
export async function pollFor<T>(read: () => Promise<T | undefined>, options: PollOptions<T | undefined>): Promise<T> {
  return (await pollUntil(read, (value) => value !== undefined, options)) as T;
}
