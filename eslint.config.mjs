// ESLint flat config: typed rules for the whole project, the workflow sandbox rules, and the folder
// boundaries (docs/architecture.md: which folder may import which). These rules see static imports only;
// test/fast/import-cycles.test.ts holds every import, dynamic and type imports included, to the same floors.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

/** Entry points are run, never imported: what they share lives in a library folder (toolchain/, common/). */
const noScripts = { group: ['**/scripts/*'], message: 'scripts/ holds entry points; import the library they use.' };
const noWorker = { group: ['**/worker/*'], message: 'The worker process is not a library: share through common/.' };
const noClient = {
  group: ['**/client/*', '**/client/commands/*'],
  message: 'The CLI is the top floor: share through lib/ (the client library) or common/.',
};
const noApp = { group: ['**/approval/*'], message: 'The approval app is above this folder: share through lib/.' };
const noPolicy = { group: ['**/policy/*'], message: 'The policy check is above this folder.' };
const noLib = { group: ['../lib/*', '../../lib/*'], message: 'The client library is above this folder.' };

/** `no-restricted-imports` for `files`, with the given patterns (a later block replaces, not merges, the rule). */
const boundary = (files, patterns, paths = []) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { paths, patterns }] },
});

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'bench/results/**',
      '.data/**',
      'eslint.config.mjs',
      'jest.config.js',
      'test/summary-reporter.js',
      'jest.chaos.config.js',
      'test/jest-base.js',
      'test/chaos/*.js',
      'test-artifacts/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  // The few plain CommonJS files (the launcher thread loads them itself, activities/launcher-thread.cjs says why;
  // bin/cutover.cjs is there before any build).
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        Buffer: 'readonly',
        __dirname: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // Folder boundaries: no folder imports a sibling's internals the other way round.
  // The shared shapes (evidence, status, the relative verdict's, the default queue) are the bottom layer: every
  // other folder imports them, and they import nothing but each other and the plan's types.
  boundary(
    ['shapes/**/*.ts'],
    [
      {
        group: [
          '**/activities',
          '**/activities/*',
          '**/workflows/*',
          '**/verdicts/*',
          '**/client/*',
          '../lib/*',
          '**/policy/*',
          '**/approval/*',
          '**/worker/*',
          '**/scripts/*',
          '**/toolchain/*',
          '**/codec/*',
          '**/common/*',
          '**/bench/*',
          '**/examples/*',
        ],
        message: 'shapes/ is the bottom layer: it imports only shapes/ and plan/ types.',
      },
      { group: ['**/plan/*'], allowTypeImports: true, message: 'shapes/ takes the plan by type only.' },
    ],
    nodeBuiltins.map((name) => ({ name, message: 'shapes/ is pure: no Node built-ins.' })),
  ),
  // The approval app uses the client library (lib/), never the CLI; the CLI (client/) is above both.
  boundary(
    ['approval/**/*.ts'],
    [noScripts, noWorker, noClient, { group: ['**/toolchain/*'], message: 'The app uses the client library.' }],
  ),
  boundary(
    ['common/**/*.ts'],
    [noScripts, noWorker, noClient, noApp, noPolicy, noLib, { group: ['**/toolchain/*', '**/activities/*'] }],
  ),
  // plan/ is the ground floor: the plan's schema and words, which every other floor reads.
  boundary(
    ['plan/**/*.ts'],
    [
      noScripts,
      noWorker,
      noClient,
      noApp,
      noPolicy,
      noLib,
      {
        group: ['**/toolchain/*', '**/activities/*', '**/workflows/*', '**/shapes/*', '**/verdicts/*'],
        message: 'plan/ is the ground floor: it imports only plan/.',
      },
    ],
  ),
  // dbt/ reads a dbt project's artifacts and runs dbt: a library of its own, beneath the activities.
  boundary(
    ['dbt/**/*.ts'],
    [
      {
        group: ['../*', '!../dbt'],
        message: 'dbt/ imports nothing of the project: it runs dbt and reads what dbt writes.',
      },
    ],
  ),
  // The policy check reads the plan and the phases' declarations; the activities and the CLI use it.
  boundary(
    ['policy/**/*.ts'],
    [
      noScripts,
      noWorker,
      noClient,
      noApp,
      noLib,
      { group: ['**/toolchain/*', '**/activities/*', '**/workflows/*', '**/verdicts/*'] },
    ],
  ),
  boundary(
    ['activities/**/*.ts'],
    [
      noScripts,
      noWorker,
      noClient,
      noApp,
      noLib,
      { group: ['**/toolchain/*'] },
      { group: ['**/workflows/*'], message: 'Activities never import workflow code: share through shapes/.' },
    ],
  ),
  // The verdicts are pure: the activities judge with them, and the CLI's what-if judges recorded evidence with
  // them, so the two can never disagree. Evidence shapes come in as types.
  boundary(
    ['verdicts/**/*.ts'],
    [
      noScripts,
      noWorker,
      noClient,
      noApp,
      noPolicy,
      noLib,
      { group: ['**/toolchain/*', '**/workflows/*', '**/codec/*'] },
      { group: ['**/activities/*'], allowTypeImports: true, message: 'Verdicts take evidence types only.' },
    ],
    nodeBuiltins.map((name) => ({ name, message: 'Verdicts are pure: no Node built-ins.' })),
  ),
  boundary(['worker/**/*.ts'], [noScripts, noClient, noApp, noLib, { group: ['**/toolchain/*'] }]),
  // The client library: beneath the CLI and the app, above the workflows' definitions it calls.
  boundary(
    ['lib/**/*.ts'],
    [noScripts, noWorker, noClient, noApp, { group: ['**/toolchain/*'], message: 'The client library is a library.' }],
  ),
  boundary(['client/**/*.ts'], [noScripts, noWorker, { group: ['**/toolchain/*'] }]),
  boundary(
    ['codec/**/*.ts'],
    [noScripts, noWorker, noClient, noApp, noLib, noPolicy, { group: ['**/toolchain/*', '**/plan/*'] }],
  ),
  boundary(['toolchain/**/*.ts'], [noScripts, noWorker, noClient, noApp, noLib]),
  boundary(['bench/**/*.ts', 'test/**/*.ts', 'examples/**/*.ts'], [noScripts]),
  // Workflow code runs in Temporal's deterministic sandbox, which evaluates every module a workflow loads
  // once per running cutover: no Node built-ins, no Node-side values, and no zod (a megabyte of the bundle and,
  // when it was loaded, over a megabyte per cutover: bench/README.md). Plan shapes come in as types; the plan is
  // checked by the checkPlan activity. test/fast/workflow-bundle.test.ts checks the built bundle.
  boundary(
    ['workflows/**/*.ts'],
    [
      {
        group: ['**/activities', '**/activities/*'],
        allowTypeImports: true,
        message: 'Import activities by type only.',
      },
      {
        group: [
          '**/worker/*',
          '**/client/*',
          '../lib/*',
          '**/approval/*',
          '**/policy/*',
          '**/toolchain/*',
          '**/scripts/*',
          '**/codec/*',
        ],
        message: 'Workflow code must not import Node-side modules.',
      },
      { group: ['zod', 'zod/*'], message: 'No zod in workflow code: it costs every running cutover over a megabyte.' },
      {
        group: ['**/plan/schema', '**/plan/load'],
        allowTypeImports: true,
        message: 'Plan schemas and loading stay out of workflow code (zod): import their types only.',
      },
    ],
    nodeBuiltins.map((name) => ({ name, message: 'Workflow code must not import Node built-ins.' })),
  ),
);
