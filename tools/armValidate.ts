// Offline schema check of an ARM JSON template or parameters file against Microsoft's published ARM schemas,
// vendored in infra/schemas (see SOURCES.md there). No Azure access: what it proves is that every resource, property
// and enum value is one the resource provider's api-version defines. It does not evaluate expressions or check
// cross-resource references (ARM's what-if and preflight do, in Azure).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import Ajv04 from 'ajv-draft-04';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: Json };

const SCHEMA_BASE = 'https://schema.management.azure.com/schemas/';
const TEMPLATE_SCHEMA = `${SCHEMA_BASE}2019-04-01/deploymentTemplate.json`;
const PARAMETERS_SCHEMA = `${SCHEMA_BASE}2019-04-01/deploymentParameters.json`;
// Where a provider file lists its resources, in the order of precedence (a resource group deployment first).
const RESOURCE_SECTIONS = [
  'resourceDefinitions',
  'extension_resourceDefinitions',
  'subscription_resourceDefinitions',
  'managementGroup_resourceDefinitions',
  'tenant_resourceDefinitions',
];
// Keys of a resource that belong to the template language; deploymentTemplate.json checks them, and the provider
// schemas do not list them. Nested `resources` are checked one by one.
const TEMPLATE_LANGUAGE_KEYS = new Set(['condition', 'dependsOn', 'copy', 'comments', 'scope', 'resources']);

const isSchema = (value: Json | undefined): value is Schema =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const schemasIn = (value: Json | undefined): Schema[] =>
  Array.isArray(value) ? value.filter(isSchema) : isSchema(value) ? [value] : [];

/**
 * Makes the provider schemas strict, in place. They never say `additionalProperties: false`, so a misspelt property
 * would pass: every object schema that lists its properties is closed. A union (an object whose `oneOf` branches list
 * properties, e.g. sites/config: appsettings | authsettingsV2 | web …) closes each branch instead, after giving it
 * the properties and required keys of the whole. `oneOf` is read as `anyOf`: a value fitting two alternatives (a
 * string that is also an expression) is no error in ARM.
 */
export function closeSchema(schema: Schema): void {
  if (schema.oneOf !== undefined) {
    schema.anyOf = schema.oneOf;
    delete schema.oneOf;
  }
  const branches = schemasIn(schema.anyOf);
  const properties = schema.properties;
  if (isSchema(properties) && branches.some((b) => isSchema(b.properties))) {
    const parentRequired = Array.isArray(schema.required) ? schema.required : [];
    for (const branch of branches) {
      if (!isSchema(branch.properties)) continue;
      branch.properties = { ...properties, ...branch.properties };
      const required = Array.isArray(branch.required) ? branch.required : [];
      branch.required = [...new Set([...parentRequired, ...required])];
    }
  } else if (
    isSchema(properties) &&
    Object.keys(properties).length > 0 &&
    schema.additionalProperties === undefined &&
    schema.patternProperties === undefined &&
    branches.length === 0 &&
    schema.allOf === undefined
  ) {
    schema.additionalProperties = false;
  }
  for (const key of ['properties', 'patternProperties', 'definitions']) {
    const group = schema[key];
    if (isSchema(group)) for (const child of Object.values(group)) if (isSchema(child)) closeSchema(child);
  }
  for (const key of ['anyOf', 'allOf', 'items', 'additionalProperties', 'not']) {
    for (const child of schemasIn(schema[key])) closeSchema(child);
  }
}

interface ResourceSchema {
  type: string;
  apiVersion: string;
  ref: string;
  schema: Schema;
  childRef?: string;
  childSchema?: Schema;
}

interface ArmReport {
  kind: 'template' | 'parameters';
  /** One line per violation, `<where>: <path> <problem>`. */
  violations: string[];
  /** Resources checked (nested and inline-deployment resources included). */
  resources: number;
}

export interface ArmValidator {
  validate(document: unknown): ArmReport;
  /** `type@apiVersion` of every resource schema loaded. */
  available(): string[];
}

