import { describe, expect, it } from 'vitest';
import { startAzurite } from '../../tools/azurite';
import { measureFanOut } from '../../tools/bench/fanOut';

// Issue 20: the fan-out of a finished action reads who watches its device by key, so its storage requests follow the
// watchers, not every subscription stored.
describe('the fan-out of one finished action', () => {
  it('costs the same storage requests with 10 and with 5,000 subscriptions stored, 50 of them watching', async () => {
    const azurite = await startAzurite();
    try {
      const started = Date.now();
      const small = await measureFanOut(azurite.connectionString, { subscriptions: 10, watching: 50 });
      const large = await measureFanOut(azurite.connectionString, { subscriptions: 5_000, watching: 50 });
      console.info(
        `fan-out: ${small.requests} requests (10/50), ${large.requests} (5,000/50), ${Date.now() - started} ms`,
      );
      // 50 delivery messages, and a few key reads of the watch index and of the action.
      expect(small.requests).toBeGreaterThanOrEqual(50);
      expect(large.requests).toBeLessThanOrEqual(small.requests * 1.2);
    } finally {
      await azurite.stop();
    }
  }, 600_000);
});
