/**
 * openid-client and its two dependencies ship only ES modules; jest runs CommonJS, so swc turns them into
 * CommonJS too (the built app loads them with a real import(); approval/oidc.ts).
 */
const ESM_ONLY = ['openid-client', 'oauth4webapi', 'jose'];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }],
    [`node_modules/(${ESM_ONLY.join('|')})/.+\\.js$`]: [
      '@swc/jest',
      { jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 120000,
  setupFilesAfterEnv: ['<rootDir>/test/helpers/stop-launcher.ts'],
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
};
