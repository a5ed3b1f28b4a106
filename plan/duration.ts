/**
 * Duration strings (`500ms`, `30s`, `5m`, `72h`, `7d`). Pure: used by workflows, activities and the client.
 */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Matches one duration string: a non-negative number and one unit. */
export const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Parses a duration string into milliseconds; returns NaN for anything else. */
export function toMs(duration: string): number {
  const match = DURATION_PATTERN.exec(duration.trim());
  if (!match) return Number.NaN;
  const [, amount, unit] = match;
  return Number(amount) * (UNITS[unit as string] as number);
}

/** Formats milliseconds for people: `850ms`, `12.4s`, `3m 5s`, `2h 0m`. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const totalSeconds = Math.round(ms / 1000);
  if (totalSeconds < 3600) return `${Math.floor(totalSeconds / 60)}m ${totalSeconds % 60}s`;
  const totalMinutes = Math.floor(totalSeconds / 60);
  return `${Math.floor(totalMinutes / 60)}h ${totalMinutes % 60}m`;
}
