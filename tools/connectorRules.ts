import { PNG } from 'pngjs';

/**
 * The Power Platform connector rules the project's connector files must pass, as a script: what Microsoft's swagger
 * validator reports on connector pull requests (its messages, quoted in maintainers' reviews, are cited per rule) and
 * what the certification and string guidelines require. The JSON schemas of the PowerPlatformConnectors repository
 * are checked by the tests (test/unit/connector/), which vendor them.
 *   https://learn.microsoft.com/connectors/custom-connectors/certification-submission
 *   https://learn.microsoft.com/connectors/custom-connectors/connector-string-guidance
 */

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** The largest icon the custom connector wizard uploads. */
const MAX_ICON_BYTES = 1024 * 1024;

/** "#0078D4" → [0, 120, 212]. */
function parseHexColor(color: string): [number, number, number] {
  const match = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!match) throw new Error(`not a #RRGGBB colour: ${color}`);
  return [
    Number.parseInt(match[1] ?? '', 16),
    Number.parseInt(match[2] ?? '', 16),
    Number.parseInt(match[3] ?? '', 16),
  ];
}

// biome-ignore lint/suspicious/noExplicitAny: connector files are arbitrary JSON, which every rule reads defensively
type Json = Record<string, any>;

export interface ConnectorFiles {
  definition: Json;
  properties: Json;
  readme: string;
  icon: Buffer;
}

export interface ConnectorRule {
  id: string;
  what: string;
  source: string;
  /** The problems found; none means the rule passes. */
  check(files: ConnectorFiles): string[];
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Every operation with its path and method. */
export const operationsOf = (definition: Json) =>
  Object.entries(definition.paths ?? {}).flatMap(([path, item]) =>
    Object.entries(item as Json)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, operation]) => ({ path, method, operation: operation as Json, where: `${method} ${path}` })),
  );

/** Power Platform product names a connector's texts may not use, and products whose back end it does not own. */
const PRODUCT_NAMES = [
  'Power Apps',
  'PowerApps',
  'Power Automate',
  'Logic Apps',
  'Power Platform',
  'Copilot Studio',
  'Intune',
  'Microsoft Graph',
];

const forbiddenWords = (text: string, extra: readonly string[] = []): string[] =>
  [...PRODUCT_NAMES, ...extra].filter((word) => new RegExp(`\\b${word}\\b`, 'i').test(text));

/** Every text a user of the connector reads: titles, summaries and descriptions, with where each is. */
function* textsOf(value: unknown, where = '#'): Generator<{ where: string; key: string; text: string }> {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) yield* textsOf(item, `${where}/${i}`);
  } else if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      const path = `${where}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
      if (typeof child === 'string' && ['summary', 'description', 'title', 'x-ms-summary'].includes(key)) {
        yield { where: path, key, text: child };
      } else if (!['example', 'examples', 'x-ms-connector-metadata', 'contact'].includes(key)) {
        yield* textsOf(child, path);
      }
    }
  }
}

/** Every object holding a `$ref`, with where it is. */
function* referencesOf(value: unknown, where = '#'): Generator<{ where: string; object: Json }> {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) yield* referencesOf(item, `${where}/${i}`);
  } else if (value && typeof value === 'object') {
    if ('$ref' in value) yield { where, object: value as Json };
    for (const [key, child] of Object.entries(value)) yield* referencesOf(child, `${where}/${key}`);
  }
}

/** The operations marked as triggers. */
const triggersOf = (definition: Json) => operationsOf(definition).filter(({ operation }) => operation['x-ms-trigger']);

/** The schema a local `#/definitions/Name` reference points at. */
const resolveRef = (definition: Json, ref: string): Json | undefined =>
  ref.startsWith('#/definitions/') ? definition.definitions?.[ref.slice('#/definitions/'.length)] : undefined;

/** The parameters and top-level body properties of an operation marked x-ms-notification-url. */
function notificationUrlFields(definition: Json, operation: Json) {
  const fields: { name: string; required: boolean; schema: Json }[] = [];
  for (const parameter of (operation.parameters ?? []) as Json[]) {
    if (parameter['x-ms-notification-url'] === true) {
      fields.push({ name: parameter.name, required: parameter.required === true, schema: parameter });
    }
    if (parameter.in !== 'body' || !parameter.schema) continue;
    const body: Json = parameter.schema.$ref ? (resolveRef(definition, parameter.schema.$ref) ?? {}) : parameter.schema;
    const required: string[] = body.required ?? [];
    for (const [name, property] of Object.entries((body.properties ?? {}) as Record<string, Json>)) {
      if (property['x-ms-notification-url'] === true)
        fields.push({ name, required: required.includes(name), schema: property });
    }
  }
  return fields;
}

