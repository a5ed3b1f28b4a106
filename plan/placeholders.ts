/**
 * Placeholder expansion in action arguments, environment values, URLs and bodies. Pure.
 *
 * Known placeholders: `{dataset}`, `{release}`, `{workdir}`, `{rows}`, `{seed}`. An unknown `{name}` is left
 * as it is, so JSON bodies and shell-like text pass through untouched.
 */
export type Placeholders = Partial<Record<'dataset' | 'release' | 'workdir' | 'rows' | 'seed', string | number>>;

/** Names the plan may use; anything else in braces is literal text. */
export const PLACEHOLDER_NAMES = ['dataset', 'release', 'workdir', 'rows', 'seed'] as const;

/** Replaces every known `{name}` that has a value; leaves the rest. */
export function expand(text: string, values: Placeholders): string {
  return text.replace(/\{(dataset|release|workdir|rows|seed)\}/g, (whole, name: keyof Placeholders) => {
    const value = values[name];
    return value === undefined ? whole : String(value);
  });
}
