/**
 * The time-skipping environment on the real Java test server (built by toolchain/tools.ts, never the SDK's
 * download), with the project's search attributes registered. Used by the workflow tests and the benches.
 *
 * The SDK gives the server it starts 5 s to accept connections, and a JVM on two busy cores can take longer
 * (`npm run bench history` once failed so). So cutover starts the JVM itself and waits as long as it takes,
 * then lets the SDK "start" a stand-in on that port (toolchain/tools.ts `attach`): the SDK's connection
 * check passes at once and, unlike `createFromExistingServer`, time skipping stays on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { freePort, waitForPort } from '../common/net';
import { SEARCH_ATTRIBUTE_NAMES } from '../workflows/messages';
import { ensureTestServer, ensureTestServerAttach } from './tools';

/** How long the JVM may take to listen. @default 120 s: minutes of load, not a hung server. */
const SERVER_START_TIMEOUT_MS = 120_000;

/** A time-skipping environment on the real Java test server; its `teardown()` stops the server too. */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const server = await startTestServer();
  let env: TestWorkflowEnvironment;
  try {
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: {
        executable: { type: 'existing-path', path: ensureTestServerAttach() },
        port: server.port,
        extraArgs: [String(server.process.pid)],
      },
    });
  } catch (err) {
    await server.stop();
    throw err;
  }
  const teardown = env.teardown.bind(env);
  env.teardown = async () => {
    try {
      await teardown();
    } finally {
      await server.stop();
    }
  };
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

interface TestServer {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the Java test server on a free loopback port and waits until it accepts connections. */
async function startTestServer(): Promise<TestServer> {
  const port = await freePort();
  const child = spawn(ensureTestServer(), [String(port)], { stdio: 'ignore' });
  let exited = child.exitCode !== null;
  const gone = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  // If this process ends without a teardown (a crashed test run), the server goes with it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  };
  try {
    await waitForPort(port, SERVER_START_TIMEOUT_MS, () => !exited);
  } catch (err) {
    await stop();
    throw new Error(`the time-skipping test server did not start: ${(err as Error).message}`);
  }
  return { port, process: child, stop };
}

/** Registers CutoverRelease, CutoverPhase and CutoverState (Keyword) on a server that lacks them. */
export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const searchAttributes = Object.fromEntries(
    SEARCH_ATTRIBUTE_NAMES.map((name) => [name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
  );
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  } catch (err) {
    // Already there is fine.
    if (!/already/i.test((err as Error).message)) throw err;
  }
}
