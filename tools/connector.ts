// Writes the Power Platform custom connector of this API into connector/: apiDefinition.swagger.json (the Swagger 2.0
// document the build generated, pointed at the app), apiProperties.json (connection, policies, branding), README.md
// and icon.png, the files `paconn create` takes and the connector repository asks for. Run it as
// `npm run connector -- --host <app>.azurewebsites.net --client-id <id> --resource <AUTH_AUDIENCE> ...`; it checks its
// output against the connector rules (tools/connectorRules.ts) and lists what is still a placeholder.
// https://learn.microsoft.com/connectors/custom-connectors/paconn-cli
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { API_DOCUMENT_FILES } from '../lib/http/apiDocuments';
import { type ConnectorInfo, PLACEHOLDER_CONNECTOR_INFO } from './apiDocuments/swagger';
import { checkConnector, operationsOf } from './connectorRules';

export interface ConnectorOptions extends Partial<ConnectorInfo> {
  /** Host (and port) the connector calls, e.g. contoso-reset.azurewebsites.net. */
  host: string;
  /** Client id of the Entra app registration the connector signs in with (not the API's own registration). */
  clientId?: string;
  /** The API's Application ID URI or client id: the audience its tokens must have (AUTH_AUDIENCE). */
  resourceUri?: string;
  /** Tenant to sign in to; "common" lets users of any tenant sign in. */
  tenantId?: string;
  publisher?: string;
}

type Json = Record<string, unknown>;

const PLACEHOLDER_CLIENT_ID = 'REPLACE-WITH-CONNECTOR-APP-CLIENT-ID';
const PLACEHOLDER_RESOURCE = 'api://REPLACE-WITH-API-APP-ID';
const PLACEHOLDER_PUBLISHER = 'Contoso IT operations';
/** The icon's background; neither of the colours certification refuses (#007ee5, #ffffff). */
export const BRAND_COLOR = '#0078D4';
/**
 * The connector's icon: a white padlock on an opaque 230 px square of BRAND_COLOR, the logo about 160 px wide, as the
 * certification guidelines ask. A file in the repository, checked by the `icon` rule (test/unit/connector/).
 * https://learn.microsoft.com/connectors/custom-connectors/certification-submission
 */
export const ICON_FILE = join('infra', 'connector', 'icon.png');

/**
 * apiProperties.json: an OAuth 2.0 connection through the "aad" identity provider (its customParameters may only be
 * resourceUri, loginUri and tenantId), and an updatenextlink policy for every pageable operation, so that an
 * @odata.nextLink, which names the app, is rewritten to go through the connector. No stackOwner: paconn refuses it
 * (microsoft/PowerPlatformConnectors#614) and certification sets it.
 * File format: https://learn.microsoft.com/connectors/custom-connectors/paconn-cli
 */
export function apiProperties(options: ConnectorOptions, definition: Json) {
  const resource = options.resourceUri ?? PLACEHOLDER_RESOURCE;
  const pageable = operationsOf(definition).filter(({ operation }) => operation['x-ms-pageable']);
  return {
    properties: {
      connectionParameters: {
        token: {
          type: 'oauthSetting',
          oAuthSettings: {
            identityProvider: 'aad',
            clientId: options.clientId ?? PLACEHOLDER_CLIENT_ID,
            scopes: [],
            redirectMode: 'Global',
            redirectUrl: 'https://global.consent.azure-apim.net/redirect',
            properties: {
              IsFirstParty: 'False',
              AzureActiveDirectoryResourceId: resource,
              IsOnbehalfofLoginSupported: false,
            },
            customParameters: {
              loginUri: { value: 'https://login.microsoftonline.com' },
              tenantId: { value: options.tenantId ?? 'common' },
              resourceUri: { value: resource },
            },
          },
        },
      },
      iconBrandColor: BRAND_COLOR,
      capabilities: operationsOf(definition).some(({ operation }) => operation['x-ms-trigger'])
        ? ['actions', 'triggers']
        : ['actions'],
      publisher: options.publisher ?? PLACEHOLDER_PUBLISHER,
      policyTemplateInstances: pageable.map(({ operation }) => ({
        templateId: 'updatenextlink',
        title: `Next page link of ${operation.summary} through the connector`,
        parameters: {
          'x-ms-apimTemplate-operationName': [String(operation.operationId)],
          'x-ms-apimTemplateParameter.nextLinkPropertyName': String(operation['x-ms-pageable'].nextLinkName),
        },
      })),
    },
  };
}

