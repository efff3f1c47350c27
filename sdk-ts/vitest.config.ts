import { defineConfig } from 'vitest/config';

/** Upper bound of one test; tests that wait wait for a named interval plus a margin, far below this. */
const TEST_TIMEOUT_MS = 60_000;
/** The global setup compiles the release server, which takes minutes on a cold 2-core machine. */
const SETUP_TIMEOUT_MS = 20 * 60_000;

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: TEST_TIMEOUT_MS,
    hookTimeout: TEST_TIMEOUT_MS,
    teardownTimeout: TEST_TIMEOUT_MS,
    pool: 'forks',
  },
});