function readSchemaFiles(dir: string): { file: string; schema: Schema }[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const schema: Json = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      if (!isSchema(schema) || typeof schema.id !== 'string') throw new Error(`${file} is not a schema with an id`);
      return { file, schema };
    });
}

/** Loads the schemas of `dir` (default infra/schemas under the current directory). */
export function loadArmValidator(dir = join(process.cwd(), 'infra', 'schemas')): ArmValidator {
  const ajv = new Ajv04({ strict: false, allErrors: true, unicodeRegExp: false, validateFormats: false });
  const byTypeAndVersion = new Map<string, ResourceSchema>();
  for (const { schema } of readSchemaFiles(dir)) {
    const id = String(schema.id).replace(/#$/, '');
    if (id === TEMPLATE_SCHEMA && isSchema(schema.definitions)) {
      // Its `resource` is the union of every provider's resources (common/autogeneratedResources.json, not vendored):
      // keep the template-language part; each resource's body is checked against its own provider schema below.
      schema.definitions.resource = {
        allOf: [
          { $ref: '#/definitions/ARMResourceBase' },
          { properties: { copy: { $ref: '#/definitions/resourceCopy' }, comments: { type: 'string' } } },
        ],
      };
    }
    const sections = RESOURCE_SECTIONS.filter((section) => isSchema(schema[section]));
    for (const section of [...sections, 'definitions']) {
      const group = schema[section];
      if (sections.length > 0 && isSchema(group)) for (const s of Object.values(group)) if (isSchema(s)) closeSchema(s);
    }
    for (const section of sections) {
      const group = schema[section];
      if (!isSchema(group)) continue;
      for (const [name, definition] of Object.entries(group)) {
        if (!isSchema(definition) || !isSchema(definition.properties)) continue;
        const typeSchema = definition.properties.type;
        const versionSchema = definition.properties.apiVersion;
        const type = isSchema(typeSchema) && Array.isArray(typeSchema.enum) ? typeSchema.enum[0] : undefined;
        const versions = isSchema(versionSchema) && Array.isArray(versionSchema.enum) ? versionSchema.enum : [];
        if (typeof type !== 'string') continue;
        const child = isSchema(schema.definitions) ? schema.definitions[`${name}_childResource`] : undefined;
        for (const apiVersion of versions) {
          const key = `${type}@${apiVersion}`.toLowerCase();
          if (typeof apiVersion !== 'string' || byTypeAndVersion.has(key)) continue;
          byTypeAndVersion.set(key, {
            type,
            apiVersion,
            ref: `${id}#/${section}/${name}`,
            schema: definition,
            ...(isSchema(child) && { childRef: `${id}#/definitions/${name}_childResource`, childSchema: child }),
          });
        }
      }
    }
    ajv.addSchema(schema, id);
  }

  const compiled = new Map<string, ValidateFunction>();
  const validatorFor = (ref: string): ValidateFunction => {
    let validate = compiled.get(ref);
    if (!validate) {
      validate = ajv.compile({ $ref: ref });
      compiled.set(ref, validate);
    }
    return validate;
  };

  /** Violations of `data` against `ref`; a union is reported against its closest branch. */
  const check = (ref: string, data: unknown, schema?: Schema): string[] => {
    const validate = validatorFor(ref);
    if (validate(data)) return [];
    const branches = schemasIn(schema?.anyOf);
    if (branches.length === 0 || !branches.every((b) => isSchema(b.properties))) return describe(validate.errors ?? []);
    const perBranch = branches.map((branch, i) => check(`${ref}/anyOf/${i}`, data, branch));
    return perBranch.reduce((closest, lines) => (lines.length < closest.length ? lines : closest));
  };

  const available = () => [...byTypeAndVersion.values()].map((r) => `${r.type}@${r.apiVersion}`);

  const validate = (document: unknown): ArmReport => {
    const violations: string[] = [];
    let resources = 0;
    const checkResource = (resource: unknown, parentType?: string) => {
      // Anything not shaped like a resource is reported by the template check.
      if (!isJsonObject(resource) || typeof resource.type !== 'string') return;
      resources++;
      const isChild = parentType !== undefined && !resource.type.includes('/');
      const type = isChild ? `${parentType}/${resource.type}` : resource.type;
      const apiVersion = typeof resource.apiVersion === 'string' ? resource.apiVersion : '(no apiVersion)';
      const where = `resource ${type}@${apiVersion} ${String(resource.name)}`;
      const entry = byTypeAndVersion.get(`${type}@${apiVersion}`.toLowerCase());
      if (!entry || (isChild && !entry.childRef)) {
        const sameType = available().filter((known) => known.toLowerCase().startsWith(`${type.toLowerCase()}@`));
        violations.push(
          `${where}: no schema for this type and apiVersion in infra/schemas; available: ${
            sameType.length > 0 ? sameType.join(', ') : 'none for this type'
          }`,
        );
      } else {
        const body: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(resource)) if (!TEMPLATE_LANGUAGE_KEYS.has(key)) body[key] = value;
        // ARM type names are case-insensitive; the schemas' enums are not.
        if (!isChild) body.type = entry.type;
        const lines =
          isChild && entry.childRef
            ? check(entry.childRef, body, entry.childSchema)
            : check(entry.ref, body, entry.schema);
        for (const line of lines) violations.push(`${where}: ${line}`);
      }
      if (Array.isArray(resource.resources)) for (const child of resource.resources) checkResource(child, type);
      const properties = resource.properties;
      if (type.toLowerCase() === 'microsoft.resources/deployments' && isJsonObject(properties)) {
        if (isJsonObject(properties.template)) checkTemplate(properties.template, `${where} nested template`);
      }
    };
    const checkTemplate = (template: Record<string, unknown>, where: string) => {
      for (const line of check(TEMPLATE_SCHEMA, template)) violations.push(`${where}: ${line}`);
      const list = template.resources;
      for (const resource of Array.isArray(list) ? list : isJsonObject(list) ? Object.values(list) : []) {
        checkResource(resource);
      }
    };
    if (!isJsonObject(document)) return { kind: 'template', violations: ['template: / must be an object'], resources };
    if (isParametersFile(document)) {
      return {
        kind: 'parameters',
        violations: check(PARAMETERS_SCHEMA, document).map((line) => `parameters: ${line}`),
        resources: 0,
      };
    }
    checkTemplate(document, 'template');
    return { kind: 'template', violations, resources };
  };

  return { validate, available };
}

