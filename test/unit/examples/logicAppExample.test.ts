import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../../lib/http/routes';

type Json = Record<string, any>;

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

  it('branches on the final actionState and reports a refused request', () => {
    const condition = actions.Check_the_reset_is_done as Json;
    expect(condition.type).toBe('If');
    expect(condition.expression.and).toContainEqual({ equals: ["@body('Reset_passcode')?['actionState']", 'done'] });
    expect(condition.runAfter).toEqual({ Reset_passcode: ['Succeeded'] });
    expect(JSON.stringify(condition.actions)).toContain('passcodeExpirationDateTime');
    expect(JSON.stringify(condition.else.actions)).toContain("@body('Reset_passcode')?['error']");
    expect(actions.Respond_request_refused?.runAfter).toEqual({ Reset_passcode: ['Failed', 'TimedOut'] });
  });

  it('refers only to parameters it declares and actions that exist', () => {
    const text = JSON.stringify(definition);
    for (const [, name] of text.matchAll(/parameters\('([^']+)'\)/g))
      expect(definition.parameters).toHaveProperty(String(name));
    for (const [, name] of text.matchAll(/(?:body|outputs)\('([^']+)'\)/g))
      expect(actions).toHaveProperty(String(name));
  });
});
