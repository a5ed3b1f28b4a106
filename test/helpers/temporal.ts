/**
 * Real Temporal servers for tests: the Java time-skipping test server and the CLI dev server, both built by
 * toolchain/tools.ts (never the SDK's download, which cannot work here).
 */
import { createTimeSkippingEnv, registerSearchAttributes } from '../../toolchain/time-skipping';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { ensureTemporalCli, temporalCliPath } from '../../toolchain/tools';
import { freePort } from '../../common/net';
import { startDevServer, type DevServer } from '../../toolchain/dev-server';
import { stopChild } from '../../toolchain/processes';
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';

export { ensureTemporalCli };

export { createTimeSkippingEnv, registerSearchAttributes };

/** A dev server on free ports (UI off unless asked), in memory unless `dbFile` is given. */
export async function startTestDevServer(options: { ui?: boolean; dbFile?: string } = {}): Promise<DevServer> {
  return startDevServer({
    port: await freePort(),
    uiPort: options.ui ? await freePort() : 0,
    ...(options.dbFile ? { dbFile: options.dbFile } : {}),
  });
}

/** What `useDevServer` gives a test file: read its fields inside tests (they are set in `beforeAll`). */
export interface DevServerFixture {
  readonly server: DevServer;
  readonly connection: Connection;
  readonly client: Client;
  /** Stops `child` at the file's end if it still runs (SIGTERM, then SIGKILL); returns it. */
  track<T extends ChildProcess>(child: T): T;
}

/** A dev server and a client for the whole test file; the processes it tracks are stopped, then both stop. */
export function useDevServer(): DevServerFixture {
  let server: DevServer | undefined;
  let connection: Connection | undefined;
  let client: Client | undefined;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    server = await startTestDevServer();
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });
  }, 120_000);
  afterAll(async () => {
    // SIGTERM first, which a `cutover worker` passes on (SIGKILL would orphan its worker, whose open pipes keep
    // jest from exiting after a failed test); SIGKILL after 10 s.
    await Promise.all(children.map((child) => stopChild(child, 10_000)));
    await connection?.close();
    await server?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useDevServer: read its fields inside tests, after beforeAll');
    return value;
  };
  return {
    get server() {
      return started(server);
    },
    get connection() {
      return started(connection);
    },
    get client() {
      return started(client);
    },
    track(child) {
      children.push(child);
      return child;
    },
  };
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The workflow bundle, built once per test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger });
  return bundle;
}

const noop = (): void => {};
/** Keeps webpack's progress out of test output. */
export const quietLogger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: (m: string) => console.error(m),
  log: noop,
};

/**
 * Sends a signal the way anyone with start permission can, through the raw `temporal workflow signal`: `input` is
 * the JSON text as typed (so a test can send what no client library would).
 */
export async function temporalSignal(address: string, workflowId: string, name: string, input: string): Promise<void> {
  await promisify(execFile)(
    temporalCliPath(),
    ['workflow', 'signal', '--address', address, '--workflow-id', workflowId, '--name', name, '--input', input],
    { timeout: 30_000 },
  );
}
