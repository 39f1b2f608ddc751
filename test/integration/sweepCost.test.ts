import { describe, expect, it } from 'vitest';
import { startAzurite } from '../../tools/azurite';
import { measureSweepCost } from '../../tools/bench/sweepCost';

async function measure(history: number) {
  const azurite = await startAzurite();
  try {
    return await measureSweepCost(azurite.connectionString, history);
  } finally {
    await azurite.stop();
  }
}

// docs/DESIGN.md invariant 8: background work costs what is in flight or due, not what is in history.
describe("the sweeper's cost", () => {
  it('does not grow with history: the same storage requests over 100 and 2,000 finished actions', async () => {
    const short = await measure(100);
    const long = await measure(2_000);
    expect(short.requests).toBeGreaterThan(0);
    expect(long.calls).toEqual(short.calls);
  });
});
