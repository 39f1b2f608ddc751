import { isTerminal, passcodeOnDisplay, showsPasscode } from '../core/actionLifecycle';
import type { ActionError, ActionState, Device, DeviceAction, DeviceChannelKind, DeviceCommand } from '../core/model';
import { type ResetPasscodeSupport, resetPasscodeSupport } from '../core/supportMatrix';
import { passcodeAad, type Services } from './services';

/** The device action result as docs/API.md shows it. */
export interface ActionView {
  id: string;
  deviceId: string;
  actionName: 'resetPasscode';
  actionState: ActionState;
  startDateTime: string;
  lastUpdatedDateTime: string;
  requestedBy: string;
  reason?: string;
  passcode?: string;
  passcodeExpirationDateTime?: string;
  error?: ActionError;
  /** While a transient device failure is being retried: that failure, and when the next attempt is due. */
  lastError?: ActionError;
  nextAttemptDateTime?: string;
  /** While the command waits for the device, or its outcome is being confirmed with the channel. */
  deviceCommand?: DeviceCommandView;
}

/** What the API shows of a command that finishes later (docs/API.md "Device action result"). */
interface DeviceCommandView {
  state: 'waitingForDevice' | 'confirming';
  sentDateTime: string;
  expirationDateTime?: string;
  deviceLastContactDateTime?: string;
  cancelRequestedDateTime?: string;
}

export interface DeviceView extends Device {
  resetPasscodeSupport: ResetPasscodeSupport;
  lastResetPasscode?: ActionView;
  /** The device's newest reset actions, as Graph's managedDevice carries them (never with a passcode). */
  deviceActionResults?: ActionView[];
}

/**
 * Maps a stored action to its API view. The passcode is decrypted only when the caller may read passcodes
 * and the display window is open; otherwise the field is absent (docs/API.md "Roles").
 */
export function toActionView(
  action: DeviceAction,
  options: { showPasscode: boolean; services: Pick<Services, 'cipher' | 'clock'> },
): ActionView {
  const view: ActionView = {
    id: action.id,
    deviceId: action.deviceId,
    actionName: action.actionName,
    actionState: action.actionState,
    startDateTime: action.startDateTime,
    lastUpdatedDateTime: action.lastUpdatedDateTime,
    requestedBy: action.requestedBy,
    ...(action.reason !== undefined && { reason: action.reason }),
  };
  if (options.showPasscode && action.sealedPasscode && passcodeOnDisplay(action, options.services.clock.now())) {
    view.passcode = options.services.cipher.open(action.sealedPasscode, passcodeAad(action.deviceId, action.id));
  }
  if (showsPasscode(action) && action.passcodeExpirationDateTime) {
    view.passcodeExpirationDateTime = action.passcodeExpirationDateTime;
  }
  if (action.error && isTerminal(action.actionState)) view.error = action.error;
  if (action.actionState === 'active' && action.lastError) view.lastError = action.lastError;
  if (action.actionState === 'active' && action.nextAttemptDateTime)
    view.nextAttemptDateTime = action.nextAttemptDateTime;
  if (action.actionState === 'active' && action.command) view.deviceCommand = commandView(action.command);
  return view;
}

export const toDeviceView = (
  device: Device,
  channel: DeviceChannelKind,
  lastResetPasscode?: ActionView,
): DeviceView => ({
  ...device,
  resetPasscodeSupport: resetPasscodeSupport(device, channel),
  ...(lastResetPasscode && { lastResetPasscode }),
});

const commandView = (command: DeviceCommand): DeviceCommandView => ({
  state: command.state,
  sentDateTime: command.sentDateTime,
  ...(command.expiresDateTime && { expirationDateTime: command.expiresDateTime }),
  ...(command.deviceLastSeenDateTime && { deviceLastContactDateTime: command.deviceLastSeenDateTime }),
  ...(command.cancelRequestedDateTime && { cancelRequestedDateTime: command.cancelRequestedDateTime }),
});
