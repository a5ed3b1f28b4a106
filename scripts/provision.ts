/**
 * `npm run provision`: makes sure both real Temporal servers are built and cached (idempotent; a warm run
 * takes well under a second).
 */
import { ensureTemporalCli, ensureTestServer, MissingToolError } from './toolchain';

function main(): void {
  const started = Date.now();
  const log = (line: string): void => console.error(`provision: ${line}`);
  try {
    const cli = ensureTemporalCli(log);
    const testServer = ensureTestServer(log);
    log(`temporal CLI ${cli}; test server ${testServer} (${Date.now() - started} ms)`);
  } catch (err) {
    if (err instanceof MissingToolError) {
      console.error(`provision: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
}

main();
