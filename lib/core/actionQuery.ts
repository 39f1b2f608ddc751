import { invalidFields } from './errors';
import { type FilterTerm, notSupported, termOn } from './graphQuery';
import { ACTION_STATES, type ActionState, DeviceIdSchema } from './model';

/** What `$filter` on deviceActionResults takes (docs/API.md "Query options"). */
export const ACTION_FILTER = { eq: ['actionState', 'deviceId'], startswith: [] } as const;

/** What `$select` on deviceActionResults takes: every property of a device action result. */
export const ACTION_PROPERTIES = [
  'id',
  'deviceId',
  'actionName',
  'actionState',
  'startDateTime',
  'lastUpdatedDateTime',
  'requestedBy',
  'reason',
  'passcode',
  'passcodeExpirationDateTime',
  'error',
  'lastError',
  'nextAttemptDateTime',
  'deviceCommand',
] as const;

/**
 * The device and state a list of actions is narrowed to, from `$filter` and the older parameters (the path's deviceId,
 * `actionState=`). Two of them naming different values are refused rather than answered with an empty page.
 */
export function actionQueryOf(
  terms: FilterTerm[],
  given: { deviceId: string | undefined; actionState: ActionState | undefined },
): { deviceId?: string; actionState?: ActionState } {
  const filteredDevice = termOn(terms, 'deviceId')?.value;
  const deviceId = agree(
    'deviceId',
    filteredDevice === undefined ? undefined : deviceIdOf(filteredDevice),
    given.deviceId,
  );
  const state = termOn(terms, 'actionState')?.value;
  const actionState = agree('actionState', state === undefined ? undefined : actionStateOf(state), given.actionState);
  return { ...(deviceId && { deviceId }), ...(actionState && { actionState }) };
}

function agree<T extends string>(name: string, filtered: T | undefined, given: T | undefined): T | undefined {
  if (filtered !== undefined && given !== undefined && filtered !== given) {
    throw notSupported(`$filter names another ${name} than the request's ${name}`);
  }
  return filtered ?? given;
}

function deviceIdOf(value: string): string {
  const parsed = DeviceIdSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw invalidFields([{ code: 'invalidValue', message: 'deviceId is not a device id', target: '$filter' }]);
}

function actionStateOf(value: string): ActionState {
  const found = ACTION_STATES.find((state) => state === value);
  if (found) return found;
  throw invalidFields([
    { code: 'invalidValue', message: `actionState is one of ${ACTION_STATES.join(', ')}`, target: '$filter' },
  ]);
}
