/**
 * A version of a dbt project, as a plan names it: the project's folder as it is, or a git ref (a commit, a tag, a
 * branch) of the repository the folder is in, exported into a folder of the run's own. The export is the ref's
 * tree only (`git archive`), never the working tree's changes, so two runs of one ref build the same thing.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { DbtProjectError } from './run';

function run(argv: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(err.trim() || `exit ${code}`))));
  });
}

/**
 * The folder to build for `ref` of `project`: the project itself without a ref; with one, the ref's tree of the
 * project's folder exported into `dest` (emptied first). A ref the repository does not have is named.
 */
export async function checkoutVersion(project: string, ref: string | undefined, dest: string): Promise<string> {
  if (ref === undefined) return project;
  let prefix: string;
  try {
    prefix = (await run(['git', 'rev-parse', '--show-prefix'], project)).trim();
    await run(['git', 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`], project);
  } catch (err) {
    throw new DbtProjectError(`${project}: no git ref "${ref}" there (${(err as Error).message.split('\n')[0]})`);
  }
  await rm(dest, { recursive: true, force: true });
  await mkdir(dest, { recursive: true });
  // The ref's tree of the project's own folder, its paths relative to that folder, unpacked by tar.
  await new Promise<void>((resolve, reject) => {
    const archive = spawn('git', ['archive', '--format=tar', `${ref}:${prefix}`], {
      cwd: project,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tar = spawn('tar', ['-x', '-C', dest], { stdio: ['pipe', 'ignore', 'pipe'] });
    archive.stdout.pipe(tar.stdin);
    let errors = '';
    archive.stderr.on('data', (d: Buffer) => (errors += d.toString()));
    tar.stderr.on('data', (d: Buffer) => (errors += d.toString()));
    archive.on('error', reject);
    tar.on('error', reject);
    tar.on('close', (code) =>
      code === 0 ? resolve() : reject(new DbtProjectError(`exporting ${ref} of ${project}: ${errors.trim()}`)),
    );
  });
  return path.resolve(dest);
}
