import type { Services } from './services';

export interface HealthReport {
  status: 'healthy' | 'unhealthy';
  checks: { storage: 'ok' | 'unreachable' };
}

/** Liveness plus storage reachability: one cheap read (a device that need not exist), bounded in time. */
export async function checkHealth(services: Services, timeoutMs = 3000): Promise<HealthReport> {
  const probe = services.devices.get('health-probe').then(
    () => true,
    () => false,
  );
  const timeout = new Promise<boolean>((resolve) => setTimeout(resolve, timeoutMs, false).unref());
  const ok = await Promise.race([probe, timeout]);
  return { status: ok ? 'healthy' : 'unhealthy', checks: { storage: ok ? 'ok' : 'unreachable' } };
}
