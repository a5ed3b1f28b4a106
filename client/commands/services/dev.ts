/** `cutover dev`. */
import path from 'node:path';
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('dev')
    .description('the local stack: Temporal dev server (UI on 8233) and a worker, until Ctrl-C')
    .option('--example', 'also start the example cutover')
    .option('--dbt', "also start the dbt demo: jaffle shop cut over on the stack's PostgreSQL")
    .addHelpText('after', '\nExample:\n  cutover dev --example --dbt')
    .action(async (o: { example?: boolean; dbt?: boolean }) => {
      // The dev stack is an entry point of its own (npm start runs it too): run it as a child, not as a library.
      const { spawn } = await import('node:child_process');
      const script = path.join(__dirname, '..', '..', '..', 'scripts', 'dev.js');
      const flags = [...(o.example ? ['--example'] : []), ...(o.dbt ? ['--dbt'] : [])];
      const child = spawn(process.execPath, [script, ...flags], { stdio: 'inherit' });
      // Ctrl-C reaches the child through the terminal's process group; a plain SIGTERM to this process is passed on.
      process.on('SIGTERM', () => child.kill('SIGTERM'));
      process.on('SIGINT', () => undefined);
      const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
      process.exitCode = code;
    });
}
