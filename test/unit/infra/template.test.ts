import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, ConfigSchema, parseConfig } from '../../../lib/config';
import { DEVICE_CHANNELS } from '../../../lib/core/model';
import { STORAGE_NAMES } from '../../../lib/deps';
import { PUSH_ROUTES } from '../../../lib/http/routes';
import { ALL_ROLES } from '../../../lib/security/caller';
import { appSettingsOf, type Deployment, deploy, findSecretLeaks } from '../../../tools/armChecks';
import type { ArmValue } from '../../../tools/armExpressions';
import { testExternalAccountCredential, testServiceAccountKey } from '../../support/androidManagement/googleTokens';

const read = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const template = () => read('infra/azuredeploy.json');
const example = () => read('infra/azuredeploy.parameters.example.json');
const exampleValues = (): Record<string, ArmValue> =>
  Object.fromEntries(Object.entries(example().parameters).map(([name, p]: [string, any]) => [name, p.value]));

// Settings the Functions platform and runtime read, which the app's ConfigSchema does not list.
// https://learn.microsoft.com/azure/azure-functions/functions-app-settings
const RUNTIME_SETTINGS = new Set([
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
]);
// Set by the platform on every instance; a template that set them would lie to the app.
const PLATFORM_PROVIDED = ['WEBSITE_INSTANCE_ID', 'WEBSITE_AUTH_ENABLED', 'AZURE_FUNCTIONS_ENVIRONMENT'];
// Replaced by functionAppConfig on the Flex Consumption plan, where setting them is an error:
// https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations
const FLEX_DEPRECATED = [
  'FUNCTIONS_EXTENSION_VERSION',
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_WORKER_RUNTIME_VERSION',
  'FUNCTIONS_MAX_HTTP_CONCURRENCY',
  'FUNCTIONS_WORKER_PROCESS_COUNT',
  'FUNCTIONS_WORKER_DYNAMIC_CONCURRENCY_ENABLED',
  'SCM_DO_BUILD_DURING_DEPLOYMENT',
  'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
  'WEBSITE_CONTENTOVERVNET',
  'WEBSITE_CONTENTSHARE',
  'WEBSITE_DNS_SERVER',
  'WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
  'WEBSITE_SKIP_CONTENTSHARE_VALIDATION',
  'WEBSITE_VNET_ROUTE_ALL',
];

const ENTERPRISE = 'enterprises/LC01abcd23';
const PUSH_SERVICE_ACCOUNT = 'pubsub-push@contoso-mdm.iam.gserviceaccount.com';

const SCENARIOS: Record<string, Record<string, ArmValue>> = {
  'entra, Android Management, keyless': {
    authMode: 'entra',
    deviceChannel: 'androidManagement',
    androidManagementEnterprise: ENTERPRISE,
  },
  'App Service Authentication, Android Management with Pub/Sub push and LOCK_NOW': {
    authMode: 'appService',
    deviceChannel: 'androidManagement',
    androidManagementEnterprise: ENTERPRISE,
    androidManagementCommandHours: 12,
    androidManagementLockNow: true,
    androidManagementPushAudience:
      'https://contoso-reset-passcode.azurewebsites.net/api/androidManagement/notifications',
    androidManagementPushServiceAccount: PUSH_SERVICE_ACCOUNT,
  },
  'entra, webhook gateway': { authMode: 'entra', deviceChannel: 'webhook' },
  'App Service Authentication, webhook gateway': { authMode: 'appService', deviceChannel: 'webhook' },
  'entra, simulated devices allowed in Azure': {
    authMode: 'entra',
    deviceChannel: 'simulated',
    allowSimulatorInAzure: true,
  },
};

const key = () => randomBytes(32).toString('base64');
const minimalLocal = () => ({
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  PASSCODE_ENCRYPTION_KEYS: `k1:${key()}`,
  STATUS_LINK_KEYS: `s1:${key()}`,
  AUTH_MODE: 'none',
  AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
});
// What `gcloud iam workload-identity-pools create-cred-config … --azure` writes: where to exchange which token, no secret.
const keylessCredential = () =>
  JSON.stringify(
    testExternalAccountCredential({
      stsUrl: 'https://sts.googleapis.com/v1/token',
      impersonationUrl:
        'https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/reset-passcode@contoso-mdm.iam.gserviceaccount.com:generateAccessToken',
      audience:
        '//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/azure/providers/entra',
    }),
  );
const secretValues = (): Record<string, string> => ({
  'passcode-encryption-keys': `k2026:${key()}`,
  'status-link-keys': `s2026:${key()}`,
  'device-channel-secret': randomBytes(32).toString('hex'),
  'android-management-credentials': keylessCredential(),
});

