/** `cutover report`. */
import { writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { markdownReport } from '../../../lib/format';
import { htmlReport } from '../../../lib/html-report';
import { api, withClient } from '../common';

export function register(program: Command): void {
  program
    .command('report')
    .argument('<id>', 'workflow id')
    .addOption(new Option('--format <format>', 'report format').choices(['md', 'json', 'html']).default('md'))
    .option('--out <file>', 'write to a file instead of stdout')
    .description('the evidence of every phase')
    .addHelpText('after', '\nExample:\n  cutover report cutover-portfolio-kpi-v2 --format html --out report.html')
    .action(async (id: string, o: { format: 'md' | 'json' | 'html'; out?: string }) => {
      const { status } = await api();
      await withClient(async (c) => {
        const s = await status(c, id);
        // Where the workers' key is configured, the html report says the record's digest and whether it verified.
        const record =
          o.format === 'html'
            ? await (await import('../../../lib/record-export.js')).recordLine(c, id).catch((err: unknown) => ({
                digest: '(not exported)',
                keyId: process.env.CUTOVER_WORKER_KEY_ID ?? 'workers',
                verified: false,
                detail: (err as Error).message.split('\n')[0] ?? 'the export failed',
              }))
            : undefined;
        const text =
          o.format === 'json'
            ? JSON.stringify(s, null, 2) + '\n'
            : o.format === 'html'
              ? htmlReport(s, record)
              : markdownReport(s);
        if (o.out) {
          await writeFile(o.out, text);
          process.stdout.write(`wrote ${o.out}\n`);
        } else process.stdout.write(text);
      });
    });
}
