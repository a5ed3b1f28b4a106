/** `npm run test:chaos`: crashes, restarts, faults and hostile input, with one summary table at the end. */
const base = require('./test/jest-base.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  displayName: 'chaos',
  testMatch: ['<rootDir>/test/chaos/**/*.chaos.ts'],
  testTimeout: 600000,
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  globalSetup: '<rootDir>/test/chaos/report-setup.js',
  globalTeardown: '<rootDir>/test/chaos/report-teardown.js',
};
