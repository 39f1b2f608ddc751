import { defineConfig } from 'vitest/config';

// Tiers (STYLE.md): unit tests are pure and fast; the others share one Azurite started by the global setup.
export default defineConfig({
  test: {
    maxWorkers: 4,
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/host/**/*.test.ts'],
          globalSetup: ['test/globalSetup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/globalSetup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Each file runs its own Azurite and host on free ports, and most of its time is spent waiting (outages,
          // retries, polling): files run side by side.
          fileParallelism: true,
        },
      },
    ],
  },
});
