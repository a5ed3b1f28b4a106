/**
 * Where a plan's actions may reach, as the policy bounds it: which commands run (by their real files), which
 * folders and URLs they name. Paths are compared through a `PathResolver` (the worker's file system in
 * policy/load.ts; a table in tests), so nothing here does I/O.
 */
import { PLACEHOLDER_NAMES } from '../plan/placeholders';
import type { PolicyRules } from './schema';

/** How the check sees paths on the worker: a command's real file, a folder's real path. */
export interface PathResolver {
  /** The real path (symlinks resolved) of a command as exec would find it: via PATH for a bare name. */
  command(name: string, cwd: string): string | undefined;
  /** The real path (symlinks resolved) of `file` relative to `cwd`, or undefined when it does not exist. */
  real(file: string, cwd: string): string | undefined;
  /** Where the symlink at the absolute `file` points (its target as written), or undefined when it is none. */
  link?(file: string): string | undefined;
}

const PLACEHOLDER = new RegExp(`\\{(${PLACEHOLDER_NAMES.join('|')}|output:[^}]*)\\}`);

/** How the policy's paths are read: against its own folder, by the file system the workers see. */
export interface PolicyPaths {
  policyDir: string;
  resolver: PathResolver;
}

/**
 * The length of the longest of `prefixes` that `argv` (run in `cwd`) starts with, or undefined when none: the
 * arguments past it are the plan's own, whose folders the policy's reach bounds. The program is compared by its
 * real file; any other prefix element that is a path (absolute after resolving against the policy's folder) by
 * the real path of the argument; the rest word for word. A placeholder where the prefix stands is never a match:
 * it could expand into another program.
 */
export function allowedPrefix(
  argv: readonly string[],
  cwd: string,
  prefixes: readonly (readonly string[])[],
  { policyDir, resolver }: PolicyPaths,
): number | undefined {
  const program = argv[0];
  if (program === undefined || PLACEHOLDER.test(program)) return undefined;
  const real = resolver.command(program, cwd);
  if (!real) return undefined;
  let longest: number | undefined;
  for (const prefix of prefixes) {
    if (prefix.length > argv.length) continue;
    const allowedProgram = resolver.command(prefix[0] as string, policyDir);
    if (allowedProgram !== real) continue;
    const matches = prefix.slice(1).every((element, i) => {
      const arg = argv[i + 1] as string;
      if (PLACEHOLDER.test(arg)) return false;
      if (!element.includes('/')) return element === arg;
      const allowed = resolver.real(element, policyDir);
      return allowed !== undefined && resolver.real(arg, cwd) === allowed;
    });
    if (matches && (longest === undefined || prefix.length > longest)) longest = prefix.length;
  }
  return longest;
}

/** Whether `folder` (real path) lies inside one of the policy's folders. */
export function insideFolders(folder: string, rules: PolicyRules, policyDir: string, resolver: PathResolver): boolean {
  return rules.folders.some((allowed) => {
    const root = resolver.real(allowed, policyDir);
    return root !== undefined && (folder === root || folder.startsWith(root.endsWith('/') ? root : `${root}/`));
  });
}

/**
 * Where one cutover's actions may reach: its own work folder, and the policy's folders, but never the workers'
 * work root outside its own folder (another cutover's folder is not "inside" the data folder for this purpose,
 * even where a policy folder contains the data folder).
 */
export interface Reach {
  /** The cutover's own work folder (`{workdir}`), as an absolute path. */
  workdir: string;
  /** The folder every cutover's work folder lies in (`<data folder>/work`), as an absolute path. */
  workRoot: string;
}

/** The arguments of `argv` past its first `from` that name files: with a `/`, or `.`/`..` (the value of `--x=V` too). */
export function pathArguments(argv: readonly string[], from = 1): string[] {
  const out: string[] = [];
  for (const arg of argv.slice(from)) {
    const value = /^--?[A-Za-z0-9][\w-]*=/.test(arg) ? arg.slice(arg.indexOf('=') + 1) : arg;
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value) || PLACEHOLDER.test(value)) continue;
    if (value.includes('/') || value === '.' || value === '..') out.push(value);
  }
  return out;
}

/**
 * The real path `file` (relative to `cwd`) names, or would name once created: the longest part that exists with
 * its symlinks resolved (a link planted in a work folder counts as where it points), then the rest.
 */
export function reachedPath(file: string, cwd: string, resolver: PathResolver, depth = 0): string {
  const absolute = joinPath(cwd, file);
  const parts = absolute.split('/').filter((part) => part !== '');
  for (let i = parts.length; i > 0; i--) {
    const prefix = `/${parts.slice(0, i).join('/')}`;
    const real = resolver.real(prefix, '/');
    if (real !== undefined) return joinPath(real, parts.slice(i).join('/'));
    // A link whose target does not exist (yet) leads where its target will be: a step could create it there.
    const target = depth < 40 ? resolver.link?.(prefix) : undefined;
    if (target !== undefined) {
      const pointed = joinPath(`/${parts.slice(0, i - 1).join('/')}`, target);
      return reachedPath(joinPath(pointed, parts.slice(i).join('/')), '/', resolver, depth + 1);
    }
  }
  return absolute;
}

/** Why `folder` (a real path) is out of a cutover's reach, or nothing when it is within. */
export function outOfReach(
  folder: string,
  reach: Reach,
  rules: PolicyRules,
  { policyDir, resolver }: PolicyPaths,
): string | undefined {
  const within = (root: string) => folder === root || folder.startsWith(root.endsWith('/') ? root : `${root}/`);
  const workdir = resolver.real(reach.workdir, '/') ?? reach.workdir;
  if (within(workdir)) return undefined;
  const workRoot = resolver.real(reach.workRoot, '/') ?? reach.workRoot;
  if (within(workRoot)) return `${folder} is another cutover's work folder (only ${workdir} is this cutover's)`;
  if (insideFolders(folder, rules, policyDir, resolver)) return undefined;
  return `${folder} is outside this cutover's work folder and the folders the policy allows`;
}

/** `file` against `base` with `.` and `..` resolved, POSIX style (no I/O: this module is pure). */
function joinPath(base: string, file: string): string {
  const parts: string[] = [];
  for (const part of (file.startsWith('/') ? file : `${base}/${file}`).split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/** Whether `url` starts with one of the URL prefixes the policy allows. */
export function allowedUrl(url: string, rules: PolicyRules): boolean {
  return rules.urls.some((prefix) => url.startsWith(prefix));
}
