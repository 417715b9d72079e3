// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.data/**', 'coverage/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Workflow code runs in a deterministic sandbox: no Node built-ins, no database driver, and
    // activities only as types (import type), never at run time.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: 'Workflow code may not use Node built-ins.' })),
            { name: 'mongodb', message: 'Workflow code may not talk to MongoDB; use an activity.' },
            { name: '@temporalio/client', message: 'Workflow code may not use the client.' },
            { name: '@temporalio/activity', message: 'Workflow code may not import activity APIs.' },
            { name: '@temporalio/worker', message: 'Workflow code may not import the worker.' },
            { name: '../activities', message: 'Import activities with "import type" only.', allowTypeImports: true },
          ],
          patterns: [
            { group: ['**/activities', '**/activities/**'], message: 'Import activities with "import type" only.', allowTypeImports: true },
            { group: ['**/db/**', '**/stack/**', '**/errors', '**/config', '**/client', '**/worker', '**/temporal'], message: 'Workflow code may import only ../src/contract from src/.' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly', __dirname: 'readonly', process: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
