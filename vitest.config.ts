import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const fromRoot = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  plugins: [
    // Vitest's default transformer (esbuild/oxc) does not emit decorator metadata, which Nest's
    // constructor injection needs; swc does.
    swc.vite({
      tsconfigFile: fromRoot('./tsconfig.json'),
      module: { type: 'es6' },
      jsc: {
        target: 'es2022',
        keepClassNames: true,
        parser: { syntax: 'typescript', decorators: true },
        transform: {
          legacyDecorator: true,
          decoratorMetadata: true,
          useDefineForClassFields: true,
        },
      },
    }),
  ],
  resolve: {
    // The package root and its subpaths (`nestjs-cron-lock/testing` → lib/testing/index.ts), as
    // the published `exports` map resolves them from dist/.
    alias: [
      { find: /^nestjs-cron-lock$/, replacement: fromRoot('./lib/index.ts') },
      { find: /^nestjs-cron-lock\/([a-z-]+)$/, replacement: fromRoot('./lib/') + '$1/index.ts' },
    ],
  },
  test: {
    include: ['test/**/*.spec.ts', 'test/**/*.e2e-spec.ts'],
    // test/consumers/: apps with their own test runners (test/consumers/run.mjs runs them).
    exclude: ['**/node_modules/**', 'dist/**', 'test/consumers/**'],
    environment: 'node',
    pool: 'forks',
    // Two files at a time even on two cores (Vitest's default is one less than the cores): most
    // of the suite waits on real schedules, servers and child processes rather than computing.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    globalSetup: ['./test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
