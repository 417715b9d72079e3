// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

/**
 * The import direction: entry points (src/api, src/cli) → client, cart service and worker →
 * workflows and activities → store (src/db) → contract (src/contract). Each layer gets one rule
 * config (a later config for the same files would replace, not add to, an earlier one).
 */
const notProduct = {
  group: ['**/stack', '**/stack/**', '**/bench/**', '**/faults/**', '**/test/**'],
  message: 'Product code may not import the launcher, the benchmark, the fault suite or tests.',
};
const restrict = (files, { paths = [], patterns = [], ignores = [] }) => ({
  files,
  ignores,
  rules: { '@typescript-eslint/no-restricted-imports': ['error', { paths, patterns: [notProduct, ...patterns] }] },
});
const sdkFreePaths = (who) => [
  ...nodeBuiltins.map((name) => ({ name, message: `${who} may not use Node built-ins.` })),
  { name: 'mongodb', message: `${who} may not talk to MongoDB; use an activity.` },
  { name: '@temporalio/client', message: `${who} may not use the client.` },
  { name: '@temporalio/activity', message: `${who} may not import activity APIs.` },
  { name: '@temporalio/worker', message: `${who} may not import the worker.` },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.data/**', 'coverage/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { project: ['./tsconfig.eslint.json'], tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      // A promise nobody awaits loses its failure: await it, return it, or mark it `void` on purpose.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    // A newcomer reads a product function in one screen and a product file in one sitting. Activity
    // factories (a set of activities sharing their dependencies) say so where they are exempt.
    files: ['src/**/*.ts', 'workflows/**/*.ts', 'activities/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 80 }], 'max-lines': ['error', { max: 400 }] },
  },
  // Everything else in the product (entry points' assembly, worker, config, logging).
  restrict(['src/**/*.ts'], { ignores: ['src/contract/**', 'src/db/**', 'src/client/**', 'src/carts.ts', 'src/api/routes/**', 'src/cli/commands/**'] }),
  // The contract: the bottom layer. Nothing of ours below it; sandbox-safe Temporal exports only.
  restrict(['src/contract/**/*.ts'], {
    paths: sdkFreePaths('The contract'),
    patterns: [{ group: ['../*', '../**'], message: 'The contract imports nothing of the project outside src/contract.' }],
  }),
  // The store: MongoDB and the contract, never the Temporal SDK.
  restrict(['src/db/**/*.ts'], {
    patterns: [
      { group: ['@temporalio/*'], message: 'The store does not reach the Temporal SDK.' },
      { group: ['**/contract/messages', '**/contract/failures'], message: 'The store takes the SDK-free contract (src/contract) only.' },
      { group: ['../*', '../*/**', '!../contract', '!../contract/*'], message: 'The store imports only the contract from the project.' },
    ],
  }),
  // Workflow code runs in a deterministic sandbox: no Node built-ins, no database driver, activities
  // only as types, and from src/ only the contract.
  restrict(['workflows/**/*.ts'], {
    paths: [...sdkFreePaths('Workflow code'), { name: '../activities', message: 'Import activities with "import type" only.', allowTypeImports: true }],
    patterns: [
      { group: ['**/activities', '**/activities/**'], message: 'Import activities with "import type" only.', allowTypeImports: true },
      { group: ['**/src/*', '!**/src/contract', '**/src/*/**', '!**/src/contract/**'], message: 'Workflow code may import only src/contract from src/.' },
    ],
  }),
  // Activities: the store, the contract and an injected Temporal client; nothing above them.
  restrict(['activities/**/*.ts'], {
    patterns: [
      {
        group: ['**/src/api/**', '**/src/cli/**', '**/src/client', '**/src/client/**', '**/src/carts', '**/src/worker'],
        message: 'Activities sit below the client, the worker and the entry points.',
      },
    ],
  }),
  // The client and the cart service: below the entry points and the worker.
  restrict(['src/client/**/*.ts', 'src/carts.ts'], {
    patterns: [
      {
        group: ['**/api/**', '**/cli/**', '**/worker', '**/activities', '**/activities/**'],
        message: 'The client and the cart service sit below the entry points and the worker.',
      },
    ],
  }),
  // Entry points: routes and commands parse, call the client or the cart service, and format.
  restrict(['src/api/routes/**/*.ts', 'src/cli/commands/**/*.ts'], {
    paths: [{ name: 'mongodb', message: 'Routes and commands go through CheckoutClient and the cart service.' }],
    patterns: [
      {
        group: ['**/db', '**/db/**', '**/activities', '**/activities/**', '**/workflows/**'],
        message: 'Routes and commands go through CheckoutClient and the cart service.',
      },
    ],
  }),
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly', __dirname: 'readonly', process: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
