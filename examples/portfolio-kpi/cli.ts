#!/usr/bin/env node
/**
 * portfolio-kpi: the reference pipeline under cutover.
 *
 *   portfolio-kpi --engine v1|v2 --input FILE        → {"metrics": {...}, "rows": N}
 *   portfolio-kpi generate --rows N --seed S --out FILE
 *   portfolio-kpi deploy|undo|health|probe|decommission --target DIR
 *
 * Bad input exits 1 with one line naming the row and the column; usage errors exit 2.
 */
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type * as Deployments from './deployments';
import type { Engine } from './deployments';
import type * as Generate from './generate';
import type * as Outputs from './outputs';
import type { OutputFiles } from './outputs';
import { TapeError, type PortfolioMetrics } from './kpis';
import type * as SelfTest from './selftest';
import type * as V1 from './v1';
import { runV2 } from './v2';

// Loaded when a command needs them: `--engine v2` (what the stress phase and the bench time) loads V2 alone.
/* eslint-disable @typescript-eslint/no-require-imports */
const deployments = () => require('./deployments') as typeof Deployments;
const v1 = () => require('./v1') as typeof V1;
const generate = () => require('./generate') as typeof Generate;
const selftest = () => require('./selftest') as typeof SelfTest;
const outputs = () => require('./outputs') as typeof Outputs;
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * The demo faults of V2: `1` counts PAR90 from 60 days (the KPI comparison blocks the cutover); `segment` puts
 * one small segment's loans in the wrong delinquency bucket (the KPIs still agree; the keyed diff blocks it).
 */
export const FAULT_ENV = 'PORTFOLIO_KPI_FAULT';

/**
 * A factor such as `1.3` makes V2 take that many times V1's time on the same data: it does V1's work (V1's
 * engine and output tables, so its answers stay within the plan's tolerances) and then waits until `factor`
 * times that time since its process started. V2 is several times faster than V1, so a slowdown relative to V2
 * itself would still be faster than V1. The demo of a stress comparison that fails while shadow mode passes.
 */
export const SLOW_ENV = 'PORTFOLIO_KPI_SLOW';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}

export async function runEngine(
  engine: Engine,
  input: string,
  v2Options: { threads?: number; parallelMinBytes?: number } = {},
  out: OutputFiles = {},
): Promise<{ metrics: PortfolioMetrics; rows: number }> {
  if (engine === 'v1') return v1().runV1(input, out);
  const slow = Number(process.env[SLOW_ENV] ?? '');
  if (slow > 0) {
    const result = await v1().runV1(input, out);
    // performance.now() counts from the process's start: what a V1 process would have taken so far.
    const v1Ms = performance.now();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, (slow - 1) * v1Ms)));
    return result;
  }
  const result = await runV2(input, { fault: process.env[FAULT_ENV] === '1', ...v2Options });
  if (out.loans || out.segments)
    await outputs().writeV2Outputs(input, out, { fault: process.env[FAULT_ENV] === 'segment' });
  return result;
}

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

const program = new Command('portfolio-kpi')
  .description('Lending-portfolio KPIs (V1 legacy, V2 new) and the loan-tape generator')
  .addOption(new Option('--engine <engine>', 'which engine computes the KPIs').choices(['v1', 'v2']))
  .option('--input <file>', 'loan tape (CSV with a header)')
  .option('--loans-out <file>', 'also write the per-loan table (.csv, .jsonl, .parquet or postgres:schema.table)')
  .option('--segments-out <file>', 'also write the per-segment table (.csv, .jsonl, .parquet or postgres:schema.table)')
  .option('--threads <n>', 'V2 threads on large files (default 2)', positiveInt)
  .option(
    '--parallel-min-mb <n>',
    'V2 splits files of at least this many MiB across its threads (default 128)',
    positiveInt,
  )
  .showHelpAfterError()
  .addHelpText('after', '\nExample:\n  portfolio-kpi --engine v2 --input tape.csv')
  .action(
    async (options: {
      engine?: Engine;
      input?: string;
      threads?: number;
      parallelMinMb?: number;
      loansOut?: string;
      segmentsOut?: string;
    }) => {
      if (!options.engine || !options.input) program.error('error: --engine and --input are required', { exitCode: 2 });
      print(
        await runEngine(
          options.engine as Engine,
          options.input as string,
          {
            ...(options.threads !== undefined ? { threads: options.threads } : {}),
            ...(options.parallelMinMb !== undefined ? { parallelMinBytes: options.parallelMinMb * 2 ** 20 } : {}),
          },
          {
            ...(options.loansOut ? { loans: options.loansOut } : {}),
            ...(options.segmentsOut ? { segments: options.segmentsOut } : {}),
          },
        ),
      );
    },
  );

