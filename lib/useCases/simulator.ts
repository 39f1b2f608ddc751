import { apiError } from '../core/errors';
import type { DeviceLockScreen, UnlockResult } from '../ports';
import type { Caller } from '../security/caller';
import { bestEffort, type Services } from './services';

/**
 * Tries a passcode on a simulated device, as its lock screen would (lockout included), and audits the attempt
 * (`unlockAttempted`, with its outcome, never the passcode tried). Answers 403 wrongPasscode or 429 tooManyAttempts.
 */
export async function unlockSimulatedDevice(
  services: Services,
  simulator: DeviceLockScreen,
  caller: Caller,
  deviceId: string,
  passcode: string,
): Promise<void> {
  const result = await simulator.unlock(deviceId, passcode);
  await bestEffort(services, 'auditing an unlock attempt', () =>
    services.audit.record({
      id: services.randomHex(12),
      eventDateTime: services.clock.now().toISOString(),
      eventType: 'unlockAttempted',
      callerId: caller.id,
      callerName: caller.name,
      deviceId,
      outcome: result.outcome === 'unlocked' ? 'success' : 'failure',
      detail: detailOf(result),
    }),
  );
  if (result.outcome === 'wrongPasscode') {
    throw apiError('wrongPasscode');
  }
  if (result.outcome === 'locked') {
    throw apiError('tooManyAttempts', {}, { headers: { 'Retry-After': String(result.retryAfterSeconds) } });
  }
}

const detailOf = (result: UnlockResult) => (result.outcome === 'locked' ? 'tooManyAttempts' : result.outcome);
