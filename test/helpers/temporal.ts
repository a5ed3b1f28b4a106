/**
 * Real Temporal servers for tests: the Java time-skipping test server and the CLI dev server, both built by
 * scripts/toolchain.ts (never the SDK's download, which cannot work here).
 */
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTE_NAMES } from '../../workflows/messages';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { ensureTemporalCli, ensureTestServer } from '../../scripts/toolchain';
import { freePort, startDevServer, type DevServer } from '../../scripts/dev-server';

export { ensureTemporalCli };

/** A time-skipping environment on the real Java test server. */
export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const path = ensureTestServer();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path } },
  });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
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

/** A dev server on free ports (UI off unless asked), in memory unless `dbFile` is given. */
export async function startTestDevServer(options: { ui?: boolean; dbFile?: string } = {}): Promise<DevServer> {
  return startDevServer({
    port: await freePort(),
    uiPort: options.ui ? await freePort() : 0,
    ...(options.dbFile ? { dbFile: options.dbFile } : {}),
  });
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
