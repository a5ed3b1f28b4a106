/**
 * The worker's /metrics: the project's own counters and histograms (prom-client), fed by workflow sinks.
 * The Temporal SDK's own Prometheus metrics (its endpoint on CUTOVER_SDK_METRICS_PORT) follow in the same scrape.
 */
import http from 'node:http';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { InjectedSinks } from '@temporalio/worker';
import type { CutoverSinks } from '../workflows/sinks';

export interface CutoverMetrics {
  registry: Registry;
  sinks: InjectedSinks<CutoverSinks>;
}

export function createMetrics(): CutoverMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'cutover_worker_' });
  const phaseSeconds = new Histogram({
    name: 'cutover_phase_duration_seconds',
    help: 'How long each cutover phase took, by outcome',
    labelNames: ['phase', 'outcome'],
    buckets: [0.1, 1, 10, 60, 300, 1800, 3600, 86_400, 604_800],
    registers: [registry],
  });
  const signoffs = new Counter({
    name: 'cutover_signoffs_total',
    help: 'Sign-offs by role and result (counted or refused, with the rule)',
    labelNames: ['role', 'result', 'rule'],
    registers: [registry],
  });
  const rollbacks = new Counter({
    name: 'cutover_rollbacks_total',
    help: 'Rollbacks started, manual or automatic',
    labelNames: ['kind'],
    registers: [registry],
  });
  const breaches = new Counter({
    name: 'cutover_trigger_breaches_total',
    help: 'Production triggers that fired',
    labelNames: ['trigger'],
    registers: [registry],
  });
  const sinks: InjectedSinks<CutoverSinks> = {
    metrics: {
      phase: {
        fn: (_info, phase, outcome, seconds) => phaseSeconds.observe({ phase, outcome }, seconds),
        callDuringReplay: false,
      },
      signoff: {
        fn: (_info, role, counted, rule) =>
          signoffs.inc({ role: role.slice(0, 32), result: counted ? 'counted' : 'refused', rule: counted ? '' : rule }),
        callDuringReplay: false,
      },
      rollback: {
        fn: (_info, automatic) => rollbacks.inc({ kind: automatic ? 'automatic' : 'manual' }),
        callDuringReplay: false,
      },
      breach: { fn: (_info, trigger) => breaches.inc({ trigger }), callDuringReplay: false },
    },
    // The workflow's chained audit entries: the status keeps them, the worker nothing; only a replay collects them
    // (lib/record-replay.ts). Registered so that the SDK does not log each call as an unknown sink.
    record: { audit: { fn: () => undefined, callDuringReplay: false } },
  };
  return { registry, sinks };
}

/** Serves GET /metrics on 127.0.0.1:`port`: the project's metrics, then the SDK's from `sdkUrl()`. */
export async function serveMetrics(registry: Registry, port: number, sdkUrl?: () => string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.statusCode = 404;
      res.end('not found: try /metrics\n');
      return;
    }
    void (async () => {
      let text = await registry.metrics();
      const url = sdkUrl?.();
      if (url) {
        try {
          text += '\n' + (await (await fetch(url)).text());
        } catch {
          text += '\n# the Temporal SDK metrics endpoint did not answer\n';
        }
      }
      res.setHeader('content-type', registry.contentType);
      res.end(text);
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}
