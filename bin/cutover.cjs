#!/usr/bin/env node
/**
 * The `cutover` command: the built CLI (dist/client/cli.js), behind a file that is always there. npx links a
 * project's own bins once, as they are when it first runs, and keeps that link (npm/cli#9766): with the bin in
 * dist/, an `npx cutover` typed while `npm start` was still building left a link with no bin, and every later
 * `npx cutover` in that clone answered "cutover: not found". This file exists before the first build.
 */
const { existsSync } = require('node:fs');
const path = require('node:path');

const cli = path.join(__dirname, '..', 'dist', 'client', 'cli.js');
if (!existsSync(cli)) {
  process.stderr.write(
    'cutover: not built yet (no dist/client/cli.js): `npm ci` builds it, as `npm start` does; or run `npm run build`\n',
  );
  process.exit(1);
}
require(cli);
