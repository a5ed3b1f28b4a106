/**
 * A phase in one place: the rollback rehearsal's names (the phase, its activity, its evidence) appear in code in
 * exactly the files docs/architecture.md lists under "Adding a phase", and in no other product file. A switch on
 * the phase's name elsewhere (a what-if, a history reader, a report) fails here, named with its file.
 * Comments do not count: TypeScript's scanner reads the code.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { PRODUCT, sourceFiles } from '../helpers/import-graph';

const ROOT = path.resolve(__dirname, '..', '..');
/** The rehearsal's own names: the phase, its activity (and its maker), its evidence. */
const NAMES = /^(rollback-rehearsal|rehearseRollback|createRehearseRollback|RehearsalResult)$/;

/** Whether `file`'s code (not its comments) names the phase: an identifier or a string literal, as parsed. */
function namesThePhase(file: string): boolean {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const visit = (node: ts.Node): boolean =>
    ((ts.isIdentifier(node) || ts.isStringLiteral(node)) && NAMES.test(node.text)) ||
    ts.forEachChild(node, visit) === true;
  return visit(source);
}

/** The files docs/architecture.md's "Adding a phase" lists, in its numbered items. */
function documentedFiles(): string[] {
  const doc = readFileSync(path.join(ROOT, 'docs', 'architecture.md'), 'utf8');
  const section = doc.slice(doc.indexOf('**Adding a phase**'), doc.indexOf('Two tests hold the declarations'));
  return [...section.matchAll(/`((?:shapes|workflows|activities|lib|plan)\/[\w/<>-]+\.ts)`/g)].map(
    (m) => m[1] as string,
  );
}

test("the rollback rehearsal is named in the files 'Adding a phase' lists, and in no other product file", () => {
  const naming = sourceFiles(ROOT, PRODUCT)
    .filter(namesThePhase)
    .map((file) => path.relative(ROOT, file))
    .sort();
  const documented = documentedFiles().map((f) => f.replace('<name>', 'rollback-rehearsal'));
  expect(naming.filter((file) => !documented.includes(file))).toEqual([]);
  // Its own three files and its lines in the three tables (plan/schema.ts too, for a phase with a section of its own).
  expect(naming).toHaveLength(6);
});

test('the reader sees a name in code and not in a comment', () => {
  const dir = path.join(ROOT, 'test', 'fast');
  expect(namesThePhase(path.join(dir, 'phase-in-one-place.test.ts'))).toBe(true);
  expect(namesThePhase(path.join(ROOT, 'workflows', 'cutover.ts'))).toBe(false);
});
