/**
 * The approval page's record line is exported again only when the cutover's history has grown: lineFor keeps one
 * line per cutover while its version (run and history length) holds, drops a failed export, and keeps the last few.
 */
import { lineFor } from '../../lib/record-export';

test('a line is computed once per version, again when the history grows, and a failure is not kept', async () => {
  const lines = new Map<string, { version: string; line: Promise<string> }>();
  let exports = 0;
  const line = (version: string, fail = false) =>
    lineFor(lines, { key: 'cutover-a', version, size: 10 }, async () => {
      exports++;
      if (fail) throw new Error('no worker answered');
      return `record of ${version}`;
    });
  expect(await line('run-1:40')).toBe('record of run-1:40');
  expect(await line('run-1:40')).toBe('record of run-1:40');
  expect(exports).toBe(1);
  expect(await line('run-1:52')).toBe('record of run-1:52');
  expect(exports).toBe(2);
  await expect(line('run-1:60', true)).rejects.toThrow('no worker answered');
  expect(await line('run-1:60')).toBe('record of run-1:60');
  expect(exports).toBe(4);
});

test('the oldest cutover is dropped past the size', async () => {
  const lines = new Map<string, { version: string; line: Promise<string> }>();
  for (const key of ['a', 'b', 'c']) await lineFor(lines, { key, version: 'v', size: 2 }, async () => key);
  expect([...lines.keys()]).toEqual(['b', 'c']);
});
