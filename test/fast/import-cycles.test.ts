/**
 * The house's floors, read from the code: no file imports itself through others, no folder imports a folder
 * that imports it back, and every import from one folder into another is one the architecture allows
 * (docs/architecture.md). Type imports, re-exports, dynamic `import()` and `require()` all count: eslint's
 * import-x/no-cycle never counts `import type`, and its no-restricted-imports rules see static imports only,
 * so the graph is read here with TypeScript's own pre-processor (test/helpers/import-graph.ts).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { folderCycles, folderEdges, importCycles, importGraph, sourceFiles } from '../helpers/import-graph';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Which folders each product folder may import, the floors from the ground up. `plan/` (the plan's schema and
 * the words every layer reads) is the ground; `shapes/` the shared shapes on it; the library `lib/` sits beneath
 * both the CLI (`client/`) and the approval app; the CLI above everything it starts.
 */
const ALLOWED: Record<string, readonly string[]> = {
  plan: [],
  codec: [],
  common: ['plan'],
  shapes: ['plan'],
  verdicts: ['plan', 'shapes'],
  policy: ['plan', 'shapes'],
  dbt: [],
  activities: ['codec', 'common', 'dbt', 'plan', 'policy', 'shapes', 'verdicts'],
  workflows: ['activities', 'plan', 'shapes'],
  worker: ['activities', 'codec', 'common', 'plan', 'policy', 'shapes', 'workflows'],
  toolchain: ['common', 'workflows'],
  lib: ['codec', 'common', 'plan', 'shapes', 'verdicts', 'workflows'],
  approval: ['common', 'lib', 'shapes', 'workflows'],
  client: ['approval', 'codec', 'common', 'dbt', 'lib', 'plan', 'policy', 'shapes'],
  examples: ['plan'],
  scripts: ['common', 'examples', 'lib', 'plan', 'toolchain'],
};
const PRODUCT = Object.keys(ALLOWED);

test('no module imports itself through others, type imports included', () => {
  const files = sourceFiles(ROOT, [...PRODUCT, 'bench', 'test']);
  expect(files.length).toBeGreaterThan(100);
  const cycles = importCycles(importGraph(files)).map((cycle) => cycle.map((file) => path.relative(ROOT, file)));
  expect(cycles).toEqual([]);
});

test('no folder imports a folder that imports it back, and each import across folders is one the floors allow', () => {
  const edges = folderEdges(ROOT, importGraph(sourceFiles(ROOT, PRODUCT)));
  expect(folderCycles(edges)).toEqual([]);
  const forbidden = edges
    .filter((edge) => !(ALLOWED[edge.from] ?? []).includes(edge.to))
    .map((edge) => `${edge.file} imports ${edge.to}/ (${edge.from}/ may import ${ALLOWED[edge.from]?.join(', ')})`);
  expect(forbidden).toEqual([]);
});

test('the reader sees a cycle made only of type imports and re-exports (what eslint does not count)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'import-cycle-'));
  writeFileSync(path.join(dir, 'a.ts'), "import type { B } from './b';\nexport interface A { b: B }\n");
  writeFileSync(path.join(dir, 'b.ts'), "export type { A } from './a.js';\nexport interface B { n: number }\n");
  writeFileSync(path.join(dir, 'c.ts'), "import type { A } from './a';\nexport type C = A;\n");
  const cycles = importCycles(importGraph(sourceFiles(dir, ['.'])));
  expect(cycles).toEqual([[path.join(dir, 'a.ts'), path.join(dir, 'b.ts')]]);
});

test('the reader sees a folder cycle closed by a dynamic import() or a require() alone', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'folder-cycle-'));
  for (const folder of ['app', 'cli', 'lib']) mkdirSync(path.join(dir, folder));
  writeFileSync(path.join(dir, 'lib', 'api.ts'), 'export const api = 1;\n');
  writeFileSync(path.join(dir, 'app', 'serve.ts'), "import { api } from '../lib/api';\nexport const serve = api;\n");
  // The way the CLI once loaded the app while the app used the CLI's folder as its library.
  writeFileSync(
    path.join(dir, 'lib', 'start.ts'),
    "export async function start() { return (await import('../app/serve.js')).serve; }\n",
  );
  writeFileSync(path.join(dir, 'cli', 'main.ts'), "const lib = require('../lib/api');\nexport const main = lib;\n");
  const edges = folderEdges(dir, importGraph(sourceFiles(dir, ['app', 'cli', 'lib'])));
  expect(edges.map((edge) => `${edge.from}->${edge.to}`).sort()).toEqual(['app->lib', 'cli->lib', 'lib->app']);
  expect(folderCycles(edges)).toEqual([['app', 'lib']]);
});
