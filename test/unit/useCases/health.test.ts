import { describe, expect, it } from 'vitest';
import { createHealthCheck } from '../../../lib/useCases/health';
import { makeTestServices } from '../../support/services';

describe('health check', () => {
  it('reuses its result for a few seconds, so anonymous callers cannot make it read storage per call', async () => {
    const t = makeTestServices();
    let reads = 0;
    const get = t.devices.get.bind(t.devices);
    t.devices.get = async (id) => {
      reads++;
      return get(id);
    };
    const check = createHealthCheck(t.services, { cacheMs: 5000 });
    for (let i = 0; i < 10; i++) await expect(check()).resolves.toMatchObject({ status: 'healthy' });
    expect(reads).toBe(1);
    t.clock.advance({ seconds: 5 });
    await check();
    expect(reads).toBe(2);
  });

  it('says unhealthy within its timeout when storage hangs, and when it fails', async () => {
    const t = makeTestServices();
    t.devices.get = () => new Promise(() => {});
    const started = Date.now();
    await expect(createHealthCheck(t.services, { timeoutMs: 100 })()).resolves.toEqual({
      status: 'unhealthy',
      checks: { storage: 'unreachable' },
    });
    expect(Date.now() - started).toBeLessThan(1000);
    t.devices.get = async () => {
      throw new Error('down');
    };
    await expect(createHealthCheck(t.services)()).resolves.toMatchObject({ status: 'unhealthy' });
  });
});
