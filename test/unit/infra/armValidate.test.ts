import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ArmValidator, closeSchema, loadArmValidator } from '../../../tools/armValidate';

const read = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const template = () => read('infra/azuredeploy.json');
const resource = (t: any, type: string, name = '') =>
  t.resources.find((r: any) => r.type === type && String(r.name).includes(name));

let validator: ArmValidator;
// Loading the schemas and compiling the big ones (Microsoft.Web is 470 KB) takes a couple of seconds on a quiet
// machine and much longer on a busy one: it happens here, once, with room for that.
beforeAll(() => {
  validator = loadArmValidator();
  validator.validate(template());
  validator.validate(read('infra/azuredeploy.parameters.example.json'));
}, 120_000);

describe('infra/azuredeploy.json against the vendored ARM schemas', { timeout: 60_000 }, () => {
  it('is valid, every resource checked against the schema of its type and api-version', () => {
    const report = validator.validate(template());
    expect(report.violations).toEqual([]);
    expect(report.kind).toBe('template');
    expect(report.resources).toBe(template().resources.length);
  });

  it('has a valid example parameters file', () => {
    expect(validator.validate(read('infra/azuredeploy.parameters.example.json'))).toEqual({
      kind: 'parameters',
      violations: [],
      resources: 0,
    });
  });
});

// Each broken variant and the line it must produce. The same variants give the same lines with the reference
// validator these schemas are published for (docs/deploy.md, "How the template is checked").
describe('the validator reports', { timeout: 60_000 }, () => {
  const violationsOf = (mutate: (t: any) => void) => {
    const t = template();
    mutate(t);
    return validator.validate(t).violations;
  };

  it('a misspelt property (additionalProperties closed on object schemas that list properties)', () => {
    expect(
      violationsOf((t) => {
        const config = resource(t, 'Microsoft.Web/sites').properties.functionAppConfig;
        config.scaleAndConcurency = config.scaleAndConcurrency;
        delete config.scaleAndConcurrency;
      }),
    ).toEqual([
      "resource Microsoft.Web/sites@2024-11-01 [parameters('appName')]: /properties/functionAppConfig/scaleAndConcurency unknown property",
    ]);
  });

  it('an enum value in the wrong case, with the allowed values', () => {
    expect(
      violationsOf((t) => {
        resource(t, 'Microsoft.Web/sites').properties.siteConfig.ftpsState = 'disabled';
      }),
    ).toEqual([
      `resource Microsoft.Web/sites@2024-11-01 [parameters('appName')]: /properties/siteConfig/ftpsState must be equal to one of the allowed values: "AllAllowed", "FtpsOnly", "Disabled"`,
    ]);
  });

  it('an api-version with no schema, naming the ones there are', () => {
    expect(
      violationsOf((t) => {
        resource(t, 'Microsoft.Web/sites').apiVersion = '2099-01-01';
      }),
    ).toEqual([
      "resource Microsoft.Web/sites@2099-01-01 [parameters('appName')]: no schema for this type and apiVersion in infra/schemas; available: Microsoft.Web/sites@2024-11-01",
    ]);
  });

  it('an unknown property inside a union member (sites/config authsettingsV2), against the closest branch', () => {
    expect(
      violationsOf((t) => {
        resource(
          t,
          'Microsoft.Web/sites/config',
          'authsettingsV2',
        ).properties.identityProviders.azureActiveDirectory.registration.clientSecretX = 'x';
      }),
    ).toEqual([
      "resource Microsoft.Web/sites/config@2024-11-01 [format('{0}/authsettingsV2', parameters('appName'))]: /properties/identityProviders/azureActiveDirectory/registration/clientSecretX unknown property",
    ]);
  });

  it('a non-string app setting, a template-level mistake, and a resource nested in an inline deployment', () => {
    const lines = violationsOf((t) => {
      resource(t, 'Microsoft.Web/sites/config', 'appsettings').properties.SOME_NUMBER = 5;
      t.contentVersion = '1.0';
      t.resources.push({
        type: 'Microsoft.Resources/deployments',
        apiVersion: '2025-04-01',
        name: 'inner',
        properties: {
          mode: 'Incremental',
          template: {
            $schema: t.$schema,
            contentVersion: '1.0.0.0',
            resources: [
              {
                type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
                apiVersion: '2024-11-30',
                name: 'x',
                location: 'y',
                properties: {},
                bogus: true,
              },
            ],
          },
        },
      });
    });
    expect(lines).toEqual([
      'template: /contentVersion must match pattern "(^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$)"',
      "resource Microsoft.Web/sites/config@2024-11-01 [format('{0}/appsettings', parameters('appName'))]: /properties/SOME_NUMBER must be string",
      'resource Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30 x: /bogus unknown property',
    ]);
  });

  it('an unknown key and a malformed entry in a parameters file', () => {
    const parameters = read('infra/azuredeploy.parameters.example.json');
    parameters.extra = 1;
    parameters.parameters.appName = { valu: 'x' };
    expect(validator.validate(parameters).violations.sort()).toEqual([
      'parameters: /extra unknown property',
      "parameters: /parameters/appName must have required property 'reference'",
      "parameters: /parameters/appName must have required property 'value'",
      'parameters: /parameters/appName/valu unknown property',
    ]);
  });
});

describe('closeSchema', () => {
  it('closes objects that list properties, merges a union parent into its branches, reads oneOf as anyOf', () => {
    const schema: any = {
      properties: { type: { type: 'string' } },
      required: ['type'],
      oneOf: [{ properties: { a: { type: 'object', properties: { x: {} } } } }, { type: 'string' }],
    };
    closeSchema(schema);
    expect(schema.oneOf).toBeUndefined();
    expect(schema.additionalProperties).toBeUndefined();
    expect(schema.anyOf[0]).toEqual({
      properties: {
        type: { type: 'string' },
        a: { type: 'object', properties: { x: {} }, additionalProperties: false },
      },
      required: ['type'],
      additionalProperties: false,
    });
    const open: any = { properties: { a: {} }, additionalProperties: { type: 'string' } };
    closeSchema(open);
    expect(open.additionalProperties).toEqual({ type: 'string' });
  });
});
