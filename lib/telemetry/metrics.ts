import type { Meter } from '@opentelemetry/api';

/**
 * The numbers an on-call engineer reads (docs/operations.md names each one and the Kusto query that reads it). One
 * place defines every instrument; the app calls these methods, and tests read them through an in-memory reader.
 */
export interface AppMetrics {
  /** A reset request created a new action (202; a repeated request with the same Idempotency-Key is not counted). */
  resetAccepted(): void;
  /** A reset request was refused; `code` is the API error code (docs/API.md). */
  resetRefused(code: string): void;
  /** An action reached a terminal state; `seconds` from accepted to that moment. */
  resetFinished(state: string, errorCode: string | undefined, seconds: number): void;
  /** One device channel call (send, check, cancel) and how long it took. */
  deviceChannelCall(channel: string, operation: string, outcome: string, seconds: number): void;
  /** A command started (+1) or stopped (-1) waiting for its device. */
  commandsWaitingChanged(delta: 1 | -1, channel: string): void;
  /** A message reached a poison queue's handler. */
  poisonMessage(queue: string): void;
  /** One notification POST to a subscriber. */
  notificationDelivery(outcome: string): void;
  /** A simulated device locked its screen after too many wrong passcodes. */
  simulatorLockout(): void;
}

/** The instruments' names, as Application Insights shows them in customMetrics (docs/operations.md). */
export const METRIC_NAMES = {
  accepted: 'reset_passcode.accepted',
  refused: 'reset_passcode.refused',
  finished: 'reset_passcode.finished',
  duration: 'reset_passcode.duration',
  channelCalls: 'device_channel.calls',
  channelDuration: 'device_channel.duration',
  commandsWaiting: 'device_channel.commands_waiting',
  poison: 'queue.poison_messages',
  notifications: 'notification.deliveries',
  lockouts: 'simulator.lockouts',
} as const;

export const noMetrics: AppMetrics = {
  resetAccepted: () => undefined,
  resetRefused: () => undefined,
  resetFinished: () => undefined,
  deviceChannelCall: () => undefined,
  commandsWaitingChanged: () => undefined,
  poisonMessage: () => undefined,
  notificationDelivery: () => undefined,
  simulatorLockout: () => undefined,
};

/** Every instrument of the app, created on `meter`. */
export function createAppMetrics(meter: Meter): AppMetrics {
  const n = METRIC_NAMES;
  const accepted = meter.createCounter(n.accepted, { description: 'Reset requests that created an action' });
  const refused = meter.createCounter(n.refused, { description: 'Reset requests refused, by error code' });
  const finished = meter.createCounter(n.finished, { description: 'Actions finished, by state and error code' });
  const duration = meter.createHistogram(n.duration, {
    description: 'Time from accepted to finished',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400] },
  });
  const channelCalls = meter.createCounter(n.channelCalls, { description: 'Device channel calls' });
  const channelDuration = meter.createHistogram(n.channelDuration, {
    description: 'Device channel call latency',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20] },
  });
  const waiting = meter.createUpDownCounter(n.commandsWaiting, {
    description: 'Passcode commands the channel took that wait for their device',
  });
  const poison = meter.createCounter(n.poison, { description: 'Messages handled from a poison queue' });
  const notifications = meter.createCounter(n.notifications, { description: 'Notification POSTs, by outcome' });
  const lockouts = meter.createCounter(n.lockouts, { description: 'Simulated devices locked by wrong passcodes' });
  return {
    resetAccepted: () => accepted.add(1),
    resetRefused: (code) => refused.add(1, { 'error.code': code }),
    resetFinished: (state, errorCode, seconds) => {
      const attributes = { 'action.state': state, 'error.code': errorCode ?? 'none' };
      finished.add(1, attributes);
      duration.record(Math.max(0, seconds), attributes);
    },
    deviceChannelCall: (channel, operation, outcome, seconds) => {
      const attributes = { 'device_channel.name': channel, 'device_channel.operation': operation, outcome };
      channelCalls.add(1, attributes);
      channelDuration.record(seconds, attributes);
    },
    commandsWaitingChanged: (delta, channel) => waiting.add(delta, { 'device_channel.name': channel }),
    poisonMessage: (queue) => poison.add(1, { 'messaging.destination.name': queue }),
    notificationDelivery: (outcome) => notifications.add(1, { outcome }),
    simulatorLockout: () => lockouts.add(1),
  };
}
