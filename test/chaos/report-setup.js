// Starts an empty chaos report (test/chaos/report.ts appends to it).
const { mkdirSync, writeFileSync } = require('node:fs');
const path = require('node:path');

module.exports = async () => {
  const file = path.join(__dirname, '..', '..', 'test-artifacts', 'chaos', 'report.jsonl');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, '');
};
