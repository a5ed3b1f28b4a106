/**
 * The project's import graph, type imports included (`import type`, `export … from`), from TypeScript's own
 * pre-processor: eslint's import-x/no-cycle never counts type imports, and a cycle of types is still two
 * modules that cannot be read, or moved, one without the other. Dynamic `import()` and `require()` count too
 * (the pre-processor reports them). Used by the unit test that holds the house's floors.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** The product's folders: what ships (bench and examples aside), held to the rules of the house. */
export const PRODUCT: readonly string[] = [
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

/** The TypeScript sources under `folders` of `root` (no declaration files). */
export function sourceFiles(root: string, folders: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else if (/\.(ts|mts|cts)$/.test(name) && !name.endsWith('.d.ts')) out.push(file);
    }
  };
  for (const folder of folders) walk(path.join(root, folder));
  return out.sort();
}

/** Each file's relative imports (type imports and re-exports included), resolved to files of `files`. */
export function importGraph(files: readonly string[]): Map<string, string[]> {
  const known = new Set(files);
  const resolve = (from: string, spec: string): string | undefined => {
    const base = path.resolve(path.dirname(from), spec.replace(/\.js$/, ''));
    return [`${base}.ts`, `${base}.cts`, path.join(base, 'index.ts')].find((candidate) => known.has(candidate));
  };
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((ref) => ref.fileName)
      .filter((spec) => spec.startsWith('.'))
      .flatMap((spec) => resolve(file, spec) ?? []);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The graph's cycles: its strongly connected components of more than one file (Tarjan), each sorted. */
export function importCycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (file: string) => {
    indexOf.set(file, index);
    low.set(file, index);
    index++;
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file) ?? []) {
      if (!indexOf.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file) as number, indexOf.get(next) as number));
      }
    }
    if (low.get(file) === indexOf.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== file);
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const file of graph.keys()) if (!indexOf.has(file)) visit(file);
  return cycles;
}

/** One import from a file of one top-level folder into another folder. */
export interface FolderEdge {
  from: string;
  to: string;
  /** The first importing file found, relative to the root: where to look. */
  file: string;
}

/** The imports across top-level folders of `root`, one edge per pair of folders. */
export function folderEdges(root: string, graph: Map<string, string[]>): FolderEdge[] {
  const folderOf = (file: string) => path.relative(root, file).split(path.sep)[0] as string;
  const edges = new Map<string, FolderEdge>();
  for (const [file, targets] of graph) {
    for (const target of targets) {
      const from = folderOf(file);
      const to = folderOf(target);
      if (from !== to && !edges.has(`${from}>${to}`))
        edges.set(`${from}>${to}`, { from, to, file: path.relative(root, file) });
    }
  }
  return [...edges.values()];
}

/** The folders that import each other, directly or round a longer loop: each cycle's folders, sorted. */
export function folderCycles(edges: readonly FolderEdge[]): string[][] {
  const graph = new Map<string, string[]>();
  for (const { from, to } of edges) {
    graph.set(from, [...(graph.get(from) ?? []), to]);
    if (!graph.has(to)) graph.set(to, []);
  }
  return importCycles(graph);
}
