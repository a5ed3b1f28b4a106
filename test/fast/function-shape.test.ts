/**
 * No function over 80 lines and none with more than four parameters (an options object past four) in the product
 * folders (bench and examples aside), read with TypeScript's own parser. A function that breaks either rule
 * fails here, named with its file and line.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { PRODUCT, sourceFiles } from '../helpers/import-graph';

const ROOT = path.resolve(__dirname, '..', '..');
const MAX_LINES = 80;

const MAX_PARAMETERS = 4;

interface Found {
  at: string;
  name: string;
  lines: number;
  parameters: number;
}

/** Every function-like node with a body in `file`: where, its name as its declaration names it, its size. */
function functionsOf(file: string): Found[] {
  const relative = path.relative(ROOT, file);
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: Found[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const parent = node.parent;
      const name =
        (node.name && node.name.getText()) ||
        (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) ? parent.name.getText() : '(anonymous)');
      out.push({
        at: `${relative}:${start + 1}`,
        name,
        lines: source.getLineAndCharacterOfPosition(node.end).line - start + 1,
        parameters: node.parameters.length,
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

const found = sourceFiles(ROOT, PRODUCT).flatMap(functionsOf);

test(`no function over ${MAX_LINES} lines`, () => {
  expect(found.filter((f) => f.lines > MAX_LINES).map((f) => `${f.at} ${f.name}: ${f.lines} lines`)).toEqual([]);
});

test(`no function over ${MAX_PARAMETERS} parameters: an options object past them`, () => {
  expect(
    found.filter((f) => f.parameters > MAX_PARAMETERS).map((f) => `${f.at} ${f.name}: ${f.parameters} parameters`),
  ).toEqual([]);
});

test('the reader counts a long function and its parameters', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'function-shape-'));
  const file = path.join(dir, 'long.ts');
  writeFileSync(file, `export function long(a: 1, b: 2, c: 3, d: 4, e: 5) {\n${'  a;\n'.repeat(80)}}\n`);
  expect(functionsOf(file)).toEqual([expect.objectContaining({ name: 'long', lines: 82, parameters: 5 })]);
});
