/**
 * Prebuilds the workflow bundle at build time (dist/workflow-bundle.js and its source map beside it,
 * worker/bundle.ts), so the worker starts without running webpack.
 */
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { writeBundle } from '../common/workflow-bundle';

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} } as never,
  });
  const out = path.join(__dirname, '..', 'workflow-bundle.js');
  const size = await writeBundle(code, out);
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  console.error(`workflow bundle: ${out} (${kib(size.code)}; source map beside it, ${kib(size.map)})`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
