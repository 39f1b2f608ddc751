// Checks of infra/azuredeploy.json beyond its schema: what a deployment with given parameters would create (for the
// test that the template and the app agree on settings), and that no key, connection string or secret is in it.
import { ArmExpressionError, type ArmValue, evaluate, isExpression, literalsOf } from './armExpressions';

type JsonObject = { [key: string]: ArmValue };
const isObject = (value: ArmValue | undefined): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const SECURE_TYPES = new Set(['securestring', 'secureobject']);

interface DeployedResource {
  type: string;
  name: string;
  /** The resource with every expression evaluated (template-language keys left out). */
  body: JsonObject;
}

export interface Deployment {
  parameters: Record<string, ArmValue>;
  resources: DeployedResource[];
  outputs: Record<string, ArmValue>;
}

const parametersOf = (template: JsonObject): JsonObject => (isObject(template.parameters) ? template.parameters : {});

function secureParameterNames(template: JsonObject): string[] {
  return Object.entries(parametersOf(template))
    .filter(([, p]) => isObject(p) && typeof p.type === 'string' && SECURE_TYPES.has(p.type.toLowerCase()))
    .map(([name]) => name);
}

/**
 * What ARM would deploy with these parameter values (over the template's defaults): conditions evaluated, copy
 * loops expanded, every expression evaluated with stand-ins for what only Azure knows (tools/armExpressions.ts).
 */
export function deploy(template: JsonObject, given: Record<string, ArmValue>): Deployment {
  const variables = isObject(template.variables) ? template.variables : {};
  const parameters: Record<string, ArmValue> = {};
  for (const [name, definition] of Object.entries(parametersOf(template))) {
    if (name in given) parameters[name] = given[name] ?? null;
    else if (isObject(definition) && 'defaultValue' in definition) {
      parameters[name] = evaluate(definition.defaultValue ?? null, { parameters, variables });
    }
  }
  const resources: DeployedResource[] = [];
  const list = Array.isArray(template.resources) ? template.resources : [];
  for (const resource of list) {
    if (!isObject(resource)) continue;
    const copy = isObject(resource.copy) ? resource.copy : undefined;
    const count = copy ? Number(evaluate(copy.count ?? 0, { parameters, variables })) : 1;
    for (let copyIndex = 0; copyIndex < count; copyIndex++) {
      const context = { parameters, variables, copyIndex };
      if (resource.condition !== undefined && evaluate(resource.condition, context) !== true) continue;
      const body: JsonObject = {};
      for (const [key, value] of Object.entries(resource)) {
        if (!['condition', 'copy', 'dependsOn', 'comments'].includes(key)) body[key] = evaluate(value, context);
      }
      resources.push({ type: String(body.type), name: String(body.name), body });
    }
  }
  const outputs = evaluate(isObject(template.outputs) ? template.outputs : {}, { parameters, variables });
  return { parameters, resources, outputs: isObject(outputs) ? outputs : {} };
}

/** The app settings a deployment sets: every `sites/config` appsettings resource and inline siteConfig.appSettings. */
export function appSettingsOf(deployment: Deployment): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const { type, name, body } of deployment.resources) {
    if (
      type.toLowerCase() === 'microsoft.web/sites/config' &&
      name.endsWith('/appsettings') &&
      isObject(body.properties)
    ) {
      for (const [key, value] of Object.entries(body.properties)) settings[key] = String(value);
    }
    const inline = isObject(body.properties) && isObject(body.properties.siteConfig) ? body.properties.siteConfig : {};
    for (const item of Array.isArray(inline.appSettings) ? inline.appSettings : []) {
      if (isObject(item)) settings[String(item.name)] = String(item.value);
    }
  }
  return settings;
}

// Storage account keys and connection strings, SAS tokens, and the template functions that read keys or secrets.
const STORAGE_SECRET_PATTERNS: [RegExp, string][] = [
  [/AccountKey\s*=/i, 'a storage account key (AccountKey=)'],
  [/DefaultEndpointsProtocol\s*=/i, 'a storage connection string (DefaultEndpointsProtocol=)'],
  [/SharedAccessSignature\s*=/i, 'a SAS connection string (SharedAccessSignature=)'],
  [/UseDevelopmentStorage\s*=/i, 'a development storage connection string'],
  [/[?&]sig=[A-Za-z0-9%+/=]{8,}/, 'a SAS token (sig=)'],
  [
    /\blist(Keys|AccountSas|ServiceSas|ConnectionStrings|Secrets|Credentials?)\s*\(/i,
    'a list*() function that reads keys or secrets',
  ],
];
const SECRET_SETTING = /(^|_)(KEYS?|SECRETS?|PASSWORDS?|TOKENS?)$/i;
const CONNECTION_STRING_SETTING = /CONNECTION_?STRING/i;
// Not a secret: it names the Application Insights resource; with local authentication off, ingestion needs the
// identity's Entra token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
const ALLOWED_CONNECTION_STRING_SETTINGS = new Set(['APPLICATIONINSIGHTS_CONNECTION_STRING']);
const KEY_VAULT_REFERENCE = '@Microsoft.KeyVault(';

/** A run of base64 long enough to be a 256-bit key (43+ characters) with upper case, lower case and digits. */
function looksLikeKey(text: string): boolean {
  for (const [run] of text.matchAll(/[A-Za-z0-9+/]{43,}={0,2}/g)) {
    if (/[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run)) return true;
  }
  return false;
}

function walkStrings(value: ArmValue, path: string, visit: (text: string, path: string) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) walkStrings(item, `${path}[${i}]`, visit);
  } else if (isObject(value)) {
    for (const [key, inner] of Object.entries(value)) {
      visit(key, `${path}.${key} (key)`);
      walkStrings(inner, `${path}.${key}`, visit);
    }
  }
}

