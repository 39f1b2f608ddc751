import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv from 'ajv';
import AjvDraft04 from 'ajv-draft-04';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeApiDocuments } from '../../../tools/apiDocuments/generate';
import { BRAND_COLOR, ICON_FILE, writeConnector } from '../../../tools/connector';
import { CONNECTOR_RULES, type ConnectorFiles, checkConnector } from '../../../tools/connectorRules';

type Json = Record<string, any>;

const FIXTURES = join(__dirname, '../../fixtures/powerPlatformConnectors');

/** A vendored schema (see SOURCES.md): `//` comments dropped, draft-04's `id` read as `$id`. */
function loadSchema(name: string): Json {
  const text = readFileSync(join(FIXTURES, name), 'utf8')
    .replace(/^\s*\/\/.*$/gm, '')
    .replace(/\s\/\/[^"\n]*$/gm, '');
  const { id, ...schema } = JSON.parse(text);
  return { $id: id, ...schema };
}

const validateDefinition = new AjvDraft04({ strict: false, allErrors: true, validateFormats: false }).compile(
  loadSchema('apiDefinition.swagger.schema.json'),
);
const validateProperties = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(
  loadSchema('paconn-apiProperties.schema.json'),
);

// Compiling and validating whole documents is CPU-bound: on a shared, loaded machine it can take many seconds.
const SCHEMA_CHECK_TIMEOUT_MS = 30_000;

let work: string;
let files: ConnectorFiles;
let problems: string[];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'connector-'));
  await writeApiDocuments(work);
  const written = await writeConnector(join(work, 'connector'), {
    host: 'contoso-reset.azurewebsites.net',
    swaggerFile: join(work, 'swagger.json'),
    clientId: '11111111-2222-3333-4444-555555555555',
    resourceUri: 'api://contoso-reset',
    publisher: 'Contoso',
  });
  problems = written.problems;
  const read = (name: string) => readFile(join(work, 'connector', name));
  files = {
    definition: JSON.parse((await read('apiDefinition.swagger.json')).toString('utf8')),
    properties: JSON.parse((await read('apiProperties.json')).toString('utf8')),
    readme: (await read('README.md')).toString('utf8'),
    icon: await read('icon.png'),
  };
}, SCHEMA_CHECK_TIMEOUT_MS);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const clone = (value: ConnectorFiles): ConnectorFiles => ({
  definition: structuredClone(value.definition),
  properties: structuredClone(value.properties),
  readme: value.readme,
  icon: value.icon,
});

describe('the connector files against the PowerPlatformConnectors schemas', {
  timeout: SCHEMA_CHECK_TIMEOUT_MS,
}, () => {
  it('apiDefinition.swagger.json conforms to apiDefinition.swagger.schema.json', () => {
    expect(validateDefinition(files.definition), JSON.stringify(validateDefinition.errors, null, 2)).toBe(true);
  });

  it('apiProperties.json conforms to paconn-apiProperties.schema.json', () => {
    expect(validateProperties(files.properties), JSON.stringify(validateProperties.errors, null, 2)).toBe(true);
  });

  it('the schemas refuse what they should: an unknown extension, an aad parameter the schema does not allow', () => {
    const definition = structuredClone(files.definition);
    definition['x-ms-unknown'] = true;
    expect(validateDefinition(definition)).toBe(false);
    const properties = structuredClone(files.properties);
    properties.properties.connectionParameters.token.oAuthSettings.customParameters.enableOnbehalfOfLogin = {
      value: 'false',
    };
    expect(validateProperties(properties)).toBe(false);
  });

  it('the definition is still a valid Swagger 2.0 document for https://<host>/api', async () => {
    await expect(SwaggerParser.validate(structuredClone(files.definition) as never)).resolves.toBeDefined();
    expect(files.definition).toMatchObject({
      host: 'contoso-reset.azurewebsites.net',
      schemes: ['https'],
      basePath: '/api',
    });
  });
});

