/**
 * Placeholder expansion in action arguments, environment values, URLs and bodies. Pure.
 *
 * Known placeholders: `{dataset}`, `{release}`, `{workdir}`, `{rows}`, `{seed}`, and `{output:NAME}` (the
 * path where the baseline or candidate writes its output table NAME); in notification targets also
 * `{event}`, `{state}`, `{text}`, `{link}` and `{workflowId}`. An unknown `{name}` is left as it is,
 * so JSON bodies and shell-like text pass through untouched.
 */
export type Placeholders = Partial<Record<PlaceholderName, string | number>> & {
  /** Paths of output tables by name, for `{output:NAME}`. */
  outputs?: Readonly<Record<string, string>>;
};

/** Names the plan may use; anything else in braces is literal text. */
export const PLACEHOLDER_NAMES = [
  'dataset',
  'release',
  'workdir',
  'rows',
  'seed',
  'event',
  'state',
  'text',
  'link',
  'workflowId',
] as const;
export type PlaceholderName = (typeof PLACEHOLDER_NAMES)[number];

const PATTERN = new RegExp(`\\{(${PLACEHOLDER_NAMES.join('|')})\\}|\\{output:([A-Za-z][A-Za-z0-9_-]{0,63})\\}`, 'g');

/** Replaces every known `{name}` and `{output:NAME}` that has a value; leaves the rest. */
export function expand(text: string, values: Placeholders): string {
  return text.replace(PATTERN, (whole, name: keyof Placeholders | undefined, output: string | undefined) => {
    const value =
      output !== undefined ? values.outputs?.[output] : values[name as Exclude<keyof Placeholders, 'outputs'>];
    return value === undefined ? whole : String(value);
  });
}

/** The output names `{output:NAME}` placeholders in `texts` refer to, in order of first use. */
export function outputsNamed(texts: readonly string[]): string[] {
  const names = new Set<string>();
  for (const text of texts) {
    for (const match of text.matchAll(/\{output:([^}]*)\}/g)) names.add(match[1] as string);
  }
  return [...names];
}