/** The generated Swagger document, pointed at `host` over https, with the publisher's contact and metadata. */
export function connectorDefinition(generated: Json, options: ConnectorOptions): Json {
  const info: ConnectorInfo = {
    contactName: options.contactName ?? PLACEHOLDER_CONNECTOR_INFO.contactName,
    contactEmail: options.contactEmail ?? PLACEHOLDER_CONNECTOR_INFO.contactEmail,
    website: options.website ?? PLACEHOLDER_CONNECTOR_INFO.website,
    privacyPolicy: options.privacyPolicy ?? PLACEHOLDER_CONNECTOR_INFO.privacyPolicy,
    categories: options.categories ?? PLACEHOLDER_CONNECTOR_INFO.categories,
  };
  const generatedInfo = typeof generated.info === 'object' && generated.info !== null ? generated.info : {};
  return {
    ...generated,
    paths: withJsonContentType(generated.paths),
    info: { ...generatedInfo, contact: { name: info.contactName, url: info.website, email: info.contactEmail } },
    host: options.host,
    schemes: ['https'],
    'x-ms-connector-metadata': [
      { propertyName: 'Website', propertyValue: info.website },
      { propertyName: 'Privacy policy', propertyValue: info.privacyPolicy },
      { propertyName: 'Categories', propertyValue: info.categories },
    ],
  };
}

const CHANGING_METHODS = new Set(['post', 'put', 'patch']);

/**
 * The app refuses a POST, PUT or PATCH that does not declare JSON, with a body or without one (docs/API.md), while
 * the platform sends Content-Type only with a body the flow filled in: every such operation gets a hidden, required
 * Content-Type header whose default the platform always sends.
 */
export const JSON_CONTENT_TYPE_PARAMETER = {
  name: 'Content-Type',
  in: 'header',
  required: true,
  type: 'string',
  default: 'application/json',
  'x-ms-visibility': 'internal',
  'x-ms-summary': 'Content type',
  description: 'Always application/json.',
};

function withJsonContentType(paths: unknown): unknown {
  if (typeof paths !== 'object' || paths === null) return paths;
  return Object.fromEntries(
    Object.entries(paths as Record<string, Json>).map(([path, item]) => [
      path,
      Object.fromEntries(
        Object.entries(item).map(([method, operation]) => {
          if (!CHANGING_METHODS.has(method) || typeof operation !== 'object' || operation === null) {
            return [method, operation];
          }
          const parameters = Array.isArray((operation as Json).parameters)
            ? ((operation as Json).parameters as Json[])
            : [];
          return [method, { ...operation, parameters: [...parameters, JSON_CONTENT_TYPE_PARAMETER] }];
        }),
      ),
    ]),
  );
}

/** README.md in the shape of the connector repository's template, its operations taken from the definition. */
export function connectorReadme(definition: Json, options: ConnectorOptions): string {
  const info = (definition.info ?? {}) as Json;
  const operations = operationsOf(definition)
    .filter(({ operation }) => operation['x-ms-visibility'] !== 'internal')
    .map(({ operation }) => `### ${operation.summary}\n${operation.description}\n`);
  return `# ${info.title}
${info.description}

## Publisher: ${options.publisher ?? PLACEHOLDER_PUBLISHER}

## Prerequisites
- The app deployed to Azure Functions, reachable at https://${options.host}, with Entra ID authentication configured.
- Two app registrations: the app's own (its Application ID URI is the app's AUTH_AUDIENCE; it defines the app roles
  Devices.Read, Devices.Manage, Passcode.Reset, Passcode.Read and Audit.Read) and one for this connector.
- Users of the connector hold the app roles their flows need.

## Supported Operations
${operations.join('\n')}
## Obtaining Credentials
Register an application for the connector in Entra ID: add a client secret, the redirect URI
https://global.consent.azure-apim.net/redirect (Web), and a delegated permission on the app's registration (the scope
the app requires, access_as_user by default), granted by an administrator. The connection signs the user in with it;
the connector acts with that user's app roles.

## Getting Started
Add Reset passcode to a flow with the device ID. Keep the action's Asynchronous pattern setting on (the default): the
action waits until the reset is done and outputs its final state. Branch on actionState equal to done. To read the new
passcode, call Get reset passcode result with your own connection; it needs the Passcode.Read role. To start a flow
when any reset finishes, use the trigger When a passcode reset finishes and read value[0].resourceData.

## Known Issues and Limitations
- The result of Reset passcode never contains the passcode: the status link it follows does not carry the caller's
  rights. Read it with Get reset passcode result. Notifications of the trigger never contain it either.
- The trigger When a passcode reset finishes subscribes for 72 hours; the platform never renews it, so the app does,
  until the flow is turned off or deleted (the platform then unsubscribes) or its callback answers 404 or 410.
  The app's public URL (PUBLIC_BASE_URL) must be https://${options.host}, so that the unsubscribe call reaches it
  through this connector.
- A device accepts a limited number of resets a day (the app's MAX_RESETS_PER_DEVICE_PER_DAY, 10 by default).
- Operations that list items return pages; turn on Pagination in the action settings for more than one page.

## Deployment Instructions
1. Run \`npm run connector -- --host ${options.host} --client-id <connector app client id> --resource <app audience>\`
   in the app's repository; it writes this folder.
2. Create the connector: \`paconn create --api-def apiDefinition.swagger.json --api-prop apiProperties.json --icon icon.png --secret <client secret>\`
   ([paconn](https://learn.microsoft.com/connectors/custom-connectors/paconn-cli)); update it later with \`paconn update\`.
`;
}