/** For each rule, a change to good files that the rule must catch. */
const BREAKS: Record<string, (f: ConnectorFiles) => void> = {
  title: (f) => {
    f.definition.info.title = 'Intune Reset Passcode API';
  },
  description: (f) => {
    f.definition.info.description = 'Use it in Power Automate.';
  },
  contact: (f) => {
    delete f.definition.info.contact;
  },
  connectorMetadata: (f) => {
    f.definition['x-ms-connector-metadata'] = [{ propertyName: 'Website', propertyValue: 'https://x.example' }];
  },
  operationIds: (f) => {
    f.definition.paths['/health'].get.operationId = 'get-health';
  },
  operationSummary: (f) => {
    f.definition.paths['/deviceManagement/managedDevices'].get.summary = 'List devices (by last-seen time)';
  },
  jsonContentType: (f) => {
    const sync = f.definition.paths['/deviceManagement/androidManagement/sync'].post;
    sync.parameters = sync.parameters.filter((p: { name: string }) => p.name !== 'Content-Type');
  },
  texts: (f) => {
    f.definition.paths['/health'].get.description = 'Checks the API.';
  },
  operationDescription: (f) => {
    delete f.definition.paths['/health'].get.description;
  },
  operationVisibility: (f) => {
    delete f.definition.paths['/deviceManagement/managedDevices'].get['x-ms-visibility'];
  },
  parameters: (f) => {
    delete f.definition.paths['/deviceManagement/managedDevices'].get.parameters[0]['x-ms-summary'];
  },
  refSiblings: (f) => {
    f.definition.definitions.ManagedDevice.properties.passcodePolicy = {
      $ref: '#/definitions/PasscodePolicy',
      'x-ms-summary': 'Passcode Policy',
    };
  },
  responses: (f) => {
    delete f.definition.paths['/deviceManagement/managedDevices/{deviceId}/resetPasscode'].post.responses['200'];
  },
  paging: (f) => {
    f.properties.properties.policyTemplateInstances = [];
  },
  oneTrigger: (f) => {
    f.definition.paths['/deviceManagement/deviceActionResults'].get['x-ms-trigger'] = 'batch';
  },
  triggerNotificationUrl: (f) => {
    delete f.definition.definitions.SubscriptionRequest.properties.notificationUrl['x-ms-notification-url'];
  },
  triggerNotificationContent: (f) => {
    delete f.definition.paths['/deviceManagement/subscriptions']['x-ms-notification-content'];
  },
  triggerUnsubscribe: (f) => {
    delete f.definition.paths['/deviceManagement/subscriptions/{subscriptionId}'].delete;
  },
  apiProperties: (f) => {
    f.properties.properties.stackOwner = 'Contoso';
  },
  brandColor: (f) => {
    f.properties.properties.iconBrandColor = '#007ee5';
  },
  icon: (f) => {
    f.icon = solidPng(230, 230, [255, 0, 0, 255]);
  },
  readme: (f) => {
    f.readme = f.readme.replace('## Known Issues and Limitations', '## Notes');
  },
};

describe('the connector rules (tools/connectorRules.ts)', () => {
  it('pass on the files npm run connector writes', () => {
    expect(problems).toEqual([]);
    expect(checkConnector(files)).toEqual([]);
  });

  it('each have a case that breaks them, and nothing else', () => {
    expect(Object.keys(BREAKS).sort()).toEqual(CONNECTOR_RULES.map((rule) => rule.id).sort());
  });

  it.each(CONNECTOR_RULES.map((rule) => [rule.id, rule] as const))('%s: passes, and catches its break', (id, rule) => {
    expect(rule.check(files)).toEqual([]);
    const broken = clone(files);
    BREAKS[id]?.(broken);
    expect(rule.check(broken).length, `${id}: ${rule.what}`).toBeGreaterThan(0);
    expect(rule.source.length).toBeGreaterThan(20);
  });
});

