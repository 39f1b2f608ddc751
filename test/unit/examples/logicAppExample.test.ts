import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../../lib/http/routes';

type Json = Record<string, any>;

/** Inbound synchronous requests get 120 s in multi-tenant Logic Apps, then 504.
 * https://learn.microsoft.com/azure/logic-apps/logic-apps-limits-and-config#timeout-duration */
const SYNCHRONOUS_LIMIT_SECONDS = 120;

/** Seconds of an ISO 8601 duration such as PT1H30M (days and smaller units). */
function seconds(duration: string): number {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(duration);
  if (!match) throw new Error(`not a duration: ${duration}`);
  const [, d = '0', h = '0', m = '0', s = '0'] = match;
  return ((Number(d) * 24 + Number(h)) * 60 + Number(m)) * 60 + Number(s);
}

const file = join(__dirname, '../../../examples/logic-app-reset-passcode.json');
const workflow = JSON.parse(readFileSync(file, 'utf8')) as Json;
const definition = workflow.definition as Json;

/** Every action of the definition, including those nested in conditions, by name. */
function actionsOf(actions: Json): [string, Json][] {
  return Object.entries(actions ?? {}).flatMap(([name, action]) => [
    [name, action as Json] as [string, Json],
    ...actionsOf((action as Json).actions),
    ...actionsOf((action as Json).else?.actions),
  ]);
}

/**
 * The synchronous Response actions of a workflow in which some action may wait longer than an inbound request may
 * last: each of them could answer after the caller got a 504.
 */
function synchronousAnswersAfterLongWaits(definitionActions: Json): string[] {
  const all = actionsOf(definitionActions);
  const longestWait = Math.max(0, ...all.map(([, action]) => seconds(action.limit?.timeout ?? 'PT0S')));
  if (longestWait <= SYNCHRONOUS_LIMIT_SECONDS) return [];
  return all
    .filter(([, action]) => action.type === 'Response' && action.operationOptions !== 'Asynchronous')
    .map(([name]) => name);
}

describe('examples/logic-app-reset-passcode.json', () => {
  const actions = Object.fromEntries(actionsOf(definition.actions));

  it('is a Consumption workflow definition with a request trigger taking a deviceId', () => {
    expect(definition.$schema).toBe(
      'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#',
    );
    expect(definition.contentVersion).toBe('1.0.0.0');
    expect(definition.triggers.manual).toMatchObject({ type: 'Request', kind: 'Http' });
    expect(definition.triggers.manual.inputs.schema.required).toEqual(['deviceId']);
  });

  it('calls POST resetPasscode with the HTTP action, a managed identity for the API audience and the async pattern on', () => {
    const reset = actions.Reset_passcode as Json;
    expect(reset.type).toBe('Http');
    expect(reset.inputs.method).toBe(ROUTES.resetPasscode.method);
    const template = `/${ROUTES.resetPasscode.route.replace('{deviceId}', "@{encodeUriComponent(triggerBody()?['deviceId'])}")}`;
    expect(reset.inputs.uri).toBe(`@{parameters('resetPasscodeApiBaseUrl')}${template}`);
    expect(reset.inputs.authentication).toEqual({
      type: 'ManagedServiceIdentity',
      audience: "@parameters('resetPasscodeApiAudience')",
    });
    expect(reset.inputs.headers['Idempotency-Key']).toContain("workflow()?['run']?['name']");
    // DisableAsyncPattern would make the action stop at the first 202 instead of following Location.
    expect(reset.operationOptions ?? '').not.toContain('DisableAsyncPattern');
    expect(reset.runtimeConfiguration.secureData.properties).toContain('outputs');
  });

  it('branches on the final actionState and answers a refused request with its status and error', () => {
    const condition = actions.Check_the_reset_is_done as Json;
    expect(condition.type).toBe('If');
    expect(condition.expression.and).toContainEqual({ equals: ["@body('Reset_passcode')?['actionState']", 'done'] });
    expect(condition.runAfter).toEqual({ Reset_passcode: ['Succeeded'] });
    expect(JSON.stringify(condition.actions)).toContain('passcodeExpirationDateTime');
    expect(JSON.stringify(condition.else.actions)).toContain("@body('Reset_passcode')?['error']");
    expect(actions.Respond_request_refused?.runAfter).toEqual({ Reset_passcode: ['Failed'] });
    expect(actions.Respond_request_refused?.inputs.statusCode).toBe(
      "@coalesce(outputs('Reset_passcode')?['statusCode'], 502)",
    );
  });

  it('answers the caller whatever becomes of the reset: succeeded, failed or timed out', () => {
    const responders = (status: string) =>
      Object.entries(actions).filter(([, action]) => (action.runAfter?.Reset_passcode ?? []).includes(status));
    for (const status of ['Succeeded', 'Failed', 'TimedOut']) {
      const next = responders(status);
      expect(next.length, status).toBeGreaterThan(0);
      for (const [name, action] of next) {
        const answers = action.type === 'Response' || JSON.stringify(action).includes('"type":"Response"');
        expect(answers, `${name} after ${status}`).toBe(true);
      }
    }
  });

  it("answers a timed-out reset with a 504 of its own, never with the timed-out action's outputs", () => {
    const timedOut = actions.Respond_timed_out as Json;
    expect(timedOut.runAfter).toEqual({ Reset_passcode: ['TimedOut'] });
    expect(timedOut.inputs.statusCode).toBe(504);
    // A refused request and a timeout are different answers: one path may not handle both from the outputs.
    for (const action of Object.values(actions)) {
      const after: string[] = action.runAfter?.Reset_passcode ?? [];
      if (after.includes('TimedOut'))
        expect(JSON.stringify(action.inputs?.statusCode)).not.toContain("outputs('Reset_passcode')");
    }
  });

  it('never keeps its caller waiting past the 120 s a synchronous request may last: every Response is asynchronous', () => {
    // Logic Apps answers an inbound request with 504 after 120 s (multi-tenant); the reset may take far longer
    // (the HTTP action may wait up to its timeout). An asynchronous Response answers 202 with a Location at once and
    // the caller polls it for the final answer. Logic Apps requires every Response of a workflow to use the same mode.
    expect(Object.values(actions).filter((action) => action.type === 'Response').length).toBeGreaterThanOrEqual(4);
    expect(synchronousAnswersAfterLongWaits(definition.actions)).toEqual([]);
  });

  it('waits at least as long as a reset may take: the app retries the device for 60 minutes by default', () => {
    expect(seconds(actions.Reset_passcode?.limit.timeout)).toBeGreaterThanOrEqual(60 * 60);
  });

  it('the 120 s check catches a synchronous Response after a long wait', () => {
    const changed = structuredClone(definition.actions) as Json;
    delete changed.Respond_timed_out.operationOptions;
    expect(synchronousAnswersAfterLongWaits(changed)).toEqual(['Respond_timed_out']);
    changed.Reset_passcode.limit.timeout = 'PT1M';
    expect(synchronousAnswersAfterLongWaits(changed)).toEqual([]);
  });

  it('refers only to parameters it declares and actions that exist', () => {
    const text = JSON.stringify(definition);
    for (const [, name] of text.matchAll(/parameters\('([^']+)'\)/g))
      expect(definition.parameters).toHaveProperty(String(name));
    for (const [, name] of text.matchAll(/(?:body|outputs)\('([^']+)'\)/g))
      expect(actions).toHaveProperty(String(name));
  });
});
