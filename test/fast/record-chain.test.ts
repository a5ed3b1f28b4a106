/**
 * The record's audit trail held to the one a replay rebuilds (lib/record-replay.ts auditCheck), on chains made
 * here: a status that dropped its oldest entries, a history with entries written after the export read the status,
 * and the links a rewrite breaks.
 */
import { chainAudit, type CutoverRecord } from '../../lib/record';
import { auditCheck } from '../../lib/record-replay';
import type { AuditEntry } from '../../shapes/status';
import { chainStart } from '../../workflows/digest';

const START = chainStart('wf-1', 'run-1');
const entries: AuditEntry[] = Array.from({ length: 10 }, (_, i) => ({
  at: `2026-12-02T00:00:0${i}.000Z`,
  kind: 'note',
  message: `entry ${i}`,
}));
const replayed = chainAudit(entries, START).entries;
/** The status of these records keeps 7 entries (a cutover's keeps 500). */
const LIMIT = 7;

/** A record that kept `kept` entries after dropping `dropped`, chained as the workflow chained them. */
function recordOf(dropped: number, kept: number): CutoverRecord {
  const chain = chainAudit(entries.slice(0, dropped + kept), START);
  return {
    workflowId: 'wf-1',
    runId: 'run-1',
    audit: { dropped, entries: chain.entries.slice(dropped), head: chain.head },
  } as CutoverRecord;
}

test('a record that kept the newest entries of a chain the replay rebuilt whole holds', () => {
  expect(auditCheck(recordOf(3, 7), replayed, LIMIT)).toEqual({
    check: 'history audit',
    ok: true,
    detail: 'the 10 entries the replay wrote, chained as the record has them',
  });
});

test('entries written after the export read the status are named, not counted against the record', () => {
  expect(auditCheck(recordOf(0, 8), replayed).detail).toBe(
    'the 8 entries the replay wrote, chained as the record has them (and 2 written after the export read the status)',
  );
  expect(auditCheck(recordOf(0, 0), replayed).ok).toBe(true);
});

test('a record with more entries than the replay wrote, a changed entry or a head of its own fails, naming it', () => {
  expect(auditCheck(recordOf(3, 7), replayed.slice(0, 9), LIMIT)).toMatchObject({
    ok: false,
    detail: 'predicate.audit has 3 dropped and 7 kept entries, the replay wrote 9',
  });
  const changed = recordOf(3, 7);
  changed.audit.entries[2] = { ...changed.audit.entries[2]!, message: 'entry five, reviewed' };
  expect(auditCheck(changed, replayed, LIMIT)).toMatchObject({
    ok: false,
    detail: 'predicate.audit.entries[2] is not the entry the replay wrote there (note: entry 5)',
  });
  // Dropped miscounted: every kept entry sits one place off its own.
  const shifted = { ...recordOf(3, 7), audit: { ...recordOf(3, 7).audit, dropped: 2 } } as CutoverRecord;
  expect(auditCheck(shifted, replayed, LIMIT).detail).toMatch(/^predicate\.audit\.entries\[0\] is not/);
  const head = recordOf(3, 7);
  head.audit.head = START;
  expect(auditCheck(head, replayed, LIMIT)).toMatchObject({
    ok: false,
    detail: "predicate.audit.head is not the replayed chain's head there",
  });
});

test('entries said dropped where the status kept fewer than it keeps: the oldest entries cut from the record', () => {
  // The status drops only past its limit: a record that keeps 5 of a 7-entry status dropped nothing.
  expect(auditCheck(recordOf(5, 5), replayed, LIMIT)).toEqual({
    check: 'history audit',
    ok: false,
    detail: 'predicate.audit.dropped is 5, but the status drops entries only past 7 and the record keeps 5',
  });
});