describe('what the connector files say', () => {
  it('pages every list through the connector with an updatenextlink policy', () => {
    const policies = files.properties.properties.policyTemplateInstances as Json[];
    expect(policies.map((p) => p.parameters['x-ms-apimTemplate-operationName'][0]).sort()).toEqual([
      'ListAllDeviceActionResults',
      'ListAuditEvents',
      'ListDeviceActionResults',
      'ListManagedDevices',
    ]);
    for (const policy of policies) {
      expect(policy).toMatchObject({
        templateId: 'updatenextlink',
        parameters: { 'x-ms-apimTemplateParameter.nextLinkPropertyName': '@odata.nextLink' },
      });
    }
  });

  it('signs in through Entra ID with the given client and resource, and has no stackOwner', () => {
    const settings = files.properties.properties.connectionParameters.token.oAuthSettings;
    expect(settings).toMatchObject({
      identityProvider: 'aad',
      clientId: '11111111-2222-3333-4444-555555555555',
      customParameters: { resourceUri: { value: 'api://contoso-reset' }, tenantId: { value: 'common' } },
    });
    expect(Object.keys(settings.customParameters).sort()).toEqual(['loginUri', 'resourceUri', 'tenantId']);
    expect(files.properties.properties).toMatchObject({ publisher: 'Contoso', iconBrandColor: BRAND_COLOR });
    expect(files.properties.properties.stackOwner).toBeUndefined();
  });

  it('declares the final 200 of Reset passcode with the action result, so the designer shows its outputs', () => {
    const reset = files.definition.paths['/deviceManagement/managedDevices/{deviceId}/resetPasscode'].post;
    expect(reset.responses['200'].schema).toEqual({ $ref: '#/definitions/DeviceActionResult' });
    expect(reset.responses['202'].headers).toHaveProperty('Location');
    expect(JSON.stringify(reset.responses['200'].examples)).not.toContain('passcode"');
  });

  it('offers "When a passcode reset finishes" as a webhook trigger that Power Automate subscribes and unsubscribes', () => {
    const path = files.definition.paths['/deviceManagement/subscriptions'];
    expect(path.post).toMatchObject({
      operationId: 'CreateSubscription',
      summary: 'When a passcode reset finishes',
      'x-ms-trigger': 'single',
    });
    expect(path.post.responses['201'].headers.Location.description).toMatch(/DELETE/);
    expect(path['x-ms-notification-content'].schema).toEqual({ $ref: '#/definitions/ChangeNotificationCollection' });
    // The flow's outputs: the finished action, and no passcode property a flow could ever read.
    const notified = files.definition.definitions.NotifiedAction.properties;
    expect(notified).toHaveProperty('actionState');
    expect(notified).not.toHaveProperty('passcode');
    const body = files.definition.definitions.SubscriptionRequest;
    expect(body.properties.notificationUrl).toMatchObject({
      'x-ms-notification-url': true,
      'x-ms-visibility': 'internal',
    });
    // What the maker does not choose is sent with a fixed value; every device is watched unless they pick one.
    expect(body.properties.changeType).toMatchObject({ 'x-ms-visibility': 'internal', default: 'updated' });
    expect(body.properties.resource.default).toBe('deviceManagement/deviceActionResults');
    expect(body.required).not.toContain('expirationDateTime');
    expect(files.definition.paths['/deviceManagement/subscriptions/{subscriptionId}'].delete.responses['204']).toEqual(
      expect.objectContaining({ description: expect.any(String) }),
    );
    expect(files.properties.properties.capabilities).toEqual(['actions', 'triggers']);
  });

  it('has a README naming the publisher and the deployment commands', () => {
    expect(files.readme).toMatch(/^# Device Passcode Reset\n/);
    expect(files.readme).toContain('## Publisher: Contoso');
    expect(files.readme).toContain('paconn create --api-def apiDefinition.swagger.json');
  });
});

/** A PNG of one colour, written by pngjs. */
function solidPng(width: number, height: number, rgba: [number, number, number, number]): Buffer {
  const image = new PNG({ width, height });
  for (let at = 0; at < image.data.length; at += 4) image.data.set(rgba, at);
  return PNG.sync.write(image);
}

describe('the connector icon (infra/connector/icon.png)', () => {
  const icon = readFileSync(ICON_FILE);
  const iconRule = CONNECTOR_RULES.find((rule) => rule.id === 'icon');
  const checkIcon = (candidate: Buffer) => iconRule?.check({ ...clone(files), icon: candidate });

  it('is a 230 px square PNG well under the 1 MB upload limit, and is what npm run connector writes', () => {
    // The signature and IHDR, read by offset (PNG §5.2, §11.2.2): a check that does not go through pngjs.
    expect(icon.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(icon.toString('ascii', 12, 16)).toBe('IHDR');
    expect([icon.readUInt32BE(16), icon.readUInt32BE(20)]).toEqual([230, 230]);
    expect(icon.length).toBeLessThan(16 * 1024);
    expect(files.icon).toEqual(icon);
    expect(checkIcon(icon)).toEqual([]);
  });

  it('is the brand colour at the edges with a white padlock in the middle', () => {
    const image = PNG.sync.read(icon);
    const at = (x: number, y: number) => [...image.data.subarray((y * 230 + x) * 4, (y * 230 + x) * 4 + 4)];
    const brand = [0, 120, 212, 255];
    expect(BRAND_COLOR).toBe('#0078D4');
    for (const [x, y] of [
      [0, 0],
      [229, 0],
      [0, 229],
      [229, 229],
      [115, 5],
    ] as const)
      expect(at(x, y)).toEqual(brand);
    expect(at(80, 115)).toEqual([255, 255, 255, 255]);
  });

  it('fails the rule when it is not a PNG, damaged, not square, too small, transparent or too large', () => {
    expect(checkIcon(Buffer.from('GIF89a'))).toEqual(['icon.png is not a PNG file']);
    const damaged = Buffer.from(icon);
    damaged[17] = (damaged[17] ?? 0) ^ 0xff; // the width in IHDR: its CRC no longer matches
    expect(checkIcon(damaged)).toEqual([expect.stringMatching(/^icon\.png: ./)]);
    expect(checkIcon(solidPng(230, 200, [0, 120, 212, 255]))).toEqual(['icon.png is 230×200, not about 230 px square']);
    expect(checkIcon(solidPng(100, 100, [0, 120, 212, 255]))).toEqual(['icon.png is 100×100, not about 230 px square']);
    expect(checkIcon(solidPng(230, 230, [0, 120, 212, 0]))).toEqual(['icon.png has a transparent background']);
    // A valid icon padded past 1 MB with a chunk that readers skip (lower-case first letter: ancillary).
    const padding = Buffer.alloc(1024 * 1024);
    const body = Buffer.concat([Buffer.from('tEXt'), padding]);
    const chunk = Buffer.concat([Buffer.alloc(4), body, Buffer.alloc(4)]);
    chunk.writeUInt32BE(padding.length, 0);
    chunk.writeUInt32BE(crc32(body), chunk.length - 4);
    const large = Buffer.concat([icon.subarray(0, 33), chunk, icon.subarray(33)]);
    expect(checkIcon(large)).toEqual([`icon.png is ${large.length} bytes, more than 1 MB`]);
  });
});
