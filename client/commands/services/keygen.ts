/** `cutover keygen`. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ed25519 } from '@noble/curves/ed25519';

export function register(program: Command): void {
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
}