program
  .command('generate')
  .description('write a seeded loan tape')
  .requiredOption('--rows <n>', 'loans', positiveInt)
  .option('--seed <n>', 'seed', positiveInt, 1)
  .requiredOption('--out <file>', 'output CSV')
  .action(async (options: { rows: number; seed: number; out: string }) => {
    await generate().generateTape(options.rows, options.seed, options.out);
    print({ out: path.resolve(options.out), rows: options.rows, seed: options.seed });
  });

const key = (): string | undefined => process.env.CUTOVER_IDEMPOTENCY_KEY;

program
  .command('deploy')
  .description('switch an environment to a release (atomic symlink)')
  .requiredOption('--target <dir>', 'environment folder')
  .addOption(new Option('--version <engine>', 'release').choices(['v1', 'v2']).makeOptionMandatory())
  .addOption(
    new Option('--hold <ms>', 'wait this long between recording the start and switching (a slow deploy)')
      .argParser(positiveInt)
      .default(0),
  )
  .action(async (o: { target: string; version: Engine; hold: number }) =>
    print(await deployments().deploy(o.target, o.version, key(), o.hold)),
  );

program
  .command('undo')
  .description('switch an environment back to its previous release')
  .requiredOption('--target <dir>', 'environment folder')
  .action(async (o: { target: string }) => print(await deployments().undo(o.target, key())));

program
  .command('decommission')
  .description('remove a release that is no longer current')
  .requiredOption('--target <dir>', 'environment folder')
  .addOption(new Option('--version <engine>', 'release').choices(['v1', 'v2']).makeOptionMandatory())
  .action(async (o: { target: string; version: Engine }) =>
    print(await deployments().decommission(o.target, o.version, key())),
  );

program
  .command('health')
  .description('exit 0 when the environment serves a valid release')
  .requiredOption('--target <dir>', 'environment folder')
  .action(async (o: { target: string }) => {
    const { ensureEnvironment, readState } = deployments();
    await ensureEnvironment(o.target);
    const state = await readState(o.target);
    print({ ok: true, ...state });
  });

program
  .command('probe')
  .description("run the environment's current release on its tape: metrics and error rate")
  .requiredOption('--target <dir>', 'environment folder')
  .option('--input <file>', 'tape (default: the environment tape)')
  .action(async (o: { target: string; input?: string }) => {
    const { ensureEnvironment, readState } = deployments();
    await ensureEnvironment(o.target);
    const state = await readState(o.target);
    const result = await runEngine(state.current, o.input ?? path.join(o.target, 'tape.csv'));
    print({ engine: state.current, metrics: result.metrics, rows: result.rows, errorRate: 0 });
  });

program
  .command('notify')
  .description("tell the approvers something (the example's escalation): prints it as a JSON line")
  .requiredOption('--message <text>', 'what to tell them')
  .action((o: { message: string }) => print({ notified: o.message, release: process.env.CUTOVER_RELEASE ?? null }));

program
  .command('selftest')
  .description('check both engines against a small hand-computed tape (the staging test suite)')
  .action(async () => {
    const failures = await selftest().selfTest();
    if (failures.length > 0) {
      process.stderr.write(`selftest failed: ${failures.join('; ')}\n`);
      process.exit(1);
    }
    print({ ok: true });
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof TapeError) {
    process.stderr.write(`portfolio-kpi: ${err.message}\n`);
    process.exit(1);
  }
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') {
    process.stderr.write(`portfolio-kpi: no such file: ${e.path ?? e.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`portfolio-kpi: ${e.message}\n`);
  process.exit(1);
});
