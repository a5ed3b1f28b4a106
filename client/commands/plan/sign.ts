/** `cutover plan sign`. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { canonicalJson } from '../../../plan/canonical';
import { toMs } from '../../../plan/duration';
import { loadPlan } from '../../../plan/load';
import { validatePlan } from '../../../plan/schema';
import { UserError } from '../../../lib/errors';
import { me } from '../common';

/** A signed plan read back as the workflow will read it must be exactly what was signed. */
function validateSigned(signed: unknown): void {
  const again = validatePlan(JSON.parse(JSON.stringify(signed)));
  if (!again.ok || canonicalJson(again.plan) !== canonicalJson(signed)) {
    throw new Error('the signed plan does not read back as signed (a bug in cutover plan sign)');
  }
}

export function register(plan: Command): void {
  plan
    .command('sign')
    .argument('<file>', 'plan file (YAML or JSON)')
    .requiredOption('--key <file>', "the release manager's ed25519 private key (cutover keygen)")
    .requiredOption('--key-id <id>', "the key's id, as the workers' policy lists it under releaseManagers")
    .option('--signer <name>', "who signs (the key holder); becomes the cutover's initiator", me())
    .option('--expires <duration>', 'how long the signature holds', '7d')
    .option('--out <file>', 'where to write the signed plan (JSON; default <file> with .signed.json)')
    .description('sign a plan for workers whose policy requires signed plans; the signed file starts as it is')
    .addHelpText(
      'after',
      '\nThe signed plan is the validated plan (defaults filled in, paths absolute) with a `signature` field; start\n' +
        'it with `cutover start FILE` or `temporal workflow start --type cutoverWorkflow --input-file FILE`.\n' +
        '\nExample:\n  cutover plan sign plan.yaml --key ~/.cutover/rm.key --key-id rm-2026 --expires 3d',
    )
    .action(async (file: string, o: { key: string; keyId: string; signer: string; expires: string; out?: string }) => {
      const { signPlan } = await import('../../../plan/signing.js');
      const ms = toMs(o.expires);
      if (!(ms > 0)) throw new UserError(`--expires ${o.expires}: expected a duration such as 3d or 12h`);
      const loaded = await loadPlan(file);
      const { readPrivateKey } = await import('../../../lib/api.js');
      const privateKey = await readPrivateKey(o.key);
      const by = { keyId: o.keyId, signer: o.signer, expiresAt: new Date(Date.now() + ms).toISOString() };
      const signed = signPlan(loaded, privateKey, by);
      // The signed form must load back to exactly what was signed: check it before writing it.
      validateSigned(signed);
      const out = o.out ?? file.replace(/\.(ya?ml|json)$/i, '') + '.signed.json';
      await writeFile(out, JSON.stringify(signed, null, 2) + '\n');
      process.stdout.write(`${out}: ${loaded.release} signed by ${o.signer} (key ${o.keyId}) until ${by.expiresAt}\n`);
    });
}
