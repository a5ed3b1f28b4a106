/**
 * The time-skipping environment on the real Java test server (built by scripts/toolchain.ts, never the SDK's
 * download), with the project's search attributes registered. Used by the workflow tests and the benches.
 */
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTE_NAMES } from '../workflows/messages';
import { ensureTestServer } from './toolchain';

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
