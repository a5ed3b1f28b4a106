/**
 * One row of the chaos report per area; test/chaos/report-teardown.js prints them as one table.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';

export interface ReportRow {
  area: string;
  /** Faults injected (kills, restarts, failing actions…), or attempts made. */
  faults?: number | string;
  finishedCorrectly?: string;
  duplicated?: number;
  refused?: string;
  wronglyAccepted?: number;
}

export function report(row: ReportRow): void {
  appendFileSync(
    path.join(__dirname, '..', '..', 'test-artifacts', 'chaos', 'report.jsonl'),
    JSON.stringify(row) + '\n',
  );
}
