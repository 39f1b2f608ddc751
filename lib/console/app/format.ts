import type { ActionState, Device } from './schemas';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export const formatDateTime = (iso: string | undefined): string => {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
};

export const STATE_LABELS: Record<ActionState, string> = {
  pending: 'Pending',
  active: 'Active',
  done: 'Done',
  failed: 'Failed',
  canceled: 'Canceled',
  notSupported: 'Not supported',
};

export const PLATFORM_LABELS: Record<Device['operatingSystem'], string> = {
  iOS: 'iOS/iPadOS',
  Android: 'Android',
  AndroidForWork: 'Android for Work',
  WindowsPhone: 'Windows Phone',
  Windows: 'Windows',
  macOS: 'macOS',
};

export const EVENT_LABELS: Record<string, string> = {
  resetRequested: 'Reset requested',
  resetCanceled: 'Reset canceled',
  passcodeViewed: 'Passcode viewed',
  deviceCreated: 'Device created',
  deviceUpdated: 'Device updated',
  unlockAttempted: 'Unlock attempted (simulator)',
};

export function describePolicy(policy: Device['passcodePolicy']): string {
  if (!policy) return 'Default (6 digits)';
  const characters = policy.characters === 'alphanumeric' ? 'letters and digits' : 'digits';
  return `At least ${policy.minLength ?? 6} ${characters}${policy.complex ? ', complex' : ''}`;
}

export const isInFlight = (state: ActionState) => state === 'pending' || state === 'active';
