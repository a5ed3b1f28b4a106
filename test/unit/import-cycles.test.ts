/**
 * No import cycles, type imports included: eslint's import-x/no-cycle never counts `import type`, so the graph
 * is read here with TypeScript's own pre-processor (toolchain/import-graph.ts).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { importCycles, importGraph, sourceFiles } from '../../toolchain/import-graph';

const ROOT = path.resolve(__dirname, '..', '..');
const FOLDERS = ['activities', 'approval', 'bench', 'client', 'codec', 'common', 'examples', 'plan', 'scripts', 'test'];
const MORE = ['shapes', 'toolchain', 'verdicts', 'worker', 'workflows'];

test('no module imports itself through others, type imports included', () => {
  const files = sourceFiles(ROOT, [...FOLDERS, ...MORE]);
  expect(files.length).toBeGreaterThan(100);
  const cycles = importCycles(importGraph(files)).map((cycle) => cycle.map((file) => path.relative(ROOT, file)));
  expect(cycles).toEqual([]);
});

test('the reader sees a cycle made only of type imports and re-exports (what eslint does not count)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'import-cycle-'));
  writeFileSync(path.join(dir, 'a.ts'), "import type { B } from './b';\nexport interface A { b: B }\n");
  writeFileSync(path.join(dir, 'b.ts'), "export type { A } from './a.js';\nexport interface B { n: number }\n");
  writeFileSync(path.join(dir, 'c.ts'), "import type { A } from './a';\nexport type C = A;\n");
  const cycles = importCycles(importGraph(sourceFiles(dir, ['.'])));
  expect(cycles).toEqual([[path.join(dir, 'a.ts'), path.join(dir, 'b.ts')]]);
});
