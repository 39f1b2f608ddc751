import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isWorkflowCallbackUrl, MAX_SUBSCRIPTION_HOURS, watchedBy } from '../../../lib/core/subscription';
import { ROUTES } from '../../../lib/http/routes';
import { CreateSubscriptionBodySchema } from '../../../lib/http/schemas';

type Json = Record<string, any>;

// The Logic Apps example that waits for the completion notification with an HTTP Webhook action instead of polling:
// checked for its structure and against the API's own request schema.
// https://learn.microsoft.com/azure/connectors/connectors-native-webhook

const file = join(__dirname, '../../../examples/logic-app-reset-passcode-webhook.json');
const definition = (JSON.parse(readFileSync(file, 'utf8')) as Json).definition as Json;

/** Every action of the definition, including those nested in conditions and loops, by name. */
function actionsOf(actions: Json): [string, Json][] {
  return Object.entries(actions ?? {}).flatMap(([name, action]) => [
    [name, action as Json] as [string, Json],
    ...actionsOf((action as Json).actions),
    ...actionsOf((action as Json).else?.actions),
  ]);
}

const actions = Object.fromEntries(actionsOf(definition.actions));
const BASE = "@{parameters('resetPasscodeApiBaseUrl')}";
const MANAGED_IDENTITY = { type: 'ManagedServiceIdentity', audience: "@parameters('resetPasscodeApiAudience')" };

/** Seconds of an ISO 8601 duration such as PT1H30M. */
function seconds(duration: string): number {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(duration);
  if (!match) throw new Error(`not a duration: ${duration}`);
  const [, d = '0', h = '0', m = '0', s = '0'] = match;
  return ((Number(d) * 24 + Number(h)) * 60 + Number(m)) * 60 + Number(s);
}

/**
 * The subscribe body as Logic Apps would send it, its expressions evaluated with sample values: the callback URL
 * Logic Apps issues for an action, a device id, now + the hours of addHours(utcNow(), n), a GUID.
 */
function evaluatedSubscribeBody(body: Json, now: Date): Json {
  const callbackUrl =
    'https://prod-27.westeurope.logic.azure.com/workflows/0a1b/runs/08584/actions/Wait_for_the_reset_to_finish/run' +
    '?api-version=2016-10-01&sp=%2Fruns%2F08584%2Factions%2FWait_for_the_reset_to_finish%2Frun&sv=1.0&sig=AbC';
  const evaluate = (value: string) =>
    value
      .replace('@{listCallbackUrl()}', callbackUrl)
      .replace("@{triggerBody()?['deviceId']}", 'device-1')
      .replace("@{variables('clientState')}", '5d1e0c2a-7f3b-4e59-9c1d-2a6b8e4f0c13')
      .replace(/^@\{addHours\(utcNow\(\), (\d+)\)\}$/, (_, hours: string) =>
        new Date(now.getTime() + Number(hours) * 3_600_000).toISOString(),
      );
  return Object.fromEntries(Object.entries(body).map(([key, value]) => [key, evaluate(String(value))]));
}

