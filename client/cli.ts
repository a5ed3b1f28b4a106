#!/usr/bin/env node
/**
 * cutover: the release manager's and approver's command line. Its commands are in commands/, one file per
 * command in a folder per group: plan files (plan/), a cutover's life (cutover/), references (reference/), the
 * auditor's record (record/: export, verify), and what runs here (services/: keygen, the codec server, the
 * approval app, the dev stack, a worker).
 *
 * Exit codes: 0 done; 1 refused or failed (a bad plan, a refused sign-off, an unknown cutover, a server
 * that does not answer); 2 usage.
 */
import { Command, CommanderError } from 'commander';
import { PlanError } from '../plan/load';
import { PHASES } from '../shapes/phases';
import { UserError } from '../lib/errors';
import { registerCommands } from './commands';

const program = new Command('cutover')
  .description(`Durable V1 → V2 cutovers on Temporal: ${PHASES.join(', ')}`)
  .showHelpAfterError()
  .exitOverride();
registerCommands(program);

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exit(err.exitCode === 0 ? 0 : 2);
    }
    if (err instanceof PlanError) {
      process.stderr.write(`cutover: ${err.message}\n`);
      process.exit(1);
    }
    if (err instanceof UserError) {
      process.stderr.write(`cutover: ${err.message}\n`);
      process.exit(1);
    }
    if (/binary\/encrypted/.test((err as Error).message)) {
      process.stderr.write(
        "cutover: this cutover's payloads are encrypted: set CUTOVER_CODEC_KEY (and CUTOVER_CODEC_KEY_ID) to read them\n",
      );
      process.exit(1);
    }
    process.stderr.write(`cutover: unexpected error (a bug): ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  }
}

void main();
