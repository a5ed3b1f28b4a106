/**
 * `cutover plan validate | schema | init | sign`: plan files, before anything starts.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { canonicalJson } from '../../plan/canonical';
import { toMs } from '../../plan/duration';
import { loadPlan, PlanError } from '../../plan/load';
import { validatePlan } from '../../plan/schema';
import { UserError } from '../../lib/errors';
import { me, print } from './common';

/** A signed plan read back as the workflow will read it must be exactly what was signed. */
function validateSigned(signed: unknown): void {
  const again = validatePlan(JSON.parse(JSON.stringify(signed)));
  if (!again.ok || canonicalJson(again.plan) !== canonicalJson(signed)) {
    throw new Error('the signed plan does not read back as signed (a bug in cutover plan sign)');
  }
}

export function planCommands(program: Command): void {
  const plan = program.command('plan').description('work with plan files');
  plan
    .command('validate')
    .argument('<file>', 'plan file (YAML or JSON)')
    .option('--policy <file>', "also check it against an organisation policy, as the workers' plan check will")
    .option('--json', 'print JSON')
    .description('check a plan; every problem is listed by its path')
    .addHelpText(
      'after',
      '\nExamples:\n  cutover plan validate examples/portfolio-kpi/plan.yaml\n' +
        '  cutover plan validate examples/portfolio-kpi/plan.yaml --policy examples/portfolio-kpi/policy.yaml',
    )
    .action(async (file: string, o: { json?: boolean; policy?: string }) => {
      const p = await loadPlan(file);
      let digest: string | undefined;
      if (o.policy !== undefined) {
        const { checkPlanAgainstPolicy } = await import('../../policy/check.js');
        const { fileSystemResolver, loadPolicy, PolicyError } = await import('../../policy/load.js');
        let policy;
        try {
          policy = loadPolicy(o.policy);
        } catch (err) {
          if (err instanceof PolicyError) throw new PlanError(o.policy, err.problems);
          throw err;
        }
        const { problems } = checkPlanAgainstPolicy(p, policy, fileSystemResolver);
        if (problems.length > 0) throw new PlanError(`${file} (against policy ${o.policy})`, problems);
        digest = policy.digest;
      }
      print(
        !!o.json,
        { valid: true, release: p.release, ...(digest ? { policyDigest: digest } : {}) },
        () =>
          `${file}: valid plan for release ${p.release} (${Object.keys(p.signoff.roles).length} sign-off roles)` +
          (digest ? `, within policy ${o.policy} (digest ${digest.slice(0, 12)})` : ''),
      );
    });

  plan
    .command('schema')
    .option('--out <file>', 'write it to a file instead of standard output')
    .description("print the plan's JSON Schema (generated from the zod schema), for editors")
    .addHelpText(
      'after',
      '\nName it at the top of a plan file and VS Code (or any YAML language server) completes and checks it:\n' +
        '  # yaml-language-server: $schema=./cutover-plan.schema.json\n' +
        '\nRules across fields (quorums, declared metrics, outputs) are checked by `cutover plan validate` only.\n' +
        '\nExample:\n  cutover plan schema --out cutover-plan.schema.json',
    )
    .action(async (o: { out?: string }) => {
      const { planJsonSchema } = await import('../../plan/json-schema.js');
      const text = JSON.stringify(planJsonSchema(), null, 2) + '\n';
      if (o.out) {
        await writeFile(o.out, text);
        process.stdout.write(`${o.out}: the plan's JSON Schema\n`);
      } else process.stdout.write(text);
    });

  plan
    .command('init')
    .option('--out <file>', 'where to write it', 'plan.yaml')
    .option('--release <name>', "the release's name", 'my-pipeline-v2')
    .option('--force', 'overwrite an existing file')
    .description('write a commented starting plan that validates')
    .addHelpText('after', '\nExample:\n  cutover plan init --out plan.yaml --release orders-v2')
    .action(async (o: { out: string; release: string; force?: boolean }) => {
      const { initPlan } = await import('../../plan/init-plan.js');
      const text = initPlan(o.release);
      const { parsePlanText, planFromDocument } = await import('../../plan/load.js');
      // What it writes must validate: a release name the schema refuses is said before anything is written.
      planFromDocument(parsePlanText(text, o.out), o.out, process.cwd());
      try {
        await writeFile(o.out, text, { flag: o.force ? 'w' : 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST')
          throw new UserError(`${o.out}: exists (--force overwrites it)`);
        throw err;
      }
      process.stdout.write(
        `${o.out}: a starting plan for ${o.release}; replace its commands, then cutover plan validate ${o.out}\n`,
      );
    });

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
      const { signPlan } = await import('../../plan/signing.js');
      const ms = toMs(o.expires);
      if (!(ms > 0)) throw new UserError(`--expires ${o.expires}: expected a duration such as 3d or 12h`);
      const loaded = await loadPlan(file);
      const { readPrivateKey } = await import('../../lib/api.js');
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
