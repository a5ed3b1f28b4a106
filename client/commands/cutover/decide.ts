/** `cutover approve | reject`. */
import { type Command } from 'commander';
import { UserError } from '../../../lib/errors';
import { api, print, withClient } from '../common';

export function register(program: Command): void {
  for (const decision of ['approve', 'reject'] as const) {
    program
      .command(decision)
      .argument('<id>', 'workflow id')
      .requiredOption('--role <role>', 'the role you sign for')
      .requiredOption('--as <name>', 'your approver name')
      .option('--comment <text>', 'why')
      .option('--key <file>', 'your ed25519 private key: signs the sign-off')
      .option('--json', 'print JSON')
      .description(
        `${decision} a cutover for one role (through the submitSignOff update: you learn at once whether it counted)`,
      )
      .addHelpText(
        'after',
        `\nExample:\n  cutover ${decision} cutover-portfolio-kpi-v2 --role qa --as bo${decision === 'reject' ? ' --comment "PAR90 moved"' : ''}`,
      )
      .action(async (id: string, o: { role: string; as: string; comment?: string; key?: string; json?: boolean }) => {
        const { readPrivateKey, submitSignOff } = await api();
        const privateKey = o.key ? await readPrivateKey(o.key) : undefined;
        await withClient(async (c) => {
          const answer = await submitSignOff(
            c,
            id,
            { role: o.role, approver: o.as, decision, ...(o.comment ? { comment: o.comment } : {}) },
            privateKey ? { privateKey } : {},
          );
          if (!answer.accepted && !o.json) throw new UserError(`sign-off refused (${answer.rule}): ${answer.reason}`);
          print(!!o.json, answer, () => {
            const missing = answer.gate.roles.filter((r) => r.missing > 0).map((r) => r.role);
            return `${decision} for ${o.role} by ${o.as} counted; gate ${answer.gate.status}${missing.length ? `; still missing: ${missing.join(', ')}` : ''}`;
          });
          if (!answer.accepted) throw new UserError(`sign-off refused (${answer.rule}): ${answer.reason}`);
        });
      });
  }
}
