/**
 * Loading a plan file (YAML or JSON) into a validated plan. Node-side: the client and tests use it.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { PlanProblem } from './problems';
import { validatePlan, type CutoverPlan } from './schema';

/** Largest plan file accepted, in bytes. */
export const MAX_PLAN_BYTES = 1_000_000;

/** A plan that cannot be used: every problem, each with its path. */
export class PlanError extends Error {
  override readonly name = 'PlanError';
  constructor(
    readonly file: string,
    readonly problems: readonly PlanProblem[],
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`,
    );
  }
}

/**
 * Parses plan text. YAML (a superset of JSON) with duplicate keys refused and alias expansion bounded, so a
 * "billion laughs" document is an error, not an out-of-memory crash.
 */
export function parsePlanText(text: string, file = '(plan)'): unknown {
  if (text.length > MAX_PLAN_BYTES) {
    throw new PlanError(file, [{ path: '(file)', message: `larger than ${MAX_PLAN_BYTES} bytes` }]);
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  const errors = [...doc.errors, ...doc.warnings];
  if (errors.length > 0) {
    throw new PlanError(
      file,
      errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '(file)',
        message: firstLine(e.message),
      })),
    );
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new PlanError(file, [{ path: '(file)', message: firstLine((err as Error).message) }]);
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

/**
 * Validates a parsed document. `baseDir` (the plan file's folder) becomes the folder that relative
 * commands and paths resolve against, unless the plan sets its own.
 */
export function planFromDocument(doc: unknown, file: string, baseDir: string): CutoverPlan {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new PlanError(file, [
      { path: '(plan)', message: 'expected a mapping of plan sections (release, staging, …)' },
    ]);
  }
  const withBase = { ...(doc as Record<string, unknown>) };
  if (withBase.baseDir === undefined) withBase.baseDir = baseDir;
  else if (typeof withBase.baseDir === 'string') withBase.baseDir = path.resolve(baseDir, withBase.baseDir);
  const result = validatePlan(withBase);
  if (!result.ok) throw new PlanError(file, result.problems);
  return result.plan;
}

/** Reads, parses and validates a plan file; throws `PlanError` listing every problem. */
export async function loadPlan(file: string): Promise<CutoverPlan> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PlanError(file, [
      { path: '(file)', message: code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? String(err)})` },
    ]);
  }
  return planFromDocument(parsePlanText(text, file), file, path.dirname(path.resolve(file)));
}
