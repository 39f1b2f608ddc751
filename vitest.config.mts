import { defineConfig } from 'vitest/config';

// Tiers (STYLE.md): unit tests are pure and fast; the others share one Azurite started by the global setup.
export default defineConfig({
  test: {
    maxWorkers: 4,
    projects: [
      // Pure and fast alone; the timeout leaves room for a machine busy with the other tiers' hosts and Azurites.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000 } },
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
      {
        // The admin console in Debian's Chromium, driven by playwright-core (docs/console.md). Each file runs its own
        // Azurite and host; one file at a time, and after the other tiers (groupOrder), because a browser, a host and
        // Azurite fill the 2 cores and would skew the timing-sensitive e2e tests running beside them.
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          // Finds Chromium, or installs Debian's package on a fresh machine (test/browser/chromium.ts).
          globalSetup: ['test/browser/globalSetup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