/** Reads the generated Swagger document, writes the four connector files into `outDir`, returns their paths. */
export async function writeConnector(
  outDir: string,
  options: ConnectorOptions & { swaggerFile?: string },
): Promise<{ files: string[]; problems: string[] }> {
  const swaggerFile = options.swaggerFile ?? join('dist', API_DOCUMENT_FILES.swagger);
  const generated: unknown = JSON.parse(await readFile(swaggerFile, 'utf8'));
  if (typeof generated !== 'object' || generated === null || Array.isArray(generated)) {
    throw new Error(`${swaggerFile} is not a Swagger document`);
  }
  const definition = connectorDefinition({ ...generated }, options);
  const properties = apiProperties(options, definition);
  const readme = connectorReadme(definition, options);
  const icon = await readFile(ICON_FILE);
  await mkdir(outDir, { recursive: true });
  const written = [
    [join(outDir, 'apiDefinition.swagger.json'), `${JSON.stringify(definition, null, 2)}\n`],
    [join(outDir, 'apiProperties.json'), `${JSON.stringify(properties, null, 2)}\n`],
    [join(outDir, 'README.md'), readme],
    [join(outDir, 'icon.png'), icon],
  ] as const;
  for (const [file, content] of written) await writeFile(file, content);
  const problems = checkConnector({ definition, properties, readme, icon });
  return { files: written.map(([file]) => file), problems };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: 'localhost:7071' },
      out: { type: 'string', default: 'connector' },
      swagger: { type: 'string' },
      'client-id': { type: 'string' },
      resource: { type: 'string', default: process.env.AUTH_AUDIENCE },
      tenant: { type: 'string' },
      publisher: { type: 'string' },
      'contact-name': { type: 'string' },
      'contact-email': { type: 'string' },
      website: { type: 'string' },
      privacy: { type: 'string' },
      categories: { type: 'string' },
    },
  });
  const { files, problems } = await writeConnector(values.out, {
    host: values.host,
    ...(values.swagger && { swaggerFile: values.swagger }),
    ...(values['client-id'] && { clientId: values['client-id'] }),
    ...(values.resource && { resourceUri: values.resource }),
    ...(values.tenant && { tenantId: values.tenant }),
    ...(values.publisher && { publisher: values.publisher }),
    ...(values['contact-name'] && { contactName: values['contact-name'] }),
    ...(values['contact-email'] && { contactEmail: values['contact-email'] }),
    ...(values.website && { website: values.website }),
    ...(values.privacy && { privacyPolicy: values.privacy }),
    ...(values.categories && { categories: values.categories }),
  });
  console.log(`Wrote ${files.join(', ')} for https://${values.host}/api.`);
  const placeholders = [
    ['--client-id', values['client-id']],
    ['--resource', values.resource],
    ['--publisher', values.publisher],
    ['--contact-name', values['contact-name']],
    ['--contact-email', values['contact-email']],
    ['--website', values.website],
    ['--privacy', values.privacy],
  ].filter(([, value]) => !value);
  if (placeholders.length > 0) {
    console.log(
      `Still example values (contoso.com, REPLACE-…): give ${placeholders.map(([flag]) => flag).join(', ')}.`,
    );
  }
  for (const problem of problems) console.error(`connector rule failed: ${problem}`);
  if (problems.length > 0) process.exit(1);
}

// Runs as a script (node dist/tools/connector.js), not when a test imports writeConnector.
if (typeof require !== 'undefined' && require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
