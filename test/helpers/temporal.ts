/**
 * Real Temporal servers for tests: the Java time-skipping test server and the CLI dev server, both built by
 * toolchain/tools.ts (never the SDK's download, which cannot work here).
 */
import { createTimeSkippingEnv, registerSearchAttributes } from '../../toolchain/time-skipping';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { ensureTemporalCli } from '../../toolchain/tools';
import { freePort } from '../../common/net';
import { startDevServer, type DevServer } from '../../toolchain/dev-server';

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
