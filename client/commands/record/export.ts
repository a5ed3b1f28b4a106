/** `cutover export`. */
import { writeFile } from 'node:fs/promises';
import { ed25519 } from '@noble/curves/ed25519';
import type { Command } from 'commander';
import { UserError } from '../../../lib/errors';
import { withClient } from '../common';

export function register(program: Command): void {
  program
    .command('export')
    .argument('<id>', 'workflow id')
    .requiredOption('--out <file>', 'where to write the signed record (a DSSE envelope, JSON)')
    .option('--with-history', 'put the Temporal history itself in the record too')
    .description(
      "a cutover's record for an auditor: plan, evidence, sign-offs, gate, audit chain, outcome; signed with the workers' key",
    )
    .addHelpText(
      'after',
      "\nThe workers' key comes from CUTOVER_WORKER_KEY_FILE and CUTOVER_WORKER_KEY_ID (as for the workers' seals).\n" +
        '\nExample:\n  cutover export cutover-portfolio-kpi-v2 --out portfolio-kpi-v2.record.json',
    )
    .action(async (id: string, o: { out: string; withHistory?: boolean }) => {
      const keyFile = process.env.CUTOVER_WORKER_KEY_FILE;
      if (!keyFile)
        throw new UserError("CUTOVER_WORKER_KEY_FILE is not set: the record is signed with the workers' key");
      const { readPrivateKey } = await import('../../../lib/api.js');
      const { exportRecord } = await import('../../../lib/record-export.js');
      const privateKey = await readPrivateKey(keyFile);
      const keyId = process.env.CUTOVER_WORKER_KEY_ID ?? 'workers';
      await withClient(async (c) => {
        const envelope = await exportRecord(c, id, { signer: { keyId, privateKey }, withHistory: !!o.withHistory });
        await writeFile(o.out, JSON.stringify(envelope, null, 2) + '\n');
        const publicKey = Buffer.from(ed25519.getPublicKey(privateKey)).toString('hex');
        process.stdout.write(`${o.out}: the record of ${id}, signed with workers' key ${keyId} (${publicKey})\n`);
      });
    });
}