function scanText(document: ArmValue, where: string): string[] {
  const found: string[] = [];
  walkStrings(document, where, (text, path) => {
    for (const [pattern, what] of STORAGE_SECRET_PATTERNS) if (pattern.test(text)) found.push(`${path}: ${what}`);
    if (literalsOf(text).some(looksLikeKey)) found.push(`${path}: an inline key (a long base64 literal)`);
  });
  return found;
}

const sentinel = (name: string) => `SENTINEL-${name}-7f3a9c`;

/**
 * Everything in the template (and optionally a parameters file) that puts a storage key, a connection string or a
 * secret where it does not belong. `parameters` gives values to required parameters; secure parameters get sentinel
 * values whose every appearance outside a Key Vault secret's value is reported. [] when nothing is found.
 */
export function findSecretLeaks(
  template: JsonObject,
  parameters: Record<string, ArmValue>,
  parametersFile?: JsonObject,
): string[] {
  const found = scanText(template, 'template');
  const secure = secureParameterNames(template);
  for (const [name, definition] of Object.entries(parametersOf(template))) {
    if (!isObject(definition)) continue;
    const defaultValue = definition.defaultValue;
    if (secure.includes(name)) {
      const empty =
        defaultValue === undefined ||
        defaultValue === '' ||
        (isObject(defaultValue) && !Object.keys(defaultValue).length);
      if (!empty) found.push(`parameters.${name}: a secure parameter with a default value (an inline secret)`);
    } else if (SECRET_SETTING.test(name.replace(/([a-z])([A-Z])/g, '$1_$2'))) {
      found.push(`parameters.${name}: looks like a secret but is not a securestring`);
    }
  }
  let deployment: Deployment;
  try {
    deployment = deploy(template, {
      ...parameters,
      ...Object.fromEntries(secure.map((name) => [name, sentinel(name)])),
    });
  } catch (error) {
    // What cannot be evaluated cannot be shown to be free of secrets.
    if (!(error instanceof ArmExpressionError)) throw error;
    return [...found, `template: cannot be evaluated (${error.message})`];
  }
  const leaked = (where: string, value: ArmValue) =>
    walkStrings(value, where, (text, path) => {
      for (const name of secure)
        if (text.includes(sentinel(name))) found.push(`${path}: carries secure parameter ${name}`);
    });
  for (const { type, name, body } of deployment.resources) {
    const where = `resource ${type} ${name}`;
    if (type.toLowerCase() === 'microsoft.keyvault/vaults/secrets') {
      const { properties, ...rest } = body;
      leaked(where, rest);
      const { value, ...otherProperties } = isObject(properties) ? properties : {};
      leaked(`${where}.properties`, otherProperties);
      if (!secure.some((s) => value === sentinel(s))) {
        found.push(`${where}: a Key Vault secret's value must be a securestring parameter, nothing else`);
      }
    } else {
      leaked(where, body);
    }
    if (type.toLowerCase() === 'microsoft.storage/storageaccounts') {
      const properties = isObject(body.properties) ? body.properties : {};
      if (properties.allowSharedKeyAccess !== false) {
        found.push(`${where}: allowSharedKeyAccess must be false (no account keys)`);
      }
    }
  }
  leaked('outputs', deployment.outputs);
  for (const [setting, value] of Object.entries(appSettingsOf(deployment))) {
    const where = `app setting ${setting}`;
    if (setting === 'AzureWebJobsStorage')
      found.push(`${where}: a storage connection string (use AzureWebJobsStorage__*)`);
    if (CONNECTION_STRING_SETTING.test(setting) && !ALLOWED_CONNECTION_STRING_SETTINGS.has(setting)) {
      found.push(`${where}: a connection string setting`);
    }
    if (SECRET_SETTING.test(setting) && value !== '' && !value.startsWith(KEY_VAULT_REFERENCE)) {
      found.push(`${where}: a secret setting must be a Key Vault reference`);
    }
    if (/InstrumentationKey=/i.test(value) && !isExpression(value)) {
      found.push(`${where}: a literal Application Insights connection string (take it from reference())`);
    }
  }
  if (parametersFile) {
    found.push(...scanText(parametersFile, 'parameters file'));
    const given = isObject(parametersFile.parameters) ? parametersFile.parameters : {};
    for (const name of secure) {
      const entry = given[name];
      if (isObject(entry) && 'value' in entry) {
        found.push(
          `parameters file ${name}: a secure parameter with a value (use a Key Vault reference or the command line)`,
        );
      }
    }
  }
  return found;
}
