/**
 * The workflow bundle as the build writes it (worker/bundle.ts): the code without zod and without an inline
 * map, the source map beside it without the sources' text; loaded back with its map for the SDK, it replays
 * the recorded cutovers of every generation.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBundle, writeBundle } from '../../common/workflow-bundle';
import { createMetrics } from '../../worker/prometheus';
import { quietRuntime } from '../helpers/harness';
import { recordedHistories, replayAll } from '../helpers/histories';
import { workflowBundle } from '../helpers/temporal';

let dir: string;
let file: string;

beforeAll(async () => {
  quietRuntime();
  dir = mkdtempSync(path.join(tmpdir(), 'cutover-bundle-'));
  file = path.join(dir, 'workflow-bundle.js');
  await writeBundle((await workflowBundle()).code, file);
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface SourceMap {
  sources: string[];
  sourcesContent?: unknown;
  mappings: string;
}

test('the code names its map beside it and carries none inline; the map has the mappings, not the sources', () => {
  const code = readFileSync(file, 'utf8');
  expect(code).not.toMatch(/sourceMappingURL=data:/);
  expect(code.trimEnd()).toMatch(/\/\/# sourceMappingURL=workflow-bundle\.js\.map$/);
  const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as SourceMap;
  expect(map.sourcesContent).toBeUndefined();
  expect(map.mappings.length).toBeGreaterThan(10_000);
  expect(map.sources.some((s) => s.endsWith('workflows/cutover.ts'))).toBe(true);
});

test('zod is not in the bundle', () => {
  const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as SourceMap;
  expect(map.sources.filter((s) => /node_modules\/zod\//.test(s))).toEqual([]);
  expect(readFileSync(file, 'utf8')).not.toMatch(/node_modules\/zod\//);
});

test('loaded with its map, the bundle replays every recorded cutover', async () => {
  const code = await loadBundle(file);
  const inline = /sourceMappingURL=data:application\/json;base64,(\S+)$/.exec(code.trimEnd());
  expect((JSON.parse(Buffer.from(inline?.[1] ?? '', 'base64').toString()) as SourceMap).mappings).toBe(
    (JSON.parse(readFileSync(`${file}.map`, 'utf8')) as SourceMap).mappings,
  );
  const { replayed, failures } = await replayAll({ workflowBundle: { code }, sinks: createMetrics().sinks });
  expect(failures).toEqual([]);
  expect(replayed).toBe(recordedHistories().length);
}, 120_000);

test('a bundle without a map beside it still loads (frames then name the bundle’s lines)', async () => {
  const bare = path.join(dir, 'bare.js');
  writeFileSync(bare, readFileSync(file, 'utf8'));
  expect(await loadBundle(bare)).toMatch(/sourceMappingURL=data:application\/json;base64,\S+$/);
});
