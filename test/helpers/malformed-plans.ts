/**
 * Structurally malformed plans made from a good one: an object where a scalar belongs at every leaf, an unknown
 * key in every object, each required section missing. The chaos suite sends them through `cutover start`; the
 * plan's JSON Schema must refuse them too.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Segment = string | number;

export interface Malformed {
  name: string;
  value: Json;
  /** The plan path the refusal must name. */
  names: string;
}

export const pathText = (p: Segment[]) =>
  p.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');

export function leaves(value: Json, at: Segment[] = []): Segment[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, [...at, i]));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => leaves(v, [...at, k]));
  return [at];
}

export function objects(value: Json, at: Segment[] = []): Segment[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => objects(v, [...at, i]));
  if (value && typeof value === 'object') {
    return [at, ...Object.entries(value).flatMap(([k, v]) => objects(v, [...at, k]))];
  }
  return [];
}

export function setAt(root: Json, at: Segment[], update: (old: Json) => Json | undefined): Json {
  const copy = structuredClone(root);
  if (at.length === 0) return update(copy) ?? null;
  let parent = copy as Record<string | number, Json>;
  for (const s of at.slice(0, -1)) parent = parent[s] as Record<string | number, Json>;
  const last = at.at(-1)!;
  const next = update(parent[last]!);
  if (next === undefined) delete parent[last];
  else parent[last] = next;
  return copy;
}

export const REQUIRED_SECTIONS = [
  'release',
  'baseline',
  'candidate',
  'staging',
  'shadow',
  'stress',
  'rollback',
  'signoff',
  'production',
] as const;

/** Wrong types at every leaf, unknown keys in every object, each required section missing. */
export function structuralMalformations(base: Json): Malformed[] {
  const out: Malformed[] = [];
  // An object where a scalar belongs, at every leaf.
  for (const at of leaves(base))
    out.push({ name: `object at ${pathText(at)}`, value: setAt(base, at, () => ({ oops: [1] })), names: pathText(at) });
  // An unknown key in every object (plans are strict; records hold objects or lists, never a bare number).
  for (const at of objects(base)) {
    out.push({
      name: `unknown key in ${pathText(at) || 'the plan'}`,
      value: setAt(base, at, (o) => ({ ...(o as object), surprise: 1 })),
      names: pathText(at) || 'surprise',
    });
  }
  // Required sections missing.
  for (const key of REQUIRED_SECTIONS)
    out.push({ name: `no ${key}`, value: setAt(base, [key], () => undefined), names: key });
  return out;
}
