/** `cutover worker`. */
import path from 'node:path';
import type { Command } from 'commander';
import { workerEnv, WORKER_NODE_OPTIONS } from '../../../common/worker-process';

export function register(program: Command): void {
  program
    .command('worker')
    .description(
      'run a cutover worker here (what `npm run worker` runs): TEMPORAL_* and CUTOVER_* from the environment',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  TEMPORAL_ADDRESS=temporal.internal:7233 CUTOVER_DATA_DIR=/var/lib/cutover cutover worker\n' +
        '  cutover worker --environment production   # only production work, on its queue',
    )
    .option(
      '--environment <names>',
      'what to serve: all (default), or a comma-separated list of orchestrator, staging, production, compute (CUTOVER_ENVIRONMENT)',
    )
    .action(async (options: { environment?: string }) => {
      // The worker is an entry point of its own, started with its Node options and environment
      // (common/worker-process.ts); signals are passed on, and its exit code is this command's.
      const { spawn } = await import('node:child_process');
      const script = path.join(__dirname, '..', '..', '..', 'worker', 'main.js');
      const args = options.environment !== undefined ? ['--environment', options.environment] : [];
      const child = spawn(process.execPath, [...WORKER_NODE_OPTIONS, script, ...args], {
        env: workerEnv(process.env),
        stdio: 'inherit',
      });
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
      const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
      process.exitCode = code;
    });
}