/** The environment an instance would see: the template's settings, Key Vault references resolved, platform values. */
function instanceEnvironment(deployment: Deployment, secrets: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { WEBSITE_INSTANCE_ID: randomBytes(32).toString('hex') };
  const vault = deployment.resources.find((r) => r.type === 'Microsoft.KeyVault/vaults')?.name;
  const created = deployment.resources
    .filter((r) => r.type === 'Microsoft.KeyVault/vaults/secrets')
    .map((r) => r.name.split('/')[1]);
  for (const [name, value] of Object.entries(appSettingsOf(deployment))) {
    const reference = /^@Microsoft\.KeyVault\(VaultName=([^;]+);SecretName=([^;)]+)\)$/.exec(value);
    if (reference) {
      // The platform resolves a reference only if the vault and the secret are the ones the template made.
      expect(reference[1]).toBe(vault);
      expect(created).toContain(reference[2]);
      env[name] = secrets[reference[2] ?? ''] ?? '';
    } else {
      env[name] = value;
    }
  }
  const auth = deployment.resources.find((r) => r.name.endsWith('/authsettingsV2'));
  if ((auth?.body.properties as any)?.platform?.enabled === true) env.WEBSITE_AUTH_ENABLED = 'True';
  return env;
}

/** The value of a deployment's output. */
const output = (deployment: Deployment, name: string) => (deployment.outputs[name] as { value?: ArmValue })?.value;

/** A first deployment: the documented parameters, with the secrets given on the command line. */
const firstDeployment = (scenario: Record<string, ArmValue>, secrets = secretValues()) =>
  deploy(template(), {
    ...exampleValues(),
    ...scenario,
    passcodeEncryptionKeys: secrets['passcode-encryption-keys'] ?? '',
    statusLinkKeys: secrets['status-link-keys'] ?? '',
    deviceChannelSecret: scenario.deviceChannel === 'webhook' ? (secrets['device-channel-secret'] ?? '') : '',
    androidManagementCredentials:
      scenario.deviceChannel === 'androidManagement' ? (secrets['android-management-credentials'] ?? '') : '',
  });

describe('the template and the app agree on settings', () => {
  for (const [name, scenario] of Object.entries(SCENARIOS)) {
    it(`${name}: the app starts on what the template sets, in Azure`, () => {
      const secrets = secretValues();
      const deployment = firstDeployment(scenario, secrets);
      const config = parseConfig(instanceEnvironment(deployment, secrets));
      expect(config.AUTH_MODE).toBe(scenario.authMode);
      expect(config.DEVICE_CHANNEL).toBe(scenario.deviceChannel);
      expect(config.PUBLIC_BASE_URL).toMatch(/^https:\/\/[^/]+$/);
      // Keyless storage, the user-assigned identity's client id.
      expect(config.AzureWebJobsStorage).toBeUndefined();
      expect(config).toMatchObject({
        AzureWebJobsStorage__credential: 'managedidentity',
        AzureWebJobsStorage__accountName: expect.stringMatching(/^st[a-z0-9]{13}$/),
      });
    });
  }

  it('sets nothing the app does not know, except the runtime settings listed here', () => {
    const known = new Set([...Object.keys(ConfigSchema.shape), ...RUNTIME_SETTINGS]);
    for (const scenario of Object.values(SCENARIOS)) {
      const unknown = Object.keys(appSettingsOf(firstDeployment(scenario))).filter((s) => !known.has(s));
      expect(unknown).toEqual([]);
    }
  });

  it('leaves the platform-provided and the Flex-deprecated settings alone', () => {
    const settings = Object.keys(appSettingsOf(firstDeployment(SCENARIOS['entra, webhook gateway'] ?? {})));
    expect(settings.filter((s) => PLATFORM_PROVIDED.includes(s) || FLEX_DEPRECATED.includes(s))).toEqual([]);
  });

  it('fails the check when a required setting is missing or an unknown one is added (the check can fail)', () => {
    const secrets = secretValues();
    const withoutBaseUrl = template();
    const appSettings = withoutBaseUrl.resources.find((r: any) =>
      String(r.name).endsWith("/appsettings', parameters('appName'))]"),
    );
    delete appSettings.properties.PUBLIC_BASE_URL;
    delete appSettings.properties.AzureWebJobsStorage__accountName;
    const deployment = deploy(withoutBaseUrl, {
      ...exampleValues(),
      passcodeEncryptionKeys: 'x',
      statusLinkKeys: 'y',
      deviceChannelSecret: 'z',
    });
    expect(() => parseConfig(instanceEnvironment(deployment, secrets))).toThrow(ConfigError);
    expect(() => parseConfig(instanceEnvironment(deployment, secrets))).toThrow(/PUBLIC_BASE_URL/);
    expect(() => parseConfig(instanceEnvironment(deployment, secrets))).toThrow(/AzureWebJobsStorage__tableServiceUri/);
    appSettings.properties.REST_PASSCODE_HOURS = '12';
    const known = new Set([...Object.keys(ConfigSchema.shape), ...RUNTIME_SETTINGS]);
    expect(Object.keys(appSettingsOf(deploy(withoutBaseUrl, exampleValues()))).filter((s) => !known.has(s))).toEqual([
      'REST_PASSCODE_HOURS',
    ]);
  });

  it('later deployments without secrets keep the vault as it is, and the app reports a missing secret by name', () => {
    const deployment = deploy(template(), exampleValues());
    expect(deployment.resources.filter((r) => r.type === 'Microsoft.KeyVault/vaults/secrets')).toEqual([]);
    // The references still point at the secrets; had they never been written, the platform leaves them unresolved.
    const settings = appSettingsOf(deployment);
    expect(() => parseConfig({ ...settings, WEBSITE_INSTANCE_ID: 'i' })).toThrow(
      /PASSCODE_ENCRYPTION_KEYS: is an unresolved Key Vault reference[\s\S]*STATUS_LINK_KEYS: is an unresolved Key Vault reference/,
    );
  });
});

