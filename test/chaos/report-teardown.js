// Prints the chaos report: one row per area, what was injected or sent, and what came of it.
const { existsSync, readFileSync } = require('node:fs');
const path = require('node:path');
const Table = require('cli-table3');

module.exports = async () => {
  const file = path.join(__dirname, '..', '..', 'test-artifacts', 'chaos', 'report.jsonl');
  if (!existsSync(file)) return;
  const rows = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  const table = new Table({
    head: [
      'area',
      'faults injected',
      'cutovers finished correctly',
      'side effects duplicated',
      'inputs refused',
      'inputs wrongly accepted',
    ],
    style: { head: [] },
  });
  const cell = (v) => (v === undefined ? '–' : String(v));
  for (const r of rows) {
    table.push([
      r.area,
      cell(r.faults),
      cell(r.finishedCorrectly),
      cell(r.duplicated),
      cell(r.refused),
      cell(r.wronglyAccepted),
    ]);
  }
  process.stdout.write(`\nchaos report (${file})\n${table.toString()}\n`);
};
