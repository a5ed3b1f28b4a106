/**
 * Starts the approval app from the environment (`cutover serve`): configuration, the Temporal connection,
 * the OpenID login, and a clean stop on SIGTERM / SIGINT.
 */
import pino from 'pino';
import { connect } from '../lib/api';
import { createApprovalApp } from './app';
import { loadServeConfig } from './config';
import { createOidcLogin } from './oidc';

export async function serve(
  env: NodeJS.ProcessEnv,
  options: { dev?: boolean; port?: number; say?: (line: string) => void } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const say = options.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  const config = loadServeConfig(env, { dev: options.dev ?? false });
  if (options.port !== undefined) config.port = options.port;
  const logger = pino({
    level: env.CUTOVER_LOG_LEVEL ?? 'info',
    base: { service: 'cutover-approvals' },
    redact: { paths: ['req.headers.cookie', 'req.headers.authorization'], censor: '[redacted]' },
  });
  const cutovers = await connect(env);
  const approval = await createApprovalApp({
    config,
    cutovers,
    logger,
    login: (redirectUri) => createOidcLogin(config.oidc, redirectUri),
  });
  let url: string;
  try {
    url = await approval.listen();
  } catch (err) {
    await approval.close();
    await cutovers.close();
    throw err;
  }
  if (config.dev) say('cutover serve: dev mode (cookies without Secure, a made-up secret or key where none is set)');
  for (const made of config.generated) say(`cutover serve: made up ${made}`);
  say(`cutover serve: approvals on ${url} (login: ${config.oidc.issuer}; attester key ${config.attester.keyId})`);
  return {
    url,
    async close() {
      await approval.close();
      await cutovers.close();
    },
  };
}