describe('the Android Management channel', () => {
  const keyless = SCENARIOS['entra, Android Management, keyless'] ?? {};
  const secretsOf = (deployment: Deployment) =>
    deployment.resources.filter((r) => r.type === 'Microsoft.KeyVault/vaults/secrets');
  const credentialSecret = (deployment: Deployment) =>
    secretsOf(deployment).find((r) => r.name.endsWith('/android-management-credentials'));
  /** The required parameters only: what a deployment gets from the template's defaults. */
  const defaultsOnly = () => ({ apiClientId: exampleValues().apiClientId ?? '' });

  it('is the default channel; webhook and simulated stay allowed, and the app knows each', () => {
    const { deviceChannel } = template().parameters;
    expect(deviceChannel.defaultValue).toBe('androidManagement');
    expect([...deviceChannel.allowedValues].sort()).toEqual([...DEVICE_CHANNELS].sort());
    const deployment = deploy(template(), defaultsOnly());
    expect(deployment.parameters.deviceChannel).toBe('androidManagement');
    expect(appSettingsOf(deployment).DEVICE_CHANNEL).toBe('androidManagement');
  });

  it('takes its parameters with the defaults the app has', () => {
    const { parameters } = template();
    const defaults = parseConfig(minimalLocal());
    expect(parameters.androidManagementEnterprise).toMatchObject({ type: 'string', defaultValue: '' });
    expect(parameters.androidManagementCredentials).toMatchObject({ type: 'securestring', defaultValue: '' });
    expect(parameters.androidManagementCommandHours).toMatchObject({
      type: 'int',
      defaultValue: defaults.ANDROID_MANAGEMENT_COMMAND_HOURS,
      minValue: 1,
    });
    // The app refuses a command that outlives the passcode's display (ANDROID_MANAGEMENT_COMMAND_HOURS).
    expect(parameters.androidManagementCommandHours.maxValue).toBe(defaults.PASSCODE_DISPLAY_HOURS);
    expect(parameters.androidManagementLockNow).toMatchObject({
      type: 'bool',
      defaultValue: defaults.ANDROID_MANAGEMENT_LOCK_NOW,
    });
    expect(parameters.androidManagementPushAudience).toMatchObject({ type: 'string', defaultValue: '' });
    expect(parameters.androidManagementPushServiceAccount).toMatchObject({ type: 'string', defaultValue: '' });
  });

  it('is keyless by default: the credential configuration goes through Key Vault, tokens come from the identity', () => {
    const secrets = secretValues();
    const deployment = firstDeployment(keyless, secrets);
    const settings = appSettingsOf(deployment);
    const vault = deployment.resources.find((r) => r.type === 'Microsoft.KeyVault/vaults')?.name;
    expect(settings.ANDROID_MANAGEMENT_CREDENTIALS).toBe(
      `@Microsoft.KeyVault(VaultName=${vault};SecretName=android-management-credentials)`,
    );
    expect((credentialSecret(deployment)?.body.properties as any)?.value).toBe(
      secrets['android-management-credentials'],
    );
    const config = parseConfig(instanceEnvironment(deployment, secrets));
    expect(config.ANDROID_MANAGEMENT_ENTERPRISE).toBe(ENTERPRISE);
    expect(JSON.parse(config.ANDROID_MANAGEMENT_CREDENTIALS ?? '{}')).toMatchObject({ type: 'external_account' });
    expect(config.ANDROID_MANAGEMENT_CREDENTIALS).not.toMatch(/private_key/);
    // The Entra audience the Google provider allows (docs/android-management.md) is the app's default: the template
    // leaves it, Google's API root and its push keys alone.
    for (const setting of [
      'ANDROID_MANAGEMENT_FEDERATION_AUDIENCE',
      'ANDROID_MANAGEMENT_ROOT_URL',
      'ANDROID_MANAGEMENT_PUSH_JWKS_URL',
    ]) {
      expect(settings).not.toHaveProperty(setting);
    }
    expect(config.ANDROID_MANAGEMENT_FEDERATION_AUDIENCE).toBe('api://AzureADTokenExchange');
    expect(config.ANDROID_MANAGEMENT_ROOT_URL).toBe('https://androidmanagement.googleapis.com/');
    // The subject token is the user-assigned identity's (lib/deps.ts), the one that also reaches storage keyless.
    expect(config.AzureWebJobsStorage__clientId).toBe(output(deployment, 'managedIdentityClientId'));
    expect(config.AzureWebJobsStorage__credential).toBe('managedidentity');
    expect(config.AzureWebJobsStorage).toBeUndefined();
    // No gateway settings, no push without its settings, no lock.
    expect(config).toMatchObject({ DEVICE_CHANNEL_URL: undefined, DEVICE_CHANNEL_SECRET: undefined });
    expect(config).toMatchObject({
      ANDROID_MANAGEMENT_PUSH_AUDIENCE: undefined,
      ANDROID_MANAGEMENT_PUSH_SERVICE_ACCOUNT: undefined,
      ANDROID_MANAGEMENT_LOCK_NOW: false,
      ANDROID_MANAGEMENT_COMMAND_HOURS: 24,
    });
  });

  it('takes a service account key the same way, through Key Vault', () => {
    const secrets = {
      ...secretValues(),
      'android-management-credentials': JSON.stringify(testServiceAccountKey('https://oauth2.googleapis.com/token')),
    };
    const deployment = firstDeployment(keyless, secrets);
    expect(appSettingsOf(deployment).ANDROID_MANAGEMENT_CREDENTIALS).toMatch(
      /^@Microsoft\.KeyVault\(VaultName=[^;]+;SecretName=android-management-credentials\)$/,
    );
    const config = parseConfig(instanceEnvironment(deployment, secrets));
    expect(JSON.parse(config.ANDROID_MANAGEMENT_CREDENTIALS ?? '{}')).toMatchObject({ type: 'service_account' });
  });

  it('passes the command hours, LOCK_NOW and the push pair through', () => {
    const secrets = secretValues();
    const scenario = SCENARIOS['App Service Authentication, Android Management with Pub/Sub push and LOCK_NOW'] ?? {};
    const config = parseConfig(instanceEnvironment(firstDeployment(scenario, secrets), secrets));
    expect(config).toMatchObject({
      ANDROID_MANAGEMENT_COMMAND_HOURS: 12,
      ANDROID_MANAGEMENT_LOCK_NOW: true,
      ANDROID_MANAGEMENT_PUSH_AUDIENCE: scenario.androidManagementPushAudience,
      ANDROID_MANAGEMENT_PUSH_SERVICE_ACCOUNT: PUSH_SERVICE_ACCOUNT,
    });
    // Half the pair reaches the app as it is given, and the app names the other half.
    const half = firstDeployment({ ...keyless, androidManagementPushServiceAccount: PUSH_SERVICE_ACCOUNT }, secrets);
    expect(() => parseConfig(instanceEnvironment(half, secrets))).toThrow(
      /ANDROID_MANAGEMENT_PUSH_AUDIENCE: and ANDROID_MANAGEMENT_PUSH_SERVICE_ACCOUNT go together/,
    );
  });

  it('a first deployment without the credential writes no secret, and the app names the missing credential', () => {
    const deployment = deploy(template(), { ...exampleValues(), ...keyless });
    expect(credentialSecret(deployment)).toBeUndefined();
    expect(() => parseConfig({ ...appSettingsOf(deployment), WEBSITE_INSTANCE_ID: 'i' })).toThrow(
      /ANDROID_MANAGEMENT_CREDENTIALS: is an unresolved Key Vault reference/,
    );
  });

  it('sets its settings only with its channel, and the gateway settings only with webhook', () => {
    const android = {
      androidManagementEnterprise: ENTERPRISE,
      androidManagementCredentials: keylessCredential(),
      androidManagementLockNow: true,
      androidManagementPushAudience: 'audience',
      androidManagementPushServiceAccount: PUSH_SERVICE_ACCOUNT,
    };
    for (const deviceChannel of ['webhook', 'simulated']) {
      const deployment = deploy(template(), { ...exampleValues(), ...android, deviceChannel });
      expect(credentialSecret(deployment)).toBeUndefined();
      const settings = appSettingsOf(deployment);
      expect(settings).toMatchObject({
        ANDROID_MANAGEMENT_ENTERPRISE: '',
        ANDROID_MANAGEMENT_CREDENTIALS: '',
        ANDROID_MANAGEMENT_LOCK_NOW: '',
        ANDROID_MANAGEMENT_PUSH_AUDIENCE: '',
        ANDROID_MANAGEMENT_PUSH_SERVICE_ACCOUNT: '',
      });
      expect(output(deployment, 'androidManagementPushEndpoint')).toBe('');
    }
    // exampleValues() names a gateway URL: only the webhook channel gets it.
    const settings = appSettingsOf(deploy(template(), { ...exampleValues(), ...android }));
    expect(settings).toMatchObject({ DEVICE_CHANNEL: 'webhook', DEVICE_CHANNEL_URL: exampleValues().deviceChannelUrl });
    const androidSettings = appSettingsOf(deploy(template(), { ...exampleValues(), ...keyless }));
    expect(androidSettings).toMatchObject({ DEVICE_CHANNEL_URL: '', DEVICE_CHANNEL_SECRET: '' });
  });

  it('outputs what Google needs for workload identity federation, and the push endpoint', () => {
    const t = template();
    // The subject Google's provider sees is the identity's object id: the principal the roles are granted to.
    const roleAssignment = t.resources.find((r: any) => r.type === 'Microsoft.Authorization/roleAssignments');
    expect(t.outputs.managedIdentityPrincipalId).toEqual({
      type: 'string',
      value: roleAssignment.properties.principalId,
    });
    // The issuer is the identity's tenant (the subscription's), even when the API's registration is in another one.
    const elsewhere = deploy(t, { ...exampleValues(), ...keyless, tenantId: '00000000-0000-0000-0000-0000000000cc' });
    const subscriptionTenant = deploy(t, defaultsOnly()).parameters.tenantId;
    expect(output(elsewhere, 'tenantId')).toBe(subscriptionTenant);
    expect(output(elsewhere, 'tenantId')).not.toBe(elsewhere.parameters.tenantId);
    // The push route the app registers, under host.json's route prefix, at the app's public origin.
    const { routePrefix } = read('host.json').extensions.http;
    expect(output(elsewhere, 'androidManagementPushEndpoint')).toBe(
      `${appSettingsOf(elsewhere).PUBLIC_BASE_URL}/${routePrefix}/${PUSH_ROUTES.androidManagementNotifications.route}`,
    );
  });
});

