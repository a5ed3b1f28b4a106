/**
 * The commands that run something here: keygen, the codec server, the approval app, the dev stack, a worker.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { ed25519 } from '@noble/curves/ed25519';
import { workerEnv, WORKER_NODE_OPTIONS } from '../../common/worker-process';
import { UserError } from '../../lib/errors';

export function serviceCommands(program: Command): void {
  program
    .command('keygen')
    .requiredOption('--out <file>', 'where to write the private key (hex)')
    .description('make an ed25519 key pair for signed sign-offs; prints the public key for the plan')
    .addHelpText('after', '\nExample:\n  cutover keygen --out ~/.cutover/bo.key')
    .action(async (o: { out: string }) => {
      const secret = ed25519.utils.randomPrivateKey();
      await writeFile(o.out, Buffer.from(secret).toString('hex') + '\n', { mode: 0o600 });
      process.stdout.write(`${Buffer.from(ed25519.getPublicKey(secret)).toString('hex')}\n`);
    });

  program
    .command('codec-server')
    .description('serve /decode and /encode for the Temporal UI and the temporal CLI (key from CUTOVER_CODEC_KEY)')
    .option('--port <port>', 'port on 127.0.0.1', '8089')
    .option('--origin <url...>', "the UI's origin, allowed by CORS", ['http://127.0.0.1:8233', 'http://localhost:8233'])
    .addHelpText(
      'after',
      '\nThe token is read from CUTOVER_CODEC_TOKEN (at least 16 characters). Callers send\n' +
        '"Authorization: Bearer <token>", or use http://127.0.0.1:<port>/<token> as the endpoint.\n' +
        '\nExample:\n  CUTOVER_CODEC_TOKEN=$(openssl rand -hex 24) cutover codec-server --port 8089',
    )
    .action(async (o: { port: string; origin: string[] }) => {
      const { codecFromEnv } = await import('../../codec/aes-gcm.js');
      const { serveCodec } = await import('../../codec/server.js');
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535)
        throw new UserError(`--port ${o.port}: expected 1–65535`);
      let codec;
      try {
        codec = codecFromEnv();
      } catch (err) {
        throw new UserError((err as Error).message);
      }
      if (!codec) throw new UserError('CUTOVER_CODEC_KEY is not set: the codec server needs the payload key');
      const token = process.env.CUTOVER_CODEC_TOKEN ?? '';
      if (token.length < 16) throw new UserError('CUTOVER_CODEC_TOKEN: expected a token of at least 16 characters');
      await serveCodec({
        codec,
        token,
        origins: o.origin,
        port,
        onRequest: (e) => process.stderr.write(`${e.method} ${e.path} ${e.status} (${e.payloads} payloads)\n`),
      });
      process.stdout.write(`codec server on http://127.0.0.1:${port} (key id ${codec.activeKeyId})\n`);
    });

  program
    .command('serve')
    .description('the approval web app: approvers sign in with the OpenID provider, see the evidence and sign off')
    .option('--port <port>', 'port to listen on (CUTOVER_SERVE_PORT, default 4400)')
    .option('--dev', 'dev mode: make up a session secret and an attester key where none is set; no Secure cookies')
    .addHelpText(
      'after',
      '\nConfiguration from the environment: CUTOVER_OIDC_ISSUER, CUTOVER_OIDC_CLIENT_ID, CUTOVER_OIDC_CLIENT_SECRET,\n' +
        'CUTOVER_SESSION_SECRET, CUTOVER_ATTESTER_KEY_ID, CUTOVER_ATTESTER_KEY_FILE, CUTOVER_OIDC_USER_CLAIM,\n' +
        'CUTOVER_APPROVAL_URL (see docs/approval.md), and TEMPORAL_* for the cluster.\n' +
        '\nExample:\n  CUTOVER_OIDC_ISSUER=https://login.example.org CUTOVER_OIDC_CLIENT_ID=cutover ... cutover serve',
    )
    .action(async (o: { port?: string; dev?: boolean }) => {
      const { serve } = await import('../../approval/serve.js');
      const { ServeConfigError } = await import('../../approval/config.js');
      const port = o.port === undefined ? undefined : Number(o.port);
      if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
        throw new UserError(`--port ${o.port}: expected 0–65535`);
      }
      let app: { url: string; close(): Promise<void> };
      try {
        app = await serve(process.env, { dev: o.dev ?? false, ...(port !== undefined ? { port } : {}) });
      } catch (err) {
        if (err instanceof ServeConfigError) throw new UserError(err.message);
        throw new UserError(`serve: ${(err as Error).message}`);
      }
      process.stdout.write(`approvals ready ${app.url}\n`);
      const stop = () => void app.close().then(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });

  program
    .command('dev')
    .description('the local stack: Temporal dev server (UI on 8233) and a worker, until Ctrl-C')
    .option('--example', 'also start the example cutover')
    .addHelpText('after', '\nExample:\n  cutover dev --example')
    .action(async (o: { example?: boolean }) => {
      // The dev stack is an entry point of its own (npm start runs it too): run it as a child, not as a library.
      const { spawn } = await import('node:child_process');
      const script = path.join(__dirname, '..', '..', 'scripts', 'dev.js');
      const child = spawn(process.execPath, [script, ...(o.example ? ['--example'] : [])], { stdio: 'inherit' });
      // Ctrl-C reaches the child through the terminal's process group; a plain SIGTERM to this process is passed on.
      process.on('SIGTERM', () => child.kill('SIGTERM'));
      process.on('SIGINT', () => undefined);
      const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
      process.exitCode = code;
    });

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
      const script = path.join(__dirname, '..', '..', 'worker', 'main.js');
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
