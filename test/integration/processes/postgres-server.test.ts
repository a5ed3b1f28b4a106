/**
 * The project's own PostgreSQL server (toolchain/postgres.ts) does not outlive its starter: a starter killed
 * with SIGKILL (no exit handler runs) still takes its server down, through the parent-death signal.
 */
import { spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { projectRoot } from '../../../toolchain/tools';
import { tempDir } from '../../helpers/harness';
import { pollUntil } from '../../helpers/poll';

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

test('a starter killed by SIGKILL takes its PostgreSQL server with it', async () => {
  const dir = tempDir('pg-starter-');
  // The server runs as nobody when the tests run as root: its folder must be one nobody can enter.
  chmodSync(dir, 0o755);
  const module = path.join(projectRoot(), 'dist', 'toolchain', 'postgres.js');
  const starter = spawn(
    process.execPath,
    [
      '-e',
      `require(${JSON.stringify(module)}).startPostgres({ dir: process.argv[1] })` +
        '.then((s) => { process.stdout.write(s.port + "\\n"); setInterval(() => {}, 1000); })',
      path.join(dir, 'pg'),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    starter.stdout.setEncoding('utf8').once('data', (line: string) => resolve(Number(line.trim())));
    starter.once('exit', (code) => reject(new Error(`the starter exited (${code}) before its server was up`)));
  });
  expect(await accepts(port)).toBe(true);
  starter.kill('SIGKILL');
  const open = await pollUntil(
    () => accepts(port),
    (listening) => !listening,
    { timeoutMs: 30_000, what: 'the orphaned server to stop' },
  );
  expect(open).toBe(false);
}, 90_000);
