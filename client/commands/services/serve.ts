/** `cutover serve`. */
import type { Command } from 'commander';
import { UserError } from '../../../lib/errors';

export function register(program: Command): void {
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
      const { serve } = await import('../../../approval/serve.js');
      const { ServeConfigError } = await import('../../../approval/config.js');
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
}
