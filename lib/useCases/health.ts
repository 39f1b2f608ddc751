import type { Services } from './services';

export interface HealthReport {
  status: 'healthy' | 'unhealthy';
  checks: { storage: 'ok' | 'unreachable' };
}

export interface HealthCheckOptions {
  /** How long the storage probe may take before storage counts as unreachable. */
  timeoutMs?: number;
  /** How long a result is reused: the check is anonymous, so it must not cost a storage read per call. */
  cacheMs?: number;
}

/**
 * Liveness plus storage reachability: one cheap read (a device that need not exist), bounded in time, and its result
 * reused for a few seconds whoever asks.
 */
export function createHealthCheck(services: Pick<Services, 'devices' | 'clock'>, options: HealthCheckOptions = {}) {
  const timeoutMs = options.timeoutMs ?? 2_500;
  const cacheMs = options.cacheMs ?? 5_000;
  let cached: { at: number; report: Promise<HealthReport> } | undefined;
  return (): Promise<HealthReport> => {
    const now = services.clock.now().getTime();
    if (!cached || now - cached.at >= cacheMs) cached = { at: now, report: probe(services, timeoutMs) };
    return cached.report;
  };
}

async function probe(services: Pick<Services, 'devices'>, timeoutMs: number): Promise<HealthReport> {
  let timer: NodeJS.Timeout | undefined;
  const reachable = services.devices.get('health-probe').then(
    () => true,
    () => false,
  );
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(resolve, timeoutMs, false);
  });
  const ok = await Promise.race([reachable, timeout]).finally(() => clearTimeout(timer));
  return { status: ok ? 'healthy' : 'unhealthy', checks: { storage: ok ? 'ok' : 'unreachable' } };
}