const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isParametersFile = (document: Record<string, unknown>): boolean =>
  typeof document.$schema === 'string' && /deploymentParameters\.json#?$/.test(document.$schema);

/**
 * Ajv's errors as one line each. Left out: the "not an expression" half of each value-or-expression pair, a type
 * error where deeper errors show which alternative the value took, and anyOf summaries the other lines explain.
 */
function describe(errors: ErrorObject[]): string[] {
  const kept = errors
    .filter((e) => !e.schemaPath.includes('/definitions/expression/'))
    .map((e) => ({
      error: e,
      path:
        e.keyword === 'additionalProperties'
          ? `${e.instancePath}/${String(e.params.additionalProperty)}`
          : e.instancePath,
    }));
  const specific = kept.filter(({ error }) => error.keyword !== 'anyOf' && error.keyword !== 'oneOf');
  const deeperThan = (path: string, orSame: boolean, self: unknown) =>
    specific.some((o) => o !== self && (o.path.startsWith(`${path}/`) || (orSame && o.path === path)));
  const lines = kept
    .filter((item) =>
      specific.includes(item)
        ? !(item.error.keyword === 'type' && deeperThan(item.path, false, item))
        : !deeperThan(item.path, true, item),
    )
    .map(({ error, path }) => {
      if (error.keyword === 'additionalProperties') return `${path} unknown property`;
      const allowed =
        error.keyword === 'enum' && Array.isArray(error.params.allowedValues)
          ? `: ${error.params.allowedValues.map((v: unknown) => JSON.stringify(v)).join(', ')}`
          : '';
      return `${path || '/'} ${error.message}${allowed}`;
    });
  if (lines.length > 0) return [...new Set(lines)];
  return errors.map((e) => `${e.instancePath || '/'} ${e.message}`);
}
