import { defineConfig } from 'vitest/config'

// chDB holds one engine and one data directory per process, so every test file runs in
// its own forked worker, at most two at a time (two cores).
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
    include: ['collector/**/*.test.ts', 'analytics/**/*.test.ts', 'population/**/*.test.ts', 'sdk/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
