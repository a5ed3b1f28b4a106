/**
 * The prebuilt workflow bundle: the code in `workflow-bundle.js`, its source map beside it in
 * `workflow-bundle.js.map`, without the sources' text.
 *
 * Why not the SDK's inline map: it carried every bundled file's text (3.3 MB of a 5.1 MB bundle), and both the
 * worker's main thread and its workflow thread hold the bundle in memory. Stack traces need only the mappings
 * (file, line and column of each frame), so the map keeps `sources` and `mappings` and drops `sourcesContent`.
 * The SDK reads the map from the code it is given (a data: URL at the end), so the loader puts the slim map
 * back inline when the worker starts, in memory only.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const INLINE = '//# sourceMappingURL=data:application/json;base64,';
/** The SDK's (webpack's) inline map: a data: URL, with or without a charset. */
const ANY_INLINE = /\/\/# sourceMappingURL=data:application\/json;(?:charset=[\w-]+;)?base64,/g;

/** Where the last inline map starts, and where its base64 begins; undefined if there is none. */
function inlineMap(code: string): { at: number; data: number } | undefined {
  let last: RegExpExecArray | undefined;
  for (const match of code.matchAll(ANY_INLINE)) last = match;
  return last ? { at: last.index, data: last.index + last[0].length } : undefined;
}

interface SourceMap {
  version: number;
  file?: string;
  sources: string[];
  sourcesContent?: (string | null)[];
  mappings: string;
  [key: string]: unknown;
}

/** Splits the SDK's bundle (code, then its inline source map) into the code and a map without sources' text. */
export function splitBundle(bundled: string, fileName: string): { code: string; map: string } {
  const found = inlineMap(bundled);
  if (!found) throw new Error('the workflow bundle has no inline source map to split off');
  const { at, data } = found;
  const map = JSON.parse(Buffer.from(bundled.slice(data).trim(), 'base64').toString('utf8')) as SourceMap;
  delete map.sourcesContent;
  return {
    code: `${bundled.slice(0, at)}//# sourceMappingURL=${path.basename(fileName)}.map\n`,
    map: JSON.stringify(map),
  };
}

/** Writes `file` and `file.map`; returns their sizes in bytes. */
export async function writeBundle(bundled: string, file: string): Promise<{ code: number; map: number }> {
  const { code, map } = splitBundle(bundled, file);
  await writeFile(file, code);
  await writeFile(`${file}.map`, map);
  return { code: Buffer.byteLength(code), map: Buffer.byteLength(map) };
}

/**
 * The bundle's code as the SDK takes it: with its map inline. A bundle that already has one (built by the SDK
 * directly) is returned as it is; one without a map file beside it gets an empty map (frames then name the
 * bundle's own lines).
 */
export async function loadBundle(file: string): Promise<string> {
  const code = await readFile(file, 'utf8');
  if (inlineMap(code)) return code;
  let map: string;
  try {
    map = await readFile(`${file}.map`, 'utf8');
  } catch {
    map = JSON.stringify({ version: 3, file: path.basename(file), sources: [], names: [], mappings: '' });
  }
  const body = code.replace(/\/\/# sourceMappingURL=\S+\s*$/, '');
  return `${body}${INLINE}${Buffer.from(map).toString('base64')}`;
}
