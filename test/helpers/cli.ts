/** The built `cutover` CLI run as a user runs it: its exit code and both streams, whether it succeeded or not. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The built CLI (`npm test` builds before any tier runs). */
export const CLI = path.resolve(__dirname, '..', '..', 'dist', 'client', 'cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `cutover ...args` with `env`, within `timeout` ms. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, timeout: number): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env, timeout });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
