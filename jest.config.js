/**
 * The test tiers, one jest project each (`npm run test:<tier>`; `npm test` runs them all, then the chaos suite,
 * and prints each tier's time: scripts/test-tiers.ts):
 *
 * - fast: plan, policy, verdicts, gate, formats, message checks: no server, no process, no browser.
 * - workflows: the workflows on the real time-skipping server, and the replay of recorded histories.
 * - integration: real processes (the action runner, DuckDB diffs, the codec server, the pipelines) and the
 *   dev server with the real CLI and workers.
 * - simulations: the stress judge's promises over 1,000 seeded phases each (CPU-bound, about 3 minutes).
 * - ui: the approval app and the Temporal UI in Debian's chromium.
 */
const base = require('./test/jest-base.js');

/** The project of one tier: the test files under test/<tier>/ (the chaos suite has a config of its own). */
const tier = (displayName) => ({
  ...base,
  displayName,
  testMatch: [`<rootDir>/test/${displayName}/**/*.test.ts`],
});

/** The tiers in the order `npm test` runs them: the quickest answer first. */
const TIERS = ['fast', 'workflows', 'integration', 'simulations', 'ui'];

/** @type {import('jest').Config} */
module.exports = {
  projects: TIERS.map(tier),
  // A global option: jest ignores it inside a project.
  testTimeout: base.testTimeout,
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
};
