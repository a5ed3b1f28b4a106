/**
 * Reading the organisation policy file on a worker (or for `cutover plan validate --policy`), and the
 * worker's file system as the policy check sees it. Node-side: never imported by workflow code.
 */
import { accessSync, constants, realpathSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { parse } from 'yaml';
import { canonicalJson } from './canonical';
import { policySchema, type PathResolver, type ResolvedPolicy } from './policy';
import { flattenIssues, type PlanProblem } from './problems';

/** A policy file that cannot be used: every problem by its path. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  constructor(
    readonly file: string,
    readonly problems: readonly PlanProblem[],
  ) {
    super(`policy ${file}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  }
}

/** Reads, parses and validates the policy at `file`; relative paths in it resolve against its folder. */
export function loadPolicy(file: string): ResolvedPolicy {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PolicyError(file, [
      { path: '(file)', message: code === 'ENOENT' ? 'no such file' : `cannot read (${code})` },
    ]);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new PolicyError(file, [{ path: '(file)', message: `not YAML: ${(err as Error).message.split('\n')[0]}` }]);
  }
  const result = policySchema.safeParse(doc);
  if (!result.success) throw new PolicyError(file, flattenIssues(result.error.issues));
  const digest = createHash('sha256').update(canonicalJson(result.data)).digest('hex');
  return { policy: result.data, policyDir: path.dirname(absolute), digest };
}

/** The worker's file system: a command as `spawn` finds it (PATH for a bare name), real paths of files. */
export const fileSystemResolver: PathResolver = {
  command(name, cwd) {
    if (name.includes('/')) return executable(path.resolve(cwd, name));
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      if (!dir) continue;
      const found = executable(path.join(dir, name));
      if (found) return found;
    }
    return undefined;
  },
  real(file, cwd) {
    try {
      return realpathSync(path.resolve(cwd, file));
    } catch {
      return undefined;
    }
  },
};

function executable(file: string): string | undefined {
  try {
    accessSync(file, constants.X_OK);
    return realpathSync(file);
  } catch {
    return undefined;
  }
}