describe('the template creates what the app uses, with least privilege', () => {
  const deployment = () => firstDeployment(SCENARIOS['entra, webhook gateway'] ?? {});
  const of = (type: string) => deployment().resources.filter((r) => r.type === type);

  it('creates the tables and queues named in lib/deps.ts STORAGE_NAMES, and the deployment container', () => {
    const names = (type: string) => of(type).map((r) => r.name.split('/').at(-1));
    expect(names('Microsoft.Storage/storageAccounts/tableServices/tables').sort()).toEqual(
      Object.values(STORAGE_NAMES.tables).sort(),
    );
    const { tables: _, ...queues } = STORAGE_NAMES;
    expect(names('Microsoft.Storage/storageAccounts/queueServices/queues').sort()).toEqual(
      Object.values(queues).sort(),
    );
    // The inventory sync's page queue and its poison queue, also on this webhook deployment: the queue trigger is
    // registered whatever the channel.
    expect(names('Microsoft.Storage/storageAccounts/queueServices/queues')).toEqual(
      expect.arrayContaining(['device-sync', 'device-sync-poison']),
    );
    const site = of('Microsoft.Web/sites')[0]?.body.properties as any;
    const container = names('Microsoft.Storage/storageAccounts/blobServices/containers')[0];
    expect(site.functionAppConfig.deployment.storage.value).toMatch(new RegExp(`${container}$`));
    expect(site.functionAppConfig.deployment.storage.authentication.type).toBe('UserAssignedIdentity');
  });

  it('grants the identity data roles only, each on the one resource that needs it', () => {
    const identity = of('Microsoft.ManagedIdentity/userAssignedIdentities')[0]?.name;
    const template_ = template();
    const assignments = template_.resources.filter((r: any) => r.type === 'Microsoft.Authorization/roleAssignments');
    const roles = template_.variables.roles as Record<string, string>;
    const granted = assignments.map((a: any) => {
      const role = /variables\('roles'\)\.(\w+)\)\]$/.exec(a.properties.roleDefinitionId)?.[1] ?? '';
      return {
        role,
        id: roles[role],
        scope: a.scope,
        principal: a.properties.principalId,
        type: a.properties.principalType,
      };
    });
    expect(granted.map((g: any) => `${g.role} on ${g.scope}`).sort()).toEqual(
      [
        "keyVaultSecretsUser on [variables('keyVaultId')]",
        "monitoringMetricsPublisher on [variables('insightsId')]",
        "storageBlobDataOwner on [format('{0}/blobServices/default/containers/{1}', variables('storageId'), variables('blobOwnerContainers')[copyIndex()])]",
        "storageQueueDataContributor on [variables('storageId')]",
        "storageTableDataContributor on [variables('storageId')]",
      ].sort(),
    );
    // The built-in role ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles); none of
    // Owner, Contributor, User Access Administrator, Storage Account Contributor, Key Vault Administrator/Officer.
    expect(roles).toEqual({
      storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
      storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
      storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
      keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
      monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
    });
    for (const g of granted) {
      expect(g.principal).toBe("[reference(variables('identityId'), '2024-11-30').principalId]");
      expect(g.type).toBe('ServicePrincipal');
    }
    expect(identity).toMatch(/-identity$/);
  });

  it('grants blob data only on the deployment container and the host containers, never on the account', () => {
    const storage = of('Microsoft.Storage/storageAccounts')[0]?.name;
    const blobOwner = `/providers/Microsoft.Authorization/roleDefinitions/${template().variables.roles.storageBlobDataOwner}`;
    const scopes = of('Microsoft.Authorization/roleAssignments')
      .filter((r) => String((r.body.properties as any).roleDefinitionId).endsWith(blobOwner))
      .map((r) => String(r.body.scope));
    const account = `/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-reset-passcode/providers/Microsoft.Storage/storageAccounts/${storage}`;
    expect(scopes.sort()).toEqual(
      ['app-package', 'azure-webjobs-hosts', 'azure-webjobs-secrets'].map(
        (c) => `${account}/blobServices/default/containers/${c}`,
      ),
    );
    // Each container the role names exists in the template, and the site deploys from the first of them.
    const containers = of('Microsoft.Storage/storageAccounts/blobServices/containers').map((r) => r.name);
    expect(containers.sort()).toEqual(
      ['app-package', 'azure-webjobs-hosts', 'azure-webjobs-secrets'].map((c) => `${storage}/default/${c}`),
    );
    const site = of('Microsoft.Web/sites')[0]?.body.properties as any;
    expect(site.functionAppConfig.deployment.storage.value).toMatch(/app-package$/);
  });

  it('runs Node.js 22 on Flex Consumption, HTTPS only, TLS 1.2+, FTP and basic publishing off, no shared keys', () => {
    expect(of('Microsoft.Web/serverfarms')[0]?.body.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
    const site = of('Microsoft.Web/sites')[0]?.body.properties as any;
    expect(site.functionAppConfig.runtime).toEqual({ name: 'node', version: '22' });
    expect(read('package.json').engines.node).toMatch(/^>=22\b/);
    expect(site.httpsOnly).toBe(true);
    expect(site.siteConfig).toMatchObject({ minTlsVersion: '1.2', ftpsState: 'Disabled' });
    expect(site.siteConfig.cors.allowedOrigins).toEqual(example().parameters.corsAllowedOrigins.value);
    expect(of('Microsoft.Web/sites/basicPublishingCredentialsPolicies').map((r) => r.body.properties)).toEqual([
      { allow: false },
      { allow: false },
    ]);
    const properties = (type: string): any => of(type)[0]?.body.properties ?? {};
    expect(properties('Microsoft.Storage/storageAccounts').allowSharedKeyAccess).toBe(false);
    expect(properties('Microsoft.KeyVault/vaults').enableRbacAuthorization).toBe(true);
    expect(properties('Microsoft.Insights/components').DisableLocalAuth).toBe(true);
  });

  it('turns App Service Authentication on only for AUTH_MODE=appService', () => {
    const auth = (authMode: string) =>
      deploy(template(), { ...exampleValues(), authMode }).resources.filter((r) => r.name.endsWith('/authsettingsV2'));
    expect(auth('entra')).toEqual([]);
    const [settings] = auth('appService');
    expect(settings?.body.properties).toMatchObject({
      platform: { enabled: true },
      // docs/security.md: "Require authentication" and HTTP 401, except where the app serves callers without a
      // token of this API (health, the documents, the console's page, Pub/Sub's push, signed status links).
      globalValidation: { requireAuthentication: true, unauthenticatedClientAction: 'Return401' },
      identityProviders: {
        azureActiveDirectory: { enabled: true, registration: { clientId: exampleValues().apiClientId } },
      },
    });
  });

  it('in appService mode, lets anonymous requests through only on the paths the app serves without a caller', () => {
    const properties = (values: Record<string, ArmValue>): any =>
      deploy(template(), { ...exampleValues(), authMode: 'appService', ...values }).resources.find((r) =>
        r.name.endsWith('/authsettingsV2'),
      )?.body.properties;
    const excluded: string[] = properties({}).globalValidation.excludedPaths;
    // A trailing "*" matches any rest of the path (App Service's excludedPaths); anything else matches exactly.
    const isExcluded = (path: string) =>
      excluded.some((e) => (e.endsWith('/*') ? path.startsWith(e.slice(0, -1)) : path === e));
    for (const path of [
      '/api/health',
      '/api/openapi.json',
      '/api/swagger.json',
      '/api/console/devices/d-1',
      `/api/${PUSH_ROUTES.androidManagementNotifications.route}`,
      '/api/deviceManagement/managedDevices/d-1/deviceActionResults/a-1',
    ]) {
      expect(isExcluded(path), path).toBe(true);
    }
    for (const path of [
      '/api/me',
      '/api/deviceManagement/managedDevices',
      '/api/deviceManagement/deviceActionResults',
      '/api/deviceManagement/auditEvents',
      '/api/deviceManagement/subscriptions',
      '/api/deviceManagement/androidManagement/sync',
    ]) {
      expect(isExcluded(path), path).toBe(false);
    }
  });

  it('in appService mode, allows the same client applications at App Service and in the app', () => {
    const deployment = (allowedClientIds: string) =>
      deploy(template(), { ...exampleValues(), authMode: 'appService', allowedClientIds });
    const allowedApplications = (d: Deployment): any =>
      (d.resources.find((r) => r.name.endsWith('/authsettingsV2'))?.body.properties as any)?.identityProviders
        .azureActiveDirectory.validation.defaultAuthorizationPolicy.allowedApplications;
    const apiClientId = String(exampleValues().apiClientId);
    const listed = deployment('11111111-1111-1111-1111-111111111111, 22222222-2222-2222-2222-222222222222');
    // The API's own registration is App Service's client when the console signs in through its session.
    const expected = ['11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222', apiClientId];
    expect(allowedApplications(listed)).toEqual(expected);
    expect(appSettingsOf(listed).AUTH_ALLOWED_CLIENT_IDS).toBe(expected.join(','));
    const any = deployment('');
    expect(allowedApplications(any)).toBeNull();
    expect(appSettingsOf(any).AUTH_ALLOWED_CLIENT_IDS).toBe('');
    const entra = deploy(template(), { ...exampleValues(), authMode: 'entra', allowedClientIds: 'a, b' });
    expect(appSettingsOf(entra).AUTH_ALLOWED_CLIENT_IDS).toBe('a,b');
  });
});

