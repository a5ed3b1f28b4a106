/** `cutover break-glass`. */
import { type Command } from 'commander';
import { UserError } from '../../../lib/errors';
import { api, print, withClient } from '../common';

export function register(program: Command): void {
  program
    .command('break-glass')
    .argument('<id>', 'workflow id')
    .requiredOption('--role <role>', "the policy's break-glass role, or your role in the plan (the second person)")
    .requiredOption('--as <name>', 'your name as the policy or the plan lists it')
    .requiredOption('--reason <text>', 'why production must change now')
    .option('--key <file>', 'your ed25519 private key: signs it (or break the glass in the approval app, attested)')
    .option('--json', 'print JSON')
    .description(
      "let a change to production that waits for the change window go now: one of the policy's break-glass role and a second person",
    )
    .addHelpText(
      'after',
      '\nExample:\n  cutover break-glass cutover-portfolio-kpi-v2 --role incident-commander --as ivy --key ivy.key \\\n    --reason "INC-4711: V1 corrupts PAR90 since the rate change"',
    )
    .action(async (id: string, o: { role: string; as: string; reason: string; key?: string; json?: boolean }) => {
      const { readPrivateKey, submitBreakGlass } = await api();
      const privateKey = o.key ? await readPrivateKey(o.key) : undefined;
      await withClient(async (c) => {
        const answer = await submitBreakGlass(
          c,
          id,
          { role: o.role, approver: o.as, reason: o.reason },
          privateKey ? { privateKey } : {},
        );
        if (!answer.accepted && !o.json) throw new UserError(`break-glass refused (${answer.rule}): ${answer.reason}`);
        print(!!o.json, answer, () =>
          answer.broken
            ? `break-glass by ${o.as} (${o.role}) counted: the change goes ahead now`
            : `break-glass by ${o.as} (${o.role}) counted; it takes a second person (or the break-glass role) too`,
        );
        if (!answer.accepted) throw new UserError(`break-glass refused (${answer.rule}): ${answer.reason}`);
      });
    });
}
