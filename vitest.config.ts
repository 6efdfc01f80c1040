import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'tests/observability/**/*.test.ts', 'tests/security/**/*.test.ts', 'tests/e2e/**/*.test.ts', 'tests/console/**/*.test.ts', 'tests/faults/**/*.test.ts', 'tests/fuzz/**/*.test.ts', 'tests/soak/**/*.test.ts'],
    globalSetup: ['./tests/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests share one Kafka and one PostgreSQL: files run one after another, tests in a file too.
    fileParallelism: false,
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
})
