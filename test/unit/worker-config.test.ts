import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { ConfigError, loadConfig } from '../../worker/config';
import { WORKER_ENV, WORKER_NODE_OPTIONS } from '../../common/worker-process';
import { createLogger, sdkLogger } from '../../worker/logger';

describe('worker configuration', () => {
  test('defaults are complete and frozen', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      CUTOVER_TASK_QUEUE: 'cutover',
      CUTOVER_LOG_LEVEL: 'info',
      CUTOVER_METRICS_PORT: 0,
      CUTOVER_MAX_ACTIVITIES: 8,
      CUTOVER_DIFF_MEMORY: '1GB',
      CUTOVER_DIFF_THREADS: 2,
      CUTOVER_ACTION_NICE: 0,
      CUTOVER_STICKY_TIMEOUT: '10s',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  test.each([
    ['CUTOVER_LOG_LEVEL', 'loud', /^CUTOVER_LOG_LEVEL="loud": .*(trace|info).* \(pino log level\)$/],
    ['CUTOVER_METRICS_PORT', '99999', /^CUTOVER_METRICS_PORT="99999": .* \(Prometheus \/metrics port/],
    ['CUTOVER_MAX_ACTIVITIES', 'many', /^CUTOVER_MAX_ACTIVITIES="many": expected a whole number/],
    ['CUTOVER_SHUTDOWN_GRACE', '-1s', /^CUTOVER_SHUTDOWN_GRACE="-1s": expected a duration/],
    ['CUTOVER_STICKY_TIMEOUT', 'soon', /^CUTOVER_STICKY_TIMEOUT="soon": expected a duration .* \(How long a cached/],
    [
      'CUTOVER_DIFF_MEMORY',
      'lots',
      /^CUTOVER_DIFF_MEMORY="lots": expected a size such as 512MB or 2GB \(DuckDB's memory_limit/,
    ],
    ['CUTOVER_ACTION_NICE', '20', /^CUTOVER_ACTION_NICE="20": .* \(Nice steps below the worker/],
    ['CUTOVER_DIFF_THREADS', '0', /^CUTOVER_DIFF_THREADS="0": .* \(DuckDB threads for output diffs\)$/],
  ])('a bad %s names the variable and what it expected', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });
});

test('`npm run worker` starts the worker with the Node options and environment that npm start and the benches use', () => {
  const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const env = Object.entries(WORKER_ENV).map(([name, value]) => `${name}=\${${name}:-${value}}`);
  expect(pkg.scripts.worker).toBe(`${env.join(' ')} node ${WORKER_NODE_OPTIONS.join(' ')} dist/worker/main.js`);
});

describe('the organisation policy', () => {
  const example = path.resolve(__dirname, '..', '..', 'examples', 'portfolio-kpi', 'policy.yaml');

  test('without CUTOVER_POLICY there is none; with it, the policy is read at start with its digest', () => {
    expect(loadConfig({}).policy).toBeUndefined();
    const config = loadConfig({ CUTOVER_POLICY: example });
    expect(config.policy?.policyDir).toBe(path.dirname(example));
    expect(config.policy?.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(config.policy?.policy.pipelines[0]?.match).toBe('portfolio-kpi-*');
  });

  test('a missing or bad policy file stops the worker at start, naming the variable and the problem', () => {
    expect(() => loadConfig({ CUTOVER_POLICY: '/nowhere/policy.yaml' })).toThrow(
      'CUTOVER_POLICY="/nowhere/policy.yaml": (file): no such file',
    );
    const bad = path.join(mkdtempSync(path.join(tmpdir(), 'policy-')), 'policy.yaml');
    writeFileSync(bad, 'version: 1\npipelines: [{ match: "x", env: [NODE OPTIONS] }]\n');
    expect(() => loadConfig({ CUTOVER_POLICY: bad })).toThrow(/^CUTOVER_POLICY=".*": pipelines\[0\]\.env\[0\]: /);
  });
});

describe('logs', () => {
  test('SDK log calls reach pino as JSON lines with their metadata, secrets redacted', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) });
    const logger = sdkLogger(createLogger('info', sink));
    logger.info('step started', {
      workflowId: 'cutover-x',
      activityType: 'runStep',
      apiKey: 'secret',
      headers: { authorization: 'Bearer t' },
    });
    logger.debug('hidden');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(line).toMatchObject({
      msg: 'step started',
      workflowId: 'cutover-x',
      activityType: 'runStep',
      apiKey: '[redacted]',
      level: 30,
    });
    expect(JSON.stringify(line)).not.toContain('Bearer');
  });
});
