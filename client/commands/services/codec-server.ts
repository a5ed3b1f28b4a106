/** `cutover codec-server`. */
import type { Command } from 'commander';
import { UserError } from '../../../lib/errors';

export function register(program: Command): void {
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
      const { codecFromEnv } = await import('../../../codec/aes-gcm.js');
      const { serveCodec } = await import('../../../codec/server.js');
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
}
