import { defineConfig } from 'vitest/config';

// Tests that start real worker threads load the compiled workers from dist/, so `npm test` builds first.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Threaded tests measure contention on a 2-core host: run test files one at a time so they don't
    // compete with each other for cores.
    fileParallelism: false,
  },
});
