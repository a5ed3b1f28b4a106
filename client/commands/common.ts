/**
 * What the CLI's commands share: who is running it, a client for one command, and printing text or JSON.
 */
import { userInfo } from 'node:os';
import type { Cutovers } from '../../lib/api';

const UI_URL = process.env.CUTOVER_UI_URL ?? 'http://127.0.0.1:8233';

/** The cutover's page in the Temporal UI (CUTOVER_UI_URL, the dev server's by default). */
export function uiLink(namespace: string, workflowId: string): string {
  return `${UI_URL}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** The user running the command, the default name of who starts, asks or pins. */
export function me(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** A client for one command, closed when it is done (the Temporal client is loaded only by commands that connect). */
export async function withClient<T>(fn: (c: Cutovers) => Promise<T>): Promise<T> {
  const { connect } = await import('../../lib/api.js');
  const c = await connect();
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

/** `--json` prints `value` as JSON, otherwise `text()`. */
export function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text() + '\n');
}

/** The client library, loaded by the commands that connect (a refused plan never loads the Temporal client). */
export const api = () => import('../../lib/api.js');
