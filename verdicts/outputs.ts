/**
 * An output diff's limits, from its counts: too many differing rows, too many missing on a side. Pure: the
 * keyed diff judges with it, and `cutover what-if` re-judges recorded counts under new limits.
 */
import type { ColumnDiff, OutputDiff } from '../shapes/evidence';

export interface OutputLimits {
  maxDifferingRows: number;
  maxMissingRows: number;
}

/** The limit failures of a diff's counts; `examples` appends a few keys of the rows in question. */
export function outputLimitFailures(
  diff: Pick<OutputDiff, 'rows' | 'columns'>,
  limits: OutputLimits,
  examples: (presence: 'both' | 'missing') => string = () => '',
): string[] {
  const failures: string[] = [];
  const { rows } = diff;
  if (rows.differing > limits.maxDifferingRows) {
    const worst = [...diff.columns]
      .filter((c: ColumnDiff) => c.differing + c.nullOneSide > 0)
      .sort((a, b) => b.differing + b.nullOneSide - (a.differing + a.nullOneSide))
      .slice(0, 3)
      .map((c) => `${c.column} ${c.differing + c.nullOneSide}`);
    failures.push(
      `${rows.differing} differing row(s), limit ${limits.maxDifferingRows} (by column: ${worst.join(', ')})${examples('both')}`,
    );
  }
  if (Math.max(rows.onlyV1, rows.onlyV2) > limits.maxMissingRows) {
    failures.push(
      `rows missing: ${rows.onlyV1} only in V1, ${rows.onlyV2} only in V2, limit ${limits.maxMissingRows} per side${examples('missing')}`,
    );
  }
  return failures;
}
