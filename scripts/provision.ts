/**
 * `npm run provision`: makes sure both real Temporal servers are installed in the cache, dbt in a virtual
 * environment of the cache, that Debian's chromium is installed for the UI test and PostgreSQL's server programs
 * for the database diffs (idempotent; a warm run takes
 * well under a second).
 */
import {
  ensureChromium,
  ensureDbt,
  ensurePostgres,
  ensureTemporalCli,
  ensureTestServer,
  MissingToolError,
} from '../toolchain/tools';

function main(): void {
  const started = Date.now();
  const log = (line: string): void => console.error(`provision: ${line}`);
  try {
    const cli = ensureTemporalCli(log);
    const testServer = ensureTestServer(log);
    const browser = ensureChromium(log);
    const postgres = ensurePostgres(log);
    const dbt = ensureDbt(log);
    log(
      `temporal CLI ${cli}; test server ${testServer}; browser ${browser}; PostgreSQL ${postgres}; dbt ${dbt} (${Date.now() - started} ms)`,
    );
  } catch (err) {
    if (err instanceof MissingToolError) {
      console.error(`provision: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
}

main();
