/**
 * One pino instance for the process, JSON lines, secrets redacted; the Temporal SDK's logs go through it.
 */
import pino from 'pino';
import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';

export function createLogger(level: string, destination?: pino.DestinationStream): pino.Logger {
  return pino(
    {
      level,
      base: { service: 'cutover-worker' },
      redact: {
        paths: [
          'apiKey',
          '*.apiKey',
          'headers.authorization',
          '*.headers.authorization',
          'env.*',
          '*.env.*',
          'signature',
          '*.signature',
          'key',
          '*.key',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

const LEVELS: Record<LogLevel, pino.Level> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** The SDK calls `(message, meta)`; pino wants `(meta, message)`. */
export function sdkLogger(logger: pino.Logger): SdkLogger {
  const at = (level: LogLevel) => (message: string, meta?: LogMetadata) =>
    logger[LEVELS[level]]({ ...(meta ?? {}) }, message);
  return {
    log: (level: LogLevel, message: string, meta?: LogMetadata) => at(level)(message, meta),
    trace: at('TRACE'),
    debug: at('DEBUG'),
    info: at('INFO'),
    warn: at('WARN'),
    error: at('ERROR'),
  };
}
