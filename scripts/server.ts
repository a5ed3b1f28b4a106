/**
 * `npm run server`: the Temporal dev server alone on 127.0.0.1:7233 with the UI on 8233, its state in
 * .data/temporal.sqlite (kept across restarts), the cutover search attributes registered. Ctrl-C stops it.
 */
import path from 'node:path';
import { startDevServer } from '../toolchain/dev-server';
import { projectRoot } from '../toolchain/tools';

async function main(): Promise<void> {
  const dataDir = path.resolve(process.env.CUTOVER_DATA_DIR ?? path.join(projectRoot(), '.data'));
  const port = Number(process.env.CUTOVER_SERVER_PORT ?? 7233);
  const uiPort = Number(process.env.CUTOVER_UI_PORT ?? 8233);
  const server = await startDevServer({
    port,
    uiPort,
    dbFile: path.join(dataDir, 'temporal.sqlite'),
    stdio: 'inherit',
    logLevel: 'warn',
  });
  console.log(
    `Temporal dev server on ${server.address}; UI http://127.0.0.1:${uiPort}; state ${path.join(dataDir, 'temporal.sqlite')}`,
  );
  const stop = () => void server.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  server.process.once('exit', (code) => process.exit(code ?? 1));
}

main().catch((err: unknown) => {
  console.error(`server: ${(err as Error).message}`);
  process.exit(1);
});
