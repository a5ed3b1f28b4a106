/**
 * No function over 80 lines in the product folders (bench and examples aside), read with TypeScript's own parser.
 * The functions that were longer when the rule came in are listed with their length then: each may only shrink,
 * and leaves the list once it fits. A new long function fails here, named with its file and line.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { sourceFiles } from '../helpers/import-graph';

const ROOT = path.resolve(__dirname, '..', '..');
const MAX_LINES = 80;
const PRODUCT = [
  'activities',
  'approval',
  'client',
  'codec',
  'common',
  'dbt',
  'lib',
  'plan',
  'policy',
  'scripts',
  'shapes',
  'toolchain',
  'verdicts',
  'worker',
  'workflows',
];

/** The functions over the limit when the rule came in (2026-12-07), by `file:name`, with their lines then. */
const SHRINKING: Record<string, number> = {
  'lib/record-replay.ts:replayChecks': 100,
  'lib/html-report.ts:reportParts': 98,
  'workflows/monitor.ts:monitorWorkflow': 98,
  'codec/server.ts:serveCodec': 93,
  'worker/main.ts:main': 93,
  'toolchain/postgres.ts:startPostgres': 85,
  'lib/record.ts:checkSignOffs': 84,
};

interface Long {
  id: string;
  at: string;
  lines: number;
}

/** Every function-like node with a body longer than MAX_LINES in `file`, named as its declaration names it. */
function longFunctions(file: string): Long[] {
  const relative = path.relative(ROOT, file);
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: Long[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const lines = source.getLineAndCharacterOfPosition(node.end).line - start + 1;
      if (lines > MAX_LINES) {
        const parent = node.parent;
        const name =
          (node.name && node.name.getText()) ||
          (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) ? parent.name.getText() : '(anonymous)');
        out.push({ id: `${relative}:${name}`, at: `${relative}:${start + 1}`, lines });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

const found = sourceFiles(ROOT, PRODUCT).flatMap(longFunctions);

test(`no new function over ${MAX_LINES} lines, and none of the listed ones longer than it was`, () => {
  const problems = found
    .filter((f) => f.lines > (SHRINKING[f.id] ?? MAX_LINES))
    .map(
      (f) =>
        `${f.at} ${f.id.split(':')[1]}: ${f.lines} lines (${SHRINKING[f.id] ? `was ${SHRINKING[f.id]}` : `at most ${MAX_LINES}`})`,
    );
  expect(problems).toEqual([]);
});

test('a listed function that now fits leaves the list', () => {
  const long = new Set(found.map((f) => f.id));
  expect(Object.keys(SHRINKING).filter((id) => !long.has(id))).toEqual([]);
});
