/**
 * Reading the organisation policy file on a worker (or for `cutover plan validate --policy`), and the
 * worker's file system as the policy check sees it. Node-side: never imported by workflow code.
 */
import { accessSync, constants, readlinkSync, realpathSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { parse } from 'yaml';
import { canonicalJson } from '../plan/canonical';
import type { PathResolver } from './reach';
import { policySchema, type Policy, type ResolvedPolicy } from './schema';
import { flattenIssues, type PlanProblem } from '../plan/problems';

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
  const shared = sharedBetweenPipelines(result.data, path.dirname(absolute), fileSystemResolver);
  if (shared.length > 0) throw new PolicyError(file, shared);
  const digest = createHash('sha256')
    .update(canonicalJson(withoutCalendars(result.data)))
    .digest('hex');
  return { policy: result.data, policyDir: path.dirname(absolute), digest };
}

/**
 * The policy as its digest covers it: without the change calendars. A plan is checked against the rules (who
 * approves, what may run, the ceilings), and a running cutover's activities go only to workers holding the
 * same rules; the calendar says *when*, changes more often (a freeze, a holiday), and is asked again at every
 * wait (workflows/change-window.ts), each answer recorded in history. So adding a freeze reaches the cutovers
 * already waiting, instead of leaving them waiting for workers with the old file. A policy without a calendar
 * has the digest it always had.
 */
function withoutCalendars(policy: Policy): Policy {
  const strip = <R extends { calendar?: unknown }>(rules: R): R => {
    const { calendar: _calendar, ...rest } = rules;
    return rest as R;
  };
  return {
    ...policy,
    ...(policy.default ? { default: strip(policy.default) } : {}),
    pipelines: policy.pipelines.map(strip),
  };
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
  link(file) {
    try {
      return readlinkSync(file);
    } catch {
      return undefined;
    }
  },
};

/**
 * What two pipelines of the policy (the default among them) share: a folder (the same, or one inside the other)
 * or a command (the same program and scripts, or one's prefix the start of the other's). The release name is the
 * plan author's word and picks the pipeline: whatever a loose pipeline shares with a strict one, a plan claiming
 * the loose one's release reaches under the loose rules. So each pipeline's folders and commands are its own.
 * (The environments' task queues are the workers', one set for every pipeline.)
 */
export function sharedBetweenPipelines(policy: Policy, policyDir: string, resolver: PathResolver): PlanProblem[] {
  const sets = [
    ...(policy.default ? [{ at: 'default', rules: policy.default }] : []),
    ...policy.pipelines.map((rules, i) => ({ at: `pipelines[${i}]`, rules })),
  ];
  const folderOf = (folder: string) => resolver.real(folder, policyDir) ?? path.resolve(policyDir, folder);
  const inside = (a: string, b: string) =>
    a === b || a.startsWith(`${b}${path.sep}`) || b.startsWith(`${a}${path.sep}`);
  // A prefix as the policy check compares it: the program by its real file, a path element by its real path.
  const commandOf = (prefix: readonly string[]) =>
    prefix.map((element, i) =>
      i === 0
        ? (resolver.command(element, policyDir) ?? element)
        : element.includes('/')
          ? (resolver.real(element, policyDir) ?? path.resolve(policyDir, element))
          : element,
    );
  const startsWith = (a: readonly string[], b: readonly string[]) => b.every((element, i) => a[i] === element);
  const problems: PlanProblem[] = [];
  sets.forEach((later, j) => {
    for (const earlier of sets.slice(0, j)) {
      later.rules.folders.forEach((folder, k) => {
        const mine = folderOf(folder);
        const theirs = earlier.rules.folders.find((other) => inside(mine, folderOf(other)));
        if (theirs !== undefined) {
          problems.push({
            path: `${later.at}.folders[${k}]`,
            message: `${folder} overlaps ${earlier.at}'s folder ${theirs}: each pipeline's folders must be its own (a plan claiming one pipeline's release would reach the other's)`,
          });
        }
      });
      for (const [environment, prefixes] of Object.entries(later.rules.commands)) {
        (prefixes ?? []).forEach((prefix, k) => {
          const mine = commandOf(prefix);
          const theirs = Object.values(earlier.rules.commands)
            .flatMap((list) => list ?? [])
            .find((other) => {
              const resolved = commandOf(other);
              return startsWith(mine, resolved) || startsWith(resolved, mine);
            });
          if (theirs !== undefined) {
            problems.push({
              path: `${later.at}.commands.${environment}[${k}]`,
              message: `${JSON.stringify(prefix)} is also ${earlier.at}'s command ${JSON.stringify(theirs)}: each pipeline's commands must be its own`,
            });
          }
        });
      }
    }
  });
  return problems;
}

function executable(file: string): string | undefined {
  try {
    accessSync(file, constants.X_OK);
    return realpathSync(file);
  } catch {
    return undefined;
  }
}
