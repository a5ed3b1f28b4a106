#!/usr/bin/env node
// Runs an action with a fault injected, counting attempts in a file so that retries see how many came before.
//   node fault.js <mode> <counter-file> <command> [args…]
// modes: fail-N (exit 75, retryable, for the first N attempts), hang-once (sleep past the action's timeout on
// the first attempt), crash-once (kill itself with SIGKILL on the first attempt), fail-hard (exit 1 every time).
const { spawnSync } = require('node:child_process');
const { appendFileSync, existsSync, readFileSync } = require('node:fs');

const [mode, counter, command, ...args] = process.argv.slice(2);
const before = existsSync(counter) ? readFileSync(counter, 'utf8').split('\n').filter(Boolean).length : 0;
appendFileSync(counter, `${mode} ${process.pid}\n`);
const failN = /^fail-(\d+)$/.exec(mode);
if (failN && before < Number(failN[1])) {
  process.stderr.write(`injected transient failure ${before + 1} of ${failN[1]}\n`);
  process.exit(75);
}
// A hang ends by itself after a minute: one orphaned when its worker is killed must not outlive the test.
if (mode === 'hang-once' && before === 0) setTimeout(() => process.exit(1), 60_000);
else if (mode === 'crash-once' && before === 0) process.kill(process.pid, 'SIGKILL');
else if (mode === 'fail-hard') {
  process.stderr.write('injected permanent failure\n');
  process.exit(1);
} else {
  const r = spawnSync(command, args, { stdio: 'inherit', env: process.env });
  process.exit(r.status ?? 1);
}