describe('privateNetworking: storage and Key Vault closed to the internet', () => {
  const NETWORK_TYPES = [
    'Microsoft.Network/virtualNetworks',
    'Microsoft.Network/privateDnsZones',
    'Microsoft.Network/privateDnsZones/virtualNetworkLinks',
    'Microsoft.Network/privateEndpoints',
    'Microsoft.Network/privateEndpoints/privateDnsZoneGroups',
  ];
  const deployment = (privateNetworking?: boolean) =>
    deploy(template(), { ...exampleValues(), ...(privateNetworking !== undefined && { privateNetworking }) });
  const of = (d: Deployment, type: string) => d.resources.filter((r) => r.type === type);
  const properties = (d: Deployment, type: string): any => of(d, type)[0]?.body.properties;

  it('is off by default: public access as before, no network resources, no VNet integration', () => {
    expect(template().parameters.privateNetworking.defaultValue).toBe(false);
    const d = deployment();
    for (const type of NETWORK_TYPES) expect(of(d, type), type).toEqual([]);
    for (const type of ['Microsoft.Storage/storageAccounts', 'Microsoft.KeyVault/vaults']) {
      expect(properties(d, type).publicNetworkAccess).toBe('Enabled');
    }
    expect(properties(d, 'Microsoft.Web/sites').virtualNetworkSubnetId).toBeNull();
  });

  it('on: public access off, a private endpoint and DNS zone for blob, queue, table and vault, the app in the VNet', () => {
    const d = deployment(true);
    for (const type of ['Microsoft.Storage/storageAccounts', 'Microsoft.KeyVault/vaults']) {
      expect(properties(d, type), type).toMatchObject({
        publicNetworkAccess: 'Disabled',
        networkAcls: { defaultAction: 'Deny' },
      });
    }
    const [vnet] = of(d, 'Microsoft.Network/virtualNetworks');
    const subnets = (vnet?.body.properties as any)?.subnets;
    expect(subnets.map((s: any) => [s.name, s.properties.addressPrefix])).toEqual([
      ['app', '10.90.0.0/24'],
      ['private-endpoints', '10.90.1.0/24'],
    ]);
    // Flex Consumption integrates with a subnet delegated to Microsoft.App/environments.
    expect(subnets[0].properties.delegations[0].properties.serviceName).toBe('Microsoft.App/environments');
    expect(properties(d, 'Microsoft.Web/sites').virtualNetworkSubnetId).toMatch(
      new RegExp(`/virtualNetworks/${vnet?.name}/subnets/app$`),
    );
    const zones = of(d, 'Microsoft.Network/privateDnsZones').map((r) => r.name);
    expect(zones).toEqual([
      'privatelink.blob.core.windows.net',
      'privatelink.queue.core.windows.net',
      'privatelink.table.core.windows.net',
      'privatelink.vaultcore.azure.net',
    ]);
    const links = of(d, 'Microsoft.Network/privateDnsZones/virtualNetworkLinks');
    expect(links.map((r) => r.name.split('/')[0])).toEqual(zones);
    for (const link of links) expect((link.body.properties as any).virtualNetwork.id).toMatch(/\/virtualNetworks\//);
    const storage = of(d, 'Microsoft.Storage/storageAccounts')[0]?.name ?? '';
    const vault = of(d, 'Microsoft.KeyVault/vaults')[0]?.name ?? '';
    const endpoints = of(d, 'Microsoft.Network/privateEndpoints').map((r) => {
      const [connection] = (r.body.properties as any).privateLinkServiceConnections;
      return [connection.properties.groupIds[0], connection.properties.privateLinkServiceId.split('/').at(-1)];
    });
    expect(endpoints).toEqual([
      ['blob', storage],
      ['queue', storage],
      ['table', storage],
      ['vault', vault],
    ]);
    const groups = of(d, 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups').map((r) =>
      (r.body.properties as any).privateDnsZoneConfigs[0].properties.privateDnsZoneId.split('/').at(-1),
    );
    expect(groups).toEqual(zones);
  });
});

describe('the app registration files (infra/app-registration.md)', () => {
  it('define exactly the roles the app checks and the scope it requires, for v2 tokens like AUTH_ISSUER', () => {
    const roles = read('infra/app-roles.json');
    expect(roles.map((r: any) => r.value).sort()).toEqual([...ALL_ROLES].sort());
    for (const role of roles) {
      expect(role).toMatchObject({ isEnabled: true, allowedMemberTypes: ['User', 'Application'] });
      expect(role.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
    expect(new Set(roles.map((r: any) => r.id)).size).toBe(roles.length);
    const { api } = read('infra/app-api.json');
    expect(api.requestedAccessTokenVersion).toBe(2);
    expect(api.oauth2PermissionScopes.map((s: any) => s.value)).toEqual([
      parseConfig({ ...minimalLocal() }).AUTH_REQUIRED_SCOPE,
    ]);
    const settings = appSettingsOf(firstDeployment(SCENARIOS['entra, webhook gateway'] ?? {}));
    expect(settings.AUTH_ISSUER).toBe(
      `https://login.microsoftonline.com/${deploy(template(), exampleValues()).parameters.tenantId}/v2.0`,
    );
    expect(settings.AUTH_AUDIENCE).toBe(exampleValues().apiClientId);
  });
});

describe('no storage key, connection string or inline secret in the template', () => {
  const leaks = (t: any, parametersFile?: any) => findSecretLeaks(t, exampleValues(), parametersFile);
  const appSettings = (t: any) =>
    t.resources.find((r: any) => String(r.name).endsWith("/appsettings', parameters('appName'))]")).properties;

  it('finds none in the template and the example parameters file', () => {
    expect(leaks(template(), example())).toEqual([]);
  });

  it('finds none with the Android Management channel, whose credential secret the check then sees', () => {
    const values = { ...exampleValues(), deviceChannel: 'androidManagement', androidManagementEnterprise: ENTERPRISE };
    expect(findSecretLeaks(template(), values)).toEqual([]);
    // The check gives every secure parameter a value, so the credential's secret resource is among what it scanned.
    const scanned = deploy(template(), { ...values, androidManagementCredentials: 'x' }).resources.map((r) => r.name);
    expect(scanned.filter((name) => name.endsWith('/android-management-credentials'))).toHaveLength(1);
  });

  const mutations: [string, (t: any) => void, RegExp][] = [
    [
      'a connection string built with listKeys()',
      (t) => {
        appSettings(t).AzureWebJobsStorage =
          "[format('DefaultEndpointsProtocol=https;AccountName={0};AccountKey={1}', variables('storageAccountName'), listKeys(variables('storageId'), '2026-04-01').keys[0].value)]";
      },
      /AccountKey=[\s\S]*listKeys|app setting AzureWebJobsStorage: a storage connection string/,
    ],
    [
      'a literal storage key in a variable',
      (t) => {
        t.variables.storageKey = `${randomBytes(64).toString('base64')}`;
      },
      /variables\.storageKey: an inline key/,
    ],
    [
      'shared key access turned back on',
      (t) => {
        t.resources.find((r: any) => r.type === 'Microsoft.Storage/storageAccounts').properties.allowSharedKeyAccess =
          true;
      },
      /allowSharedKeyAccess must be false/,
    ],
    [
      'an inline passcode key in an app setting',
      (t) => {
        appSettings(t).PASSCODE_ENCRYPTION_KEYS = `k1:${randomBytes(32).toString('base64')}`;
      },
      /PASSCODE_ENCRYPTION_KEYS: an inline key[\s\S]*app setting PASSCODE_ENCRYPTION_KEYS: a secret setting must be a Key Vault reference/,
    ],
    [
      'a secure parameter passed straight into an app setting',
      (t) => {
        appSettings(t).STATUS_LINK_KEYS = "[parameters('statusLinkKeys')]";
      },
      /app setting STATUS_LINK_KEYS[\s\S]*carries secure parameter statusLinkKeys|STATUS_LINK_KEYS: carries secure parameter statusLinkKeys/,
    ],
    [
      'the Google credential passed straight into an app setting',
      (t) => {
        appSettings(t).ANDROID_MANAGEMENT_CREDENTIALS = "[parameters('androidManagementCredentials')]";
      },
      /app setting ANDROID_MANAGEMENT_CREDENTIALS[\s\S]*carries secure parameter androidManagementCredentials|ANDROID_MANAGEMENT_CREDENTIALS: carries secure parameter androidManagementCredentials/,
    ],
    [
      'a secure parameter with a default value',
      (t) => {
        t.parameters.deviceChannelSecret.defaultValue = 'correct horse battery staple';
      },
      /parameters\.deviceChannelSecret: a secure parameter with a default value/,
    ],
    [
      'a secret parameter that is not secure',
      (t) => {
        t.parameters.gatewayPassword = { type: 'string', defaultValue: '' };
      },
      /parameters\.gatewayPassword: looks like a secret but is not a securestring/,
    ],
    [
      'a secret echoed in an output',
      (t) => {
        t.outputs.keys = { type: 'string', value: "[parameters('passcodeEncryptionKeys')]" };
      },
      /outputs\.keys\.value: carries secure parameter passcodeEncryptionKeys/,
    ],
    [
      'a SAS token in the deployment storage URL',
      (t) => {
        t.variables.deploymentContainer = 'app-package?sv=2024-01-01&sig=AbCdEf0123456789%2B';
      },
      /a SAS token/,
    ],
    [
      'a Key Vault secret written from a literal',
      (t) => {
        t.resources.find((r: any) => r.type === 'Microsoft.KeyVault/vaults/secrets').properties.value = 'k1:hunter2';
      },
      /a Key Vault secret's value must be a securestring parameter/,
    ],
  ];
  for (const [what, mutate, expected] of mutations) {
    it(`catches ${what}`, () => {
      const t = template();
      mutate(t);
      expect(leaks(t).join('\n')).toMatch(expected);
    });
  }

  it('catches a secret value in a parameters file', () => {
    const parameters = example();
    parameters.parameters.passcodeEncryptionKeys = { value: `k1:${randomBytes(32).toString('base64')}` };
    expect(leaks(template(), parameters).join('\n')).toMatch(
      /parameters file[\s\S]*an inline key[\s\S]*parameters file passcodeEncryptionKeys: a secure parameter with a value/,
    );
  });
});
