// Writes the Power Platform custom connector of this API: connector/apiDefinition.swagger.json (the Swagger 2.0
// document) and connector/apiProperties.json (connection and branding), the two files `paconn create` and the
// maker portal's import take. Run it as `npm run connector -- --host <app>.azurewebsites.net --client-id <id> ...`.
// https://learn.microsoft.com/connectors/custom-connectors/paconn-cli
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSwaggerDocument } from './apiDocuments/swagger';

export interface ConnectorOptions {
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

const PLACEHOLDER_CLIENT_ID = 'REPLACE-WITH-CONNECTOR-APP-CLIENT-ID';
const PLACEHOLDER_RESOURCE = 'api://REPLACE-WITH-API-APP-ID';

/**
 * apiProperties.json: an OAuth 2.0 connection through the "aad" identity provider, as Power Platform writes it for
 * an Azure AD connector. Power Platform's consent service receives the redirect (redirectMode Global).
 * File format: https://learn.microsoft.com/connectors/custom-connectors/paconn-cli
 */
export function apiProperties(options: ConnectorOptions) {
  const resource = options.resourceUri ?? PLACEHOLDER_RESOURCE;
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
              enableOnbehalfOfLogin: { value: 'false' },
            },
          },
        },
      },
      iconBrandColor: '#0078D4',
      capabilities: [],
      publisher: options.publisher ?? 'Intune Reset Passcode',
      stackOwner: options.publisher ?? 'Intune Reset Passcode',
    },
  };
}

/** Writes the two connector files into `outDir` and returns their paths. */
export async function writeConnector(outDir: string, options: ConnectorOptions): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const definition = join(outDir, 'apiDefinition.swagger.json');
  const properties = join(outDir, 'apiProperties.json');
  const swagger = buildSwaggerDocument({ host: options.host, schemes: ['https'] });
  await writeFile(definition, `${JSON.stringify(swagger, null, 2)}\n`);
  await writeFile(properties, `${JSON.stringify(apiProperties(options), null, 2)}\n`);
  return [definition, properties];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: 'localhost:7071' },
      out: { type: 'string', default: 'connector' },
      'client-id': { type: 'string' },
      resource: { type: 'string', default: process.env.AUTH_AUDIENCE },
      tenant: { type: 'string' },
      publisher: { type: 'string' },
    },
  });
  const written = await writeConnector(values.out, {
    host: values.host,
    ...(values['client-id'] && { clientId: values['client-id'] }),
    ...(values.resource && { resourceUri: values.resource }),
    ...(values.tenant && { tenantId: values.tenant }),
    ...(values.publisher && { publisher: values.publisher }),
  });
  console.log(`Wrote ${written.join(' and ')} for https://${values.host}/api.`);
  if (!values['client-id'] || !values.resource) {
    console.log(
      'Fill in the connector app client id (--client-id) and the API audience (--resource) before importing.',
    );
  }
}

// Runs as a script (node dist/tools/connector.js), not when a test imports writeConnector.
if (typeof require !== 'undefined' && require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
