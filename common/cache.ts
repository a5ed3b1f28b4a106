/**
 * Where cutover keeps what it installs once per machine (the Temporal servers, dbt's virtual environment): shared
 * by toolchain/, which installs them, and the CLI, which runs dbt for a plan's actions.
 */
import { homedir } from 'node:os';
import path from 'node:path';

/** The cache folder. @default `$CUTOVER_CACHE` or `~/.cache/cutover` */
export function cacheDir(): string {
  return process.env.CUTOVER_CACHE ?? path.join(homedir(), '.cache', 'cutover');
}

/** dbt's version, as its virtual environment is named (toolchain/tools.ts DBT_PACKAGES pins it). */
export const DBT_CORE_VERSION = '1.11.16';

/** The python of dbt's virtual environment, which runs dbt: `CUTOVER_DBT_PYTHON`, or the one provisioning made. */
export function dbtPythonPath(): string {
  return process.env.CUTOVER_DBT_PYTHON ?? path.join(cacheDir(), `dbt-${DBT_CORE_VERSION}`, 'bin', 'python');
}
