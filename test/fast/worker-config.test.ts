import { ed25519 } from '@noble/curves/ed25519';
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

/** A file holding a fresh workers' private key (hex), as CUTOVER_WORKER_KEY_FILE names it. */
function keyFile(): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'key-')), 'workers.key');
  writeFileSync(file, Buffer.from(ed25519.utils.randomPrivateKey()).toString('hex'), { mode: 0o600 });
  return file;
}

describe('the organisation policy', () => {
  const example = path.resolve(__dirname, '..', '..', 'examples', 'portfolio-kpi', 'policy.yaml');

  test('without CUTOVER_POLICY there is none; with it, the policy is read at start with its digest', () => {
    expect(loadConfig({}).policy).toBeUndefined();
    const config = loadConfig({ CUTOVER_POLICY: example, CUTOVER_WORKER_KEY_FILE: keyFile() });
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

describe("the workers' seal keys", () => {
  const example = path.resolve(__dirname, '..', '..', 'examples', 'portfolio-kpi', 'policy.yaml');

  test('a worker that holds a policy and runs the workflows must have the signing key, named in the error', () => {
    expect(() => loadConfig({ CUTOVER_POLICY: example })).toThrow(
      /^CUTOVER_WORKER_KEY_FILE: required with CUTOVER_POLICY on a worker that runs the workflows/,
    );
    // An environment's worker only checks seals: the public keys are enough, and one of the two is required.
    expect(() => loadConfig({ CUTOVER_POLICY: example, CUTOVER_ENVIRONMENT: 'production' })).toThrow(
      /^CUTOVER_WORKER_KEY_FILE or CUTOVER_WORKER_KEYS: required with CUTOVER_POLICY/,
    );
    const publicKey = Buffer.from(ed25519.getPublicKey(ed25519.utils.randomPrivateKey())).toString('hex');
    const production = loadConfig({
      CUTOVER_POLICY: example,
      CUTOVER_ENVIRONMENT: 'production',
      CUTOVER_WORKER_KEYS: `workers-2026=${publicKey}`,
    });
    expect(production.seals?.signer).toBeUndefined();
    expect(Buffer.from(production.seals?.trusted['workers-2026'] ?? []).toString('hex')).toBe(publicKey);
  });

  test('the signing key is trusted under its key id, beside the previous keys of a rotation', () => {
    const previous = Buffer.from(ed25519.getPublicKey(ed25519.utils.randomPrivateKey())).toString('hex');
    const config = loadConfig({
      CUTOVER_POLICY: example,
      CUTOVER_WORKER_KEY_FILE: keyFile(),
      CUTOVER_WORKER_KEY_ID: 'workers-2027',
      CUTOVER_WORKER_KEYS: `workers-2026=${previous}`,
    });
    expect(config.seals?.signer?.keyId).toBe('workers-2027');
    expect(Object.keys(config.seals?.trusted ?? {}).sort()).toEqual(['workers-2026', 'workers-2027']);
  });

  test('an unreadable or malformed key file, or a bad pair, stops the worker naming the variable', () => {
    expect(() => loadConfig({ CUTOVER_WORKER_KEY_FILE: '/nowhere/key' })).toThrow(
      'CUTOVER_WORKER_KEY_FILE="/nowhere/key": cannot read the file',
    );
    const bad = path.join(mkdtempSync(path.join(tmpdir(), 'key-')), 'key');
    writeFileSync(bad, 'not a key\n');
    expect(() => loadConfig({ CUTOVER_WORKER_KEY_FILE: bad })).toThrow(/expected an ed25519 private key/);
    expect(() => loadConfig({ CUTOVER_WORKER_KEYS: 'workers=zz' })).toThrow(
      /^CUTOVER_WORKER_KEYS: "workers=zz": expected KEYID=PUBLICKEY/,
    );
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
