import { Writable } from 'node:stream';
import { ConfigError, loadConfig } from '../../worker/config';
import { createLogger, sdkLogger } from '../../worker/logger';

describe('worker configuration', () => {
  test('defaults are complete and frozen', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      CUTOVER_TASK_QUEUE: 'cutover',
      CUTOVER_LOG_LEVEL: 'info',
      CUTOVER_METRICS_PORT: 0,
      CUTOVER_MAX_ACTIVITIES: 8,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  test.each([
    ['CUTOVER_LOG_LEVEL', 'loud', /^CUTOVER_LOG_LEVEL="loud": .*(trace|info).* \(pino log level\)$/],
    ['CUTOVER_METRICS_PORT', '99999', /^CUTOVER_METRICS_PORT="99999": .* \(Prometheus \/metrics port/],
    ['CUTOVER_MAX_ACTIVITIES', 'many', /^CUTOVER_MAX_ACTIVITIES="many": expected a whole number/],
    ['CUTOVER_SHUTDOWN_GRACE', '-1s', /^CUTOVER_SHUTDOWN_GRACE="-1s": expected a duration/],
  ])('a bad %s names the variable and what it expected', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
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
