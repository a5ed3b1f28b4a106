/** `cutover plan schema`. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';

export function register(plan: Command): void {
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
      const { planJsonSchema } = await import('../../../plan/json-schema.js');
      const text = JSON.stringify(planJsonSchema(), null, 2) + '\n';
      if (o.out) {
        await writeFile(o.out, text);
        process.stdout.write(`${o.out}: the plan's JSON Schema\n`);
      } else process.stdout.write(text);
    });
}
