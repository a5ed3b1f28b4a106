/**
 * Where Temporal is, read through @temporalio/envconfig: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_API_KEY, TEMPORAL_TLS_* files and TEMPORAL_PROFILE (a profile in the Temporal config file).
 * Shared by the worker and the CLI so both reach the same cluster the same way.
 */
import { loadClientConnectConfig } from '@temporalio/envconfig';

/** Used when neither the environment nor a profile names an address. */
export const DEFAULT_ADDRESS = '127.0.0.1:7233';

export interface TemporalTarget {
  address: string;
  namespace: string;
  /** Options for `Connection.connect` / `NativeConnection.connect`. */
  connectionOptions: ReturnType<typeof loadClientConnectConfig>['connectionOptions'];
}

export function temporalTarget(env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const vars = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  const config = loadClientConnectConfig({
    ...(env.TEMPORAL_PROFILE ? { profile: env.TEMPORAL_PROFILE } : {}),
    overrideEnvVars: vars,
  });
  const address = config.connectionOptions.address ?? DEFAULT_ADDRESS;
  return {
    address,
    namespace: config.namespace ?? 'default',
    connectionOptions: { ...config.connectionOptions, address },
  };
}