const metadataValue = (definition: Json, name: string): string | undefined =>
  (definition['x-ms-connector-metadata'] ?? []).find((entry: Json) => entry.propertyName === name)?.propertyValue;

export const CONNECTOR_RULES: ConnectorRule[] = [
  {
    id: 'title',
    what: 'info.title: at most 30 characters, without the words API or Connector or a product name',
    source:
      "swagger validator: \"The 'title' value goes over the character limit '30'\", \"contains at least one of the " +
      "restricted words: 'api, connector'\" (microsoft/PowerPlatformConnectors#3407)",
    check: ({ definition }) => {
      const title: unknown = definition.info?.title;
      if (typeof title !== 'string' || title.trim() === '') return ['info.title is missing'];
      return [
        ...(title.length > 30 ? [`info.title has ${title.length} characters`] : []),
        ...forbiddenWords(title, ['API', 'Connector']).map((word) => `info.title contains "${word}"`),
        ...(/[A-Za-z0-9]$/.test(title) ? [] : ['info.title ends with a non-alphanumeric character']),
      ];
    },
  },
  {
    id: 'description',
    what: 'info.description: 30 to 500 characters, no product name, not the word API',
    source:
      "swagger validator: \"The 'description' value must be between '30' and '500' characters\", \"contains at least " +
      "one of the restricted words: 'power apps, power automate, logic apps'\" (microsoft/PowerPlatformConnectors#550)",
    check: ({ definition }) => {
      const description: unknown = definition.info?.description;
      if (typeof description !== 'string') return ['info.description is missing'];
      return [
        ...(description.length < 30 || description.length > 500
          ? [`info.description has ${description.length} characters`]
          : []),
        ...forbiddenWords(description, ['API']).map((word) => `info.description contains "${word}"`),
      ];
    },
  },
  {
    id: 'contact',
    what: 'info.contact with a name and an email or URL',
    source:
      'swagger validator: "The \'contact\' property is required. ValuePath: /info" (microsoft/PowerPlatformConnectors#1095)',
    check: ({ definition }) => {
      const contact: Json | undefined = definition.info?.contact;
      if (!contact) return ['info.contact is missing'];
      return contact.name && (contact.email || contact.url) ? [] : ['info.contact needs a name and an email or URL'];
    },
  },
  {
    id: 'connectorMetadata',
    what: 'x-ms-connector-metadata with Website, Privacy policy and Categories',
    source:
      'swagger validator: "The \'x-ms-connector-metadata\' property is required" (microsoft/PowerPlatformConnectors#1095); ' +
      'templates/certified-connectors/apiDefinition.swagger.json',
    check: ({ definition }) =>
      ['Website', 'Privacy policy', 'Categories'].flatMap((name) =>
        metadataValue(definition, name)?.trim() ? [] : [`x-ms-connector-metadata has no ${name}`],
      ),
  },
  {
    id: 'operationIds',
    what: 'every operation has a unique PascalCase operationId',
    source: 'https://learn.microsoft.com/connectors/custom-connectors/coding-standards',
    check: ({ definition }) => {
      const ids = operationsOf(definition).map(({ operation }) => String(operation.operationId ?? ''));
      return [
        ...ids.filter((id) => !/^[A-Z][A-Za-z0-9]*$/.test(id)).map((id) => `operationId "${id}" is not PascalCase`),
        ...ids.filter((id, i) => ids.indexOf(id) !== i).map((id) => `operationId "${id}" is not unique`),
      ];
    },
  },
  {
    id: 'operationSummary',
    what: 'every operation summary: present, at most 80 characters, only letters, digits, spaces and parentheses, ends alphanumeric',
    source:
      'swagger validator: "Summary string contains any of the restricted characters [/\\<>*%&?]" ' +
      '(microsoft/PowerPlatformConnectors#1095); connector string guidance (no slash, <= 80, no trailing punctuation); ' +
      'certification: a summary may hold only alphanumeric characters, spaces and parentheses ' +
      '(https://learn.microsoft.com/connectors/custom-connectors/certification-submission)',
    check: ({ definition }) =>
      operationsOf(definition).flatMap(({ operation, where }) => {
        const summary: unknown = operation.summary;
        if (typeof summary !== 'string' || summary === '') return [`${where}: no summary`];
        return [
          ...(summary.length > 80 ? [`${where}: summary over 80 characters`] : []),
          ...(/[^A-Za-z0-9 ()]/.test(summary)
            ? [`${where}: summary "${summary}" has a character other than a letter, digit, space or parenthesis`]
            : []),
          ...(/[A-Za-z0-9)]$/.test(summary) ? [] : [`${where}: summary "${summary}" ends with punctuation`]),
        ];
      }),
  },
  {
    id: 'jsonContentType',
    what: 'every POST, PUT and PATCH sends Content-Type: application/json, with a body or without one',
    source:
      'the app (docs/API.md, Conventions): a POST, PUT or PATCH that does not declare JSON is a 400 invalidRequest ' +
      '(unsupportedContentType); the platform sends a Content-Type of its own only with a body',
    check: ({ definition }) =>
      operationsOf(definition)
        .filter(({ method }) => ['post', 'put', 'patch'].includes(method))
        .flatMap(({ operation, where }) => {
          const parameters: Json[] = Array.isArray(operation.parameters) ? operation.parameters : [];
          const header = parameters.find((p) => p?.in === 'header' && String(p?.name).toLowerCase() === 'content-type');
          const sends =
            header?.required === true &&
            /^application\/json\b/.test(String(header.default)) &&
            header['x-ms-visibility'] === 'internal';
          return sends ? [] : [`${where}: no required, internal Content-Type header defaulting to application/json`];
        }),
  },
  {
    id: 'texts',
    what: 'operation, parameter and schema texts name no product and do not say API',
    source:
      'connector string guidance: texts "can\'t include the word API" and "can\'t refer to a Power Platform product ' +
      'or a product for which you don\'t own the backend APIs"',
    check: ({ definition }) => {
      const { info: _info, ...rest } = definition;
      return [...textsOf(rest)].flatMap(({ where, key, text }) =>
        forbiddenWords(text, ['API']).map((word) => `${where}: ${key} contains "${word}"`),
      );
    },
  },
  {
    id: 'operationDescription',
    what: 'every operation has a description',
    source: 'PR checklist of microsoft/PowerPlatformConnectors: "detailed descriptions for all operations"',
    check: ({ definition }) =>
      operationsOf(definition).flatMap(({ operation, where }) =>
        typeof operation.description === 'string' && operation.description.length > 0
          ? []
          : [`${where}: no description`],
      ),
  },
  {
    id: 'operationVisibility',
    what: 'every operation sets x-ms-visibility (important, advanced or internal)',
    source: 'https://learn.microsoft.com/connectors/custom-connectors/openapi-extensions#x-ms-visibility',
    check: ({ definition }) =>
      operationsOf(definition).flatMap(({ operation, where }) =>
        ['important', 'advanced', 'internal'].includes(operation['x-ms-visibility'])
          ? []
          : [`${where}: no x-ms-visibility`],
      ),
  },
  {
    id: 'parameters',
    what: 'every parameter has an x-ms-summary (at most 80 characters) and a description',
    source:
      "swagger validator: \"The 'x-ms-summary' property is required\", \"The 'description' property is required. " +
      'ValuePath: /paths/…/parameters/0" (microsoft/PowerPlatformConnectors#3407)',
    check: ({ definition }) =>
      operationsOf(definition).flatMap(({ operation, where }) =>
        ((operation.parameters ?? []) as Json[]).flatMap((parameter) => [
          ...(typeof parameter['x-ms-summary'] === 'string' && parameter['x-ms-summary'].length <= 80
            ? []
            : [`${where}: parameter ${parameter.name} has no x-ms-summary (or one over 80 characters)`]),
          ...(parameter.description ? [] : [`${where}: parameter ${parameter.name} has no description`]),
        ]),
      ),
  },
  {
    id: 'refSiblings',
    what: 'a $ref stands alone (no x-ms-summary, title or description beside it)',
    source: 'Swagger 2.0 Reference Object: siblings of $ref are ignored; the swagger validator reports them',
    check: ({ definition }) =>
      [...referencesOf(definition)]
        .filter(({ object }) => Object.keys(object).length > 1)
        .map(
          ({ where, object }) =>
            `${where}: $ref with ${Object.keys(object)
              .filter((k) => k !== '$ref')
              .join(', ')}`,
        ),
  },
  {
    id: 'responses',
    what:
      'every operation declares a 2xx response with a schema (a 204 has none); one answering 202 also declares its ' +
      'final 200',
    source:
      'PR checklist: "response schemas to my actions"; the designer shows an action\'s outputs from its 200 response, ' +
      'which is what the asynchronous pattern ends with',
    check: ({ definition }) =>
      operationsOf(definition).flatMap(({ operation, where }) => {
        const responses: Json = operation.responses ?? {};
        const success = Object.keys(responses).filter((status) => /^2\d\d$/.test(status));
        const described = success.some((status) => responses[status]?.schema || status === '204');
        return [
          ...(described ? [] : [`${where}: no 2xx response with a schema`]),
          ...(success.includes('202') && !responses['200']?.schema
            ? [`${where}: 202 without a 200 for its outputs`]
            : []),
        ];
      }),
  },
  {
    id: 'paging',
    what: 'every x-ms-pageable operation has an updatenextlink policy for its nextLinkName',
    source:
      'the updatenextlink policy template of paconn-apiProperties.schema.json: next links point at the back end and ' +
      'must be rewritten to go through the connector',
    check: ({ definition, properties }) => {
      const policies: Json[] = properties.properties?.policyTemplateInstances ?? [];
      return operationsOf(definition)
        .filter(({ operation }) => operation['x-ms-pageable'])
        .flatMap(({ operation, where }) => {
          const nextLinkName = operation['x-ms-pageable'].nextLinkName;
          const covered = policies.some(
            (policy) =>
              policy.templateId === 'updatenextlink' &&
              (policy.parameters?.['x-ms-apimTemplate-operationName'] ?? []).includes(operation.operationId) &&
              policy.parameters?.['x-ms-apimTemplateParameter.nextLinkPropertyName'] === nextLinkName,
          );
          return covered ? [] : [`${where}: no updatenextlink policy for ${operation.operationId}`];
        });
    },
  },
  {
    id: 'oneTrigger',
    what: 'exactly one operation is a trigger (x-ms-trigger), the one of the service: When a passcode reset finishes',
    source:
      'https://learn.microsoft.com/connectors/custom-connectors/openapi-extensions#x-ms-trigger: x-ms-trigger marks ' +
      'the operations the designer offers as triggers; every other operation is an action',
    check: ({ definition }) => {
      const triggers = triggersOf(definition);
      return [
        ...(triggers.length === 1 ? [] : [`${triggers.length} operations have x-ms-trigger, not 1`]),
        ...triggers
          .filter(({ operation }) => !['single', 'batch'].includes(operation['x-ms-trigger']))
          .map(
            ({ where, operation }) => `${where}: x-ms-trigger "${operation['x-ms-trigger']}" is not single or batch`,
          ),
      ];
    },
  },
  {
    id: 'triggerNotificationUrl',
    what: 'a trigger has a required parameter or body property marked x-ms-notification-url, hidden (internal)',
    source:
      'https://learn.microsoft.com/connectors/custom-connectors/openapi-extensions#x-ms-notification-url: the ' +
      'workflow service puts its callback URL there; a user never types it',
    check: ({ definition }) =>
      triggersOf(definition).flatMap(({ operation, where }) => {
        const marked = notificationUrlFields(definition, operation);
        if (marked.length !== 1) return [`${where}: ${marked.length} fields have x-ms-notification-url, not 1`];
        const [field] = marked;
        return [
          ...(field?.schema['x-ms-visibility'] === 'internal' ? [] : [`${where}: ${field?.name} is not internal`]),
          ...(field?.required ? [] : [`${where}: ${field?.name} is not required`]),
        ];
      }),
  },
  {
    id: 'triggerNotificationContent',
    what: "a trigger's path declares x-ms-notification-content with the schema of what the callback URL receives",
    source:
      'https://learn.microsoft.com/connectors/custom-connectors/openapi-extensions#x-ms-notification-content (on the ' +
      'path item, as apiDefinition.swagger.schema.json places it): the designer offers the outputs of the trigger from it',
    check: ({ definition }) =>
      triggersOf(definition).flatMap(({ path, where }) => {
        const content: Json | undefined = definition.paths?.[path]?.['x-ms-notification-content'];
        if (!content?.schema) return [`${where}: no x-ms-notification-content schema on ${path}`];
        const ref: unknown = content.schema.$ref;
        if (typeof ref === 'string' && !resolveRef(definition, ref)) {
          return [`${where}: x-ms-notification-content refers to ${ref}, which does not exist`];
        }
        return [];
      }),
  },
  {
    id: 'triggerUnsubscribe',
    what: "a trigger's 201 answers a Location, and a DELETE operation exists on that subscription's path",
    source:
      'https://learn.microsoft.com/training/modules/create-triggers-custom-connectors/2-webhook-trigger: the ' +
      'publisher "must include the Location HTTP header in the 201 response"; the platform issues a DELETE to it ' +
      'when the trigger is removed',
    check: ({ definition }) =>
      triggersOf(definition).flatMap(({ operation, path, where }) => {
        const created: Json | undefined = operation.responses?.['201'];
        const problems = created?.headers?.Location ? [] : [`${where}: no 201 response with a Location header`];
        const item = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&')}/\\{[^/}]+\\}$`);
        const deletes = operationsOf(definition).some(
          ({ method, path: other }) => method === 'delete' && item.test(other),
        );
        return deletes ? problems : [...problems, `${where}: no DELETE operation on ${path}/{id}`];
      }),
  },
  {
    id: 'apiProperties',
    what: 'apiProperties.json names a publisher and no stackOwner',
    source:
      'paconn create and update fail on stackOwner ("Could not find member \'stackOwner\'", ' +
      'microsoft/PowerPlatformConnectors#614); it is set by certification, not by the publisher',
    check: ({ properties }) => [
      ...(properties.properties?.publisher ? [] : ['apiProperties.json has no publisher']),
      ...('stackOwner' in (properties.properties ?? {}) ? ['apiProperties.json has a stackOwner'] : []),
    ],
  },
  {
    id: 'brandColor',
    what: 'iconBrandColor is #RRGGBB and neither #007ee5 nor #ffffff',
    source: 'PR checklist: "a valid brand color and doesn\'t use an invalid brand color, #007ee5 or #ffffff"',
    check: ({ properties }) => {
      const color = String(properties.properties?.iconBrandColor ?? '');
      if (!/^#[0-9a-f]{6}$/i.test(color)) return [`iconBrandColor "${color}" is not #RRGGBB`];
      return ['#007ee5', '#ffffff'].includes(color.toLowerCase()) ? [`iconBrandColor ${color} is not allowed`] : [];
    },
  },
  {
    id: 'icon',
    what: 'icon.png: a square PNG of about 230 px under 1 MB, opaque, its background the brand colour',
    source:
      'certification submission: a ~160 px logo inside a ~230 px square, on a non-transparent, non-white background ' +
      'that matches iconBrandColor; the maker portal takes a PNG or JPG icon under 1 MB',
    check: ({ icon, properties }) => {
      if (!icon.subarray(0, 8).equals(PNG_SIGNATURE)) return ['icon.png is not a PNG file'];
      let image: PNG;
      try {
        image = PNG.sync.read(icon);
      } catch (error) {
        return [`icon.png: ${error instanceof Error ? error.message : String(error)}`];
      }
      const problems: string[] = [];
      if (image.width !== image.height || image.width < 200 || image.width > 260) {
        problems.push(`icon.png is ${image.width}×${image.height}, not about 230 px square`);
      }
      if (icon.length > MAX_ICON_BYTES) problems.push(`icon.png is ${icon.length} bytes, more than 1 MB`);
      // pngjs gives every image as RGBA, whatever its colour type.
      const corner = [...image.data.subarray(0, 4)];
      if (corner[3] !== 255) problems.push('icon.png has a transparent background');
      const brand = parseHexColor(String(properties.properties?.iconBrandColor ?? '#000000'));
      if (corner.slice(0, 3).join() !== brand.join()) problems.push('icon.png background is not iconBrandColor');
      return problems;
    },
  },
  {
    id: 'readme',
    what: 'README.md has the sections of the connector README template and names every visible operation',
    source: 'templates/certified-connectors/readme.md of microsoft/PowerPlatformConnectors',
    check: ({ readme, definition }) => {
      const sections = [
        'Publisher',
        'Prerequisites',
        'Supported Operations',
        'Obtaining Credentials',
        'Known Issues and Limitations',
        'Deployment Instructions',
      ];
      return [
        ...(readme.startsWith('# ') ? [] : ['README.md does not start with the title']),
        ...sections.filter((s) => !new RegExp(`^## ${s}`, 'm').test(readme)).map((s) => `README.md has no "${s}"`),
        ...operationsOf(definition)
          .filter(({ operation }) => operation['x-ms-visibility'] !== 'internal')
          .filter(({ operation }) => !readme.includes(operation.summary))
          .map(({ operation }) => `README.md does not describe ${operation.operationId}`),
      ];
    },
  },
];

/** Runs every rule; returns the problems, each prefixed with its rule's id. */
export function checkConnector(files: ConnectorFiles): string[] {
  return CONNECTOR_RULES.flatMap((rule) => rule.check(files).map((problem) => `${rule.id}: ${problem}`));
}