describe('examples/logic-app-reset-passcode-webhook.json', () => {
  const wait = actions.Wait_for_the_reset_to_finish as Json;
  const subscribe = wait.inputs.subscribe as Json;

  it('is a Consumption workflow definition with a request trigger taking a deviceId, answered at once', () => {
    expect(definition.$schema).toBe(
      'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#',
    );
    expect(definition.triggers.manual).toMatchObject({ type: 'Request', kind: 'Http' });
    expect(definition.triggers.manual.inputs.schema.required).toEqual(['deviceId']);
    // The only Response runs first: the caller never waits for the reset (inbound requests get 120 s).
    const responses = Object.entries(actions).filter(([, action]) => action.type === 'Response');
    expect(responses.map(([name]) => name)).toEqual(['Accept_the_request']);
    expect(actions.Accept_the_request).toMatchObject({ runAfter: {}, inputs: { statusCode: 202 } });
  });

  it('subscribes with an HTTP Webhook action: POST subscriptions with its callback URL as notificationUrl', () => {
    expect(wait.type).toBe('HttpWebhook');
    expect(subscribe.method).toBe(ROUTES.createSubscription.method);
    expect(subscribe.uri).toBe(`${BASE}/${ROUTES.createSubscription.route}`);
    expect(subscribe.authentication).toEqual(MANAGED_IDENTITY);
    expect(subscribe.body.notificationUrl).toBe('@{listCallbackUrl()}');
    expect(subscribe.body.clientState).toBe("@{variables('clientState')}");
    expect(actions.Initialize_client_state?.inputs.variables).toEqual([
      { name: 'clientState', type: 'string', value: '@{guid()}' },
    ]);
  });

  it('sends a body the API accepts: one device watched, a workflow callback URL, an expiry within 72 hours', () => {
    const now = new Date();
    const parsed = CreateSubscriptionBodySchema.safeParse(evaluatedSubscribeBody(subscribe.body, now));
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    if (!parsed.success) return;
    expect(watchedBy(parsed.data.resource)).toEqual({ scope: 'device', deviceId: 'device-1' });
    // Logic Apps cannot answer the validation handshake; its signed callback URL is exempt from it.
    expect(isWorkflowCallbackUrl(parsed.data.notificationUrl)).toBe(true);
    const expiry = new Date(parsed.data.expirationDateTime ?? 0).getTime() - now.getTime();
    expect(expiry).toBeLessThanOrEqual(MAX_SUBSCRIPTION_HOURS * 3_600_000);
    // It outlives the wait, so a notification at the very end still finds it.
    expect(expiry).toBeGreaterThanOrEqual(seconds(wait.limit.timeout) * 1000);
  });

  it('the API schema check can fail: an unknown property is refused, and a resource naming no device is not watched', () => {
    const now = new Date();
    const body = evaluatedSubscribeBody({ ...subscribe.body, lifecycleNotificationUrl: 'x' }, now);
    expect(CreateSubscriptionBodySchema.safeParse(body).success).toBe(false);
    const noResource = evaluatedSubscribeBody({ ...subscribe.body, resource: 'deviceManagement/managedDevices' }, now);
    expect(watchedBy(String(noResource.resource))).toBeUndefined();
  });

  it('waits at least as long as a reset may take (the device retry window is 60 minutes by default)', () => {
    expect(seconds(wait.limit.timeout)).toBeGreaterThanOrEqual(60 * 60);
  });

  it('requests the reset only once its subscription exists, and without polling', () => {
    const find = actions.Find_the_subscription as Json;
    expect(find.type).toBe('Until');
    expect(find.runAfter).toEqual(wait.runAfter);
    const list = actions.List_subscriptions as Json;
    expect(list.inputs).toMatchObject({
      method: ROUTES.listSubscriptions.method,
      uri: `${BASE}/${ROUTES.listSubscriptions.route}`,
      authentication: MANAGED_IDENTITY,
    });
    // The callback URL of an action names its run: that is how the loop recognises this run's subscription.
    expect(actions.Subscription_of_this_run?.inputs.where).toContain("workflow()?['run']?['name']");
    expect(find.expression).toContain("body('Subscription_of_this_run')");

    const reset = actions.Reset_passcode as Json;
    expect(reset.runAfter).toEqual({ Find_the_subscription: ['Succeeded'] });
    expect(reset.inputs.method).toBe(ROUTES.resetPasscode.method);
    expect(reset.inputs.uri).toBe(
      `${BASE}/${ROUTES.resetPasscode.route.replace('{deviceId}', "@{encodeUriComponent(triggerBody()?['deviceId'])}")}`,
    );
    expect(reset.operationOptions).toBe('DisableAsyncPattern');
    expect(reset.inputs.headers['Idempotency-Key']).toContain("workflow()?['run']?['name']");
  });

  it('checks the notification: this run clientState, this action, done; never reads a passcode', () => {
    const check = actions.Check_the_notification as Json;
    expect(check.runAfter).toEqual({ Wait_for_the_reset_to_finish: ['Succeeded'], Reset_passcode: ['Succeeded'] });
    const conditions = JSON.stringify(check.expression);
    expect(conditions).toContain("?['clientState']");
    expect(conditions).toContain("@variables('clientState')");
    expect(conditions).toContain("?['resourceData']?['actionState']");
    expect(conditions).toContain("@body('Reset_passcode')?['id']");
    expect(check.else.actions.Reset_not_done.type).toBe('Terminate');
    expect(JSON.stringify(definition)).not.toMatch(/\['passcode'\]/);
  });

  it('unsubscribes with DELETE on the subscription however the wait ends, and after a refused reset', () => {
    const deleteUri = `${BASE}/${ROUTES.deleteSubscription.route.replace('{subscriptionId}', "@{first(body('Subscription_of_this_run'))?['id']}")}`;
    for (const name of ['Unsubscribe', 'Unsubscribe_after_a_refusal']) {
      expect(actions[name]?.inputs).toEqual({
        method: ROUTES.deleteSubscription.method,
        uri: deleteUri,
        authentication: MANAGED_IDENTITY,
      });
    }
    expect(actions.Unsubscribe?.runAfter.Wait_for_the_reset_to_finish).toEqual(
      expect.arrayContaining(['Succeeded', 'Failed', 'TimedOut']),
    );
    expect(actions.Unsubscribe_after_a_refusal?.runAfter).toEqual({ Reset_passcode: ['Failed', 'TimedOut'] });
    expect(actions.Reset_refused?.type).toBe('Terminate');
  });

  it('reads the final state from the status monitor when no notification came in time', () => {
    const fallback = actions.Read_the_outcome_without_a_notification as Json;
    expect(fallback.runAfter).toEqual({ Wait_for_the_reset_to_finish: ['TimedOut'], Reset_passcode: ['Succeeded'] });
    expect(fallback.inputs.uri).toBe("@{outputs('Reset_passcode')?['headers']?['Location']}");
  });

  it('refers only to parameters it declares, variables it initialises and actions that exist', () => {
    const text = JSON.stringify(definition);
    for (const [, name] of text.matchAll(/parameters\('([^']+)'\)/g))
      expect(definition.parameters).toHaveProperty(String(name));
    for (const [, name] of text.matchAll(/(?:body|outputs)\('([^']+)'\)/g))
      expect(actions).toHaveProperty(String(name));
    for (const [, name] of text.matchAll(/variables\('([^']+)'\)/g)) expect(name).toBe('clientState');
    for (const action of Object.values(actions)) {
      for (const predecessor of Object.keys(action.runAfter ?? {})) expect(actions).toHaveProperty(predecessor);
    }
  });
});
