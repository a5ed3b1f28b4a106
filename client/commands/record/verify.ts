/** `cutover verify`. */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { decodePublicKey } from '../../../plan/keys';
import { UserError } from '../../../lib/errors';
import type { Trust } from '../../../lib/record';
import { print } from '../common';

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

export function register(program: Command): void {
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
        const { verifyRecord, recordOf } = await import('../../../lib/record.js');
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
          const { replayChecks } = await import('../../../lib/record-replay.js');
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
