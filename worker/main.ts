#!/usr/bin/env node
/**
 * `npm run worker`: the cutover worker process. Config from the environment (worker/config.ts and
 * TEMPORAL_* through @temporalio/envconfig); `--environment NAME[,NAME]` sets CUTOVER_ENVIRONMENT. SIGINT or
 * SIGTERM: stop polling, let running activities finish within CUTOVER_SHUTDOWN_GRACE, exit 0.
 */
import { parseArgs } from 'node:util';
import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { temporalTarget } from '../common/temporal-env';
import { CodecError, codecFromEnv } from '../codec/aes-gcm';
import { freePort } from '../common/net';
import { ConfigError, loadConfig, type WorkerConfig } from './config';
import type { Logger } from 'pino';
import { createLogger, sdkLogger } from './logger';
import { createWorker } from './worker';
import { stopLauncher } from '../activities/launcher';
import { createMetrics, serveMetrics } from './prometheus';

async function main(): Promise<void> {
  const startedAt = performance.now();
  let config;
  let codec;
  try {
    config = loadConfig(withArguments(process.argv.slice(2)));
    codec = codecFromEnv();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof CodecError) {
      process.stderr.write(`cutover worker: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config.CUTOVER_LOG_LEVEL);
  const { metrics, metricsServer } = await startMetrics(config, logger);
  const target = temporalTarget();
  let created;
  try {
    created = await createWorker(config, metrics.sinks, undefined, codec);
  } catch (err) {
    const message = (err as Error).message;
    process.stderr.write(
      `cutover worker: cannot reach Temporal at ${target.address} (namespace ${target.namespace}): ${message.split('\n')[0]}\n`,
    );
    process.exit(1);
  }
  const { served, connection } = created;
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down: no new tasks; running activities get the grace period');
      for (const { worker } of served) worker.shutdown();
    });
  }
  logPolling(logger, { served, codec, config, target, startedAt });
  // One worker failing stops the others: a process that serves half of what it says would mislead.
  const runs = served.map(({ worker }) =>
    worker.run().catch((err: unknown) => {
      for (const other of served) if (other.worker.getState() === 'RUNNING') other.worker.shutdown();
      throw err;
    }),
  );
  const outcomes = await Promise.allSettled(runs);
  metricsServer?.close();
  await connection.close();
  // The actions' launcher thread (activities/launcher.ts): every action has ended with its activity.
  await stopLauncher();
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) throw failed.reason;
  logger.info('worker stopped');
}

/**
 * The project's metrics (on CUTOVER_METRICS_PORT) and the SDK's Prometheus endpoint: on CUTOVER_SDK_METRICS_PORT if
 * given, else on a free loopback port whose text /metrics appends after the project's metrics, so one scrape gets
 * both. Installs the SDK's runtime with them.
 */
async function startMetrics(config: WorkerConfig, logger: Logger) {
  const metrics = createMetrics();
  const metricsPort = config.CUTOVER_METRICS_PORT;
  const sdkMetricsPort = config.CUTOVER_SDK_METRICS_PORT || (metricsPort > 0 ? await freePort() : 0);
  let metricsServer: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  if (metricsPort > 0) {
    try {
      metricsServer = await serveMetrics(
        metrics.registry,
        metricsPort,
        () => `http://127.0.0.1:${sdkMetricsPort}/metrics`,
      );
    } catch (err) {
      process.stderr.write(
        `cutover worker: CUTOVER_METRICS_PORT=${metricsPort}: cannot listen (${(err as Error).message})\n`,
      );
      process.exit(1);
    }
  }
  Runtime.install({
    logger: sdkLogger(logger),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(sdkMetricsPort > 0 ? { metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkMetricsPort}` } } } : {}),
    },
  });
  return { metrics, metricsServer };
}

/** What the worker serves and how: its queues, its payloads, its data folder and policy, its start time. */
function logPolling(
  logger: Logger,
  at: {
    served: Awaited<ReturnType<typeof createWorker>>['served'];
    codec: ReturnType<typeof codecFromEnv>;
    config: WorkerConfig;
    target: ReturnType<typeof temporalTarget>;
    startedAt: number;
  },
): void {
  const { served, codec, config, target, startedAt } = at;
  logger.info(
    {
      address: target.address,
      namespace: target.namespace,
      queues: Object.fromEntries(
        served.map((s) => [s.taskQueue, `${s.role}: ${s.workflows ? 'workflows, ' : ''}${s.activities.join(', ')}`]),
      ),
      payloads: codec ? `encrypted (key id ${codec.activeKeyId})` : 'plain',
      dataDir: config.dataDir,
      policy: config.policy
        ? `${config.CUTOVER_POLICY} (digest ${config.policy.digest.slice(0, 12)})`
        : 'none: each plan is its own judge (set CUTOVER_POLICY to bind plans to the organisation policy)',
      startMs: Math.round(performance.now() - startedAt),
    },
    'worker polling',
  );
}

/** The environment with `--environment NAME[,NAME]` from the command line as CUTOVER_ENVIRONMENT. */
function withArguments(args: string[]): NodeJS.ProcessEnv {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { environment: { type: 'string', short: 'e' } }, strict: true });
  } catch (err) {
    throw new ConfigError(`${(err as Error).message} (usage: npm run worker -- [--environment NAME[,NAME]])`);
  }
  const environment = parsed.values.environment;
  return environment === undefined ? process.env : { ...process.env, CUTOVER_ENVIRONMENT: environment };
}

main().catch((err: unknown) => {
  process.stderr.write(`cutover worker: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
