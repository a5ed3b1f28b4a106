/**
 * `npm run provision`: makes sure both real Temporal servers are built and cached, and that Debian's chromium
 * is installed for the UI test (idempotent; a warm run takes well under a second).
 */
import { ensureChromium, ensureTemporalCli, ensureTestServer, MissingToolError } from '../toolchain/tools';

function main(): void {
  const started = Date.now();
  const log = (line: string): void => console.error(`provision: ${line}`);
  try {
    const cli = ensureTemporalCli(log);
    const testServer = ensureTestServer(log);
    const browser = ensureChromium(log);
    log(`temporal CLI ${cli}; test server ${testServer}; browser ${browser} (${Date.now() - started} ms)`);
  } catch (err) {
    if (err instanceof MissingToolError) {
      console.error(`provision: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
}

main();
