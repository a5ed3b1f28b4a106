/**
 * What every tier's jest project shares (jest.config.js, jest.chaos.config.js).
 *
 * openid-client and its two dependencies ship only ES modules; jest runs CommonJS, so swc turns them into
 * CommonJS too (the built app loads them with a real import(); approval/oidc.ts).
 */
const path = require('node:path');

const ESM_ONLY = ['openid-client', 'oauth4webapi', 'jose'];

/** @type {import('jest').Config} */
module.exports = {
  rootDir: path.join(__dirname, '..'),
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }],
    [`node_modules/(${ESM_ONLY.join('|')})/.+\\.js$`]: [
      '@swc/jest',
      { jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 120000,
  setupFilesAfterEnv: ['<rootDir>/test/helpers/stop-launcher.ts'],
};
