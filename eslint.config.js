// @ts-check
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const REDIS_ONLY_HERE = {
  regex: '(^|/)stores/redis(/|$)',
  message:
    'Only lib/stores/, lib/cli/ and lib/index.ts import lib/stores/redis/: use the LockStore interface or stores/store-factory.ts (docs/architecture.md).',
};
const POSTGRES_ONLY_HERE = {
  regex: '(^|/)stores/postgres(/|$)',
  message:
    'Only lib/stores/, lib/cli/ and lib/postgres/ import lib/stores/postgres/ (pg is an optional peer; docs/architecture.md).',
};

export default defineConfig(
  {
    // test/consumers/: generated apps, linted by their own starters' settings.
    ignores: ['dist/', 'node_modules/', 'coverage/', '.tmp/', 'test/consumers/*/'],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
        },
      ],
    },
  },
  {
    // The core knows no backend: only the stores, the CLI and the entries reach into a store's folder.
    files: ['lib/**/*.ts'],
    ignores: ['lib/stores/**', 'lib/cli/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [REDIS_ONLY_HERE, POSTGRES_ONLY_HERE] }],
    },
  },
  {
    files: ['lib/index.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [POSTGRES_ONLY_HERE] }] },
  },
  {
    files: ['lib/postgres/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [REDIS_ONLY_HERE] }] },
  },
  {
    // A promise nobody handles ends the process when it rejects (Node's default): every promise in
    // the package is awaited, returned, or given its handler. Type-aware, so for lib/ only.
    files: ['lib/**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    // A file that outgrows this holds more than one idea: split it along the layers (docs/architecture.md).
    files: ['lib/**/*.ts'],
    rules: { 'max-lines': ['error', { max: 350 }] },
  },
);
