/**
 * `cutover export` and `cutover verify`: the record an auditor receives (signed with the workers' key) and its
 * check, offline, with the keys the auditor trusts (lib/record.ts).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { ed25519 } from '@noble/curves/ed25519';
import type { Command } from 'commander';
import { decodePublicKey } from '../../plan/keys';
import { UserError } from '../../lib/errors';
import type { Trust } from '../../lib/record';
import { print, withClient } from './common';

/** `ID=PUBLICKEY` pairs from repeated flags, each key checked. */
function pairs(flag: string, values: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values ?? []) {
    const at = value.indexOf('=');
    const [id, key] = at > 0 ? [value.slice(0, at), value.slice(at + 1)] : ['', ''];
    if (!id || !decodePublicKey(key))
      throw new UserError(`${flag} ${value}: expected ID=PUBLICKEY (ed25519, hex or base64)`);
    out[id] = key;
  }
  return out;
}

/** The trusted keys of `--trust FILE` (JSON: { workers, attesters, approvers }) and of the flags, merged. */
async function trustOf(o: {
  trust?: string;
  workerKey?: string[];
  attesterKey?: string[];
  approverKey?: string[];
}): Promise<Trust> {
  let file: Partial<Trust> = {};
  if (o.trust) {
    try {
      file = JSON.parse(await readFile(o.trust, 'utf8')) as Partial<Trust>;
    } catch (err) {
      throw new UserError(`--trust ${o.trust}: ${(err as Error).message}`);
    }
  }
  const trust: Trust = {
    workers: { ...(file.workers ?? {}), ...pairs('--worker-key', o.workerKey) },
    attesters: { ...(file.attesters ?? {}), ...pairs('--attester-key', o.attesterKey) },
    approvers: { ...(file.approvers ?? {}), ...pairs('--approver-key', o.approverKey) },
  };
  if (Object.keys(trust.workers).length === 0) {
    throw new UserError("name the workers' key you trust: --worker-key ID=PUBLICKEY or --trust FILE");
  }
  return trust;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function recordCommands(program: Command): void {
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
      const { readPrivateKey } = await import('../../lib/api.js');
      const { exportRecord } = await import('../../lib/record-export.js');
      const privateKey = await readPrivateKey(keyFile);
      const keyId = process.env.CUTOVER_WORKER_KEY_ID ?? 'workers';
      await withClient(async (c) => {
        const envelope = await exportRecord(c, id, { signer: { keyId, privateKey }, withHistory: !!o.withHistory });
        await writeFile(o.out, JSON.stringify(envelope, null, 2) + '\n');
        const publicKey = Buffer.from(ed25519.getPublicKey(privateKey)).toString('hex');
        process.stdout.write(`${o.out}: the record of ${id}, signed with workers' key ${keyId} (${publicKey})\n`);
      });
    });

  program
    .command('verify')
    .argument('<file>', 'a record written by cutover export')
    .option(
      '--trust <file>',
      'the trusted public keys: JSON { "workers": {ID: KEY}, "attesters": {ID: KEY}, "approvers": {NAME: KEY} }',
    )
    .option('--worker-key <id=key>', "a workers' key you trust (repeatable)", collect)
    .option('--attester-key <id=key>', "an approval app's key you trust (repeatable)", collect)
    .option('--approver-key <name=key>', "an approver's own key you trust (repeatable)", collect)
    .option('--history <file>', 'the Temporal history the record names (JSON); default: the one in the record')
    .option('--replay', "also replay the history on this release's workflow code and hold the record to it")
    .option('--json', 'print JSON')
    .description('check a record offline: its signature, evidence digest, sign-offs recounted by the gate, audit chain')
    .addHelpText(
      'after',
      '\nExit 0 when every check holds; 1 naming the first broken link.\n' +
        '\nExample:\n  cutover verify portfolio-kpi-v2.record.json --worker-key workers=3b6a…',
    )
    .action(
      async (
        file: string,
        o: {
          trust?: string;
          workerKey?: string[];
          attesterKey?: string[];
          approverKey?: string[];
          history?: string;
          replay?: boolean;
          json?: boolean;
        },
      ) => {
        const trust = await trustOf(o);
        let envelope: unknown;
        try {
          envelope = JSON.parse(await readFile(file, 'utf8'));
        } catch (err) {
          throw new UserError(`${file}: ${(err as Error).message}`);
        }
        const { verifyRecord, recordOf } = await import('../../lib/record.js');
        const checks = verifyRecord(envelope, trust);
        // The replay holds the record to its history: only a record whose signature held is worth replaying.
        if (o.replay && checks.every((c) => c.ok)) {
          const record = recordOf(envelope);
          let historyText = record.history.json;
          if (o.history !== undefined) {
            try {
              historyText = await readFile(o.history, 'utf8');
            } catch (err) {
              throw new UserError(`--history ${o.history}: ${(err as Error).message}`);
            }
          }
          const { replayChecks } = await import('../../lib/record-replay.js');
          checks.push(...(await replayChecks(record, historyText)));
        }
        const failed = checks.find((c) => !c.ok);
        print(!!o.json, { verified: !failed, checks }, () =>
          [
            ...checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.check}: ${c.detail}`),
            failed ? `${file}: NOT verified` : `${file}: verified`,
          ].join('\n'),
        );
        if (failed) process.exitCode = 1;
      },
    );
}
