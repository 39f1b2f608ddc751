import { describe, expect, it } from 'vitest';
import { StorageUnavailableError, TransientError } from '../../../lib/core/errors';
import { retryWhileStorageIsDown } from '../../../lib/useCases/waitForStorage';
import { RecordingLogger } from '../../support/services';

function fakeTime() {
  let now = 0;
  const pauses: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      pauses.push(ms);
      now += ms;
    },
    pauses,
  };
}

describe('retryWhileStorageIsDown', () => {
  it('runs the work again, backing off from 1 s to 15 s, until storage answers', async () => {
    const time = fakeTime();
    let calls = 0;
    const result = await retryWhileStorageIsDown(
      async () => {
        if (++calls < 7) throw new StorageUnavailableError();
        return 'done';
      },
      { budgetMs: 240_000, log: new RecordingLogger(), ...time },
    );
    expect(result).toBe('done');
    expect(time.pauses).toEqual([1000, 2000, 4000, 8000, 15000, 15000]);
  });

  it('gives up with the storage error once the budget would be exceeded', async () => {
    const time = fakeTime();
    const work = async () => {
      throw new StorageUnavailableError();
    };
    await expect(
      retryWhileStorageIsDown(work, { budgetMs: 30_000, log: new RecordingLogger(), ...time }),
    ).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(time.pauses.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(30_000);
  });

  it("does not retry other failures, a device's transient failure included", async () => {
    const time = fakeTime();
    let calls = 0;
    const work = async () => {
      calls++;
      throw new TransientError('gateway 503');
    };
    await expect(
      retryWhileStorageIsDown(work, { budgetMs: 30_000, log: new RecordingLogger(), ...time }),
    ).rejects.toBeInstanceOf(TransientError);
    expect(calls).toBe(1);
  });
});
