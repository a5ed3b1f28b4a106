/** `npm run test:chaos`: crashes, restarts, faults and hostile input, with one summary table at the end. */
const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/chaos/**/*.chaos.ts'],
  testTimeout: 600000,
  globalSetup: '<rootDir>/test/chaos/report-setup.js',
  globalTeardown: '<rootDir>/test/chaos/report-teardown.js',
};
