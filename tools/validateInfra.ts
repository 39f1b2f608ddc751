// `npm run validate:infra [template] [parameters]`: the offline checks of the ARM template (default
// infra/azuredeploy.json) and its parameters file (default infra/azuredeploy.parameters.example.json): the schema
// check (tools/armValidate.ts) and the search for storage keys, connection strings and inline secrets
// (tools/armChecks.ts). One line per problem; exit 1 if any. `npm test` runs the same checks.
import { readFileSync } from 'node:fs';
import { findSecretLeaks } from './armChecks';
import type { ArmValue } from './armExpressions';
import { loadArmValidator } from './armValidate';

const [templatePath = 'infra/azuredeploy.json', parametersPath = 'infra/azuredeploy.parameters.example.json'] =
  process.argv.slice(2);

function readJson(path: string): { [key: string]: ArmValue } {
  try {
    const value: ArmValue = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value;
    throw new Error('not a JSON object');
  } catch (error) {
    console.error(`${path}: cannot read JSON: ${(error as Error).message}`);
    process.exit(2);
  }
}

const template = readJson(templatePath);
const parameters = readJson(parametersPath);
const validator = loadArmValidator();
let problems = 0;
for (const [path, document] of [
  [templatePath, template],
  [parametersPath, parameters],
] as const) {
  const report = validator.validate(document);
  for (const line of report.violations) console.log(line);
  problems += report.violations.length;
  const summary = report.kind === 'template' ? `valid (${report.resources} resources)` : 'valid';
  console.log(`${path}: ${report.violations.length > 0 ? `${report.violations.length} violation(s)` : summary}`);
}
const given = parameters.parameters;
const values: Record<string, ArmValue> = {};
if (typeof given === 'object' && given !== null && !Array.isArray(given)) {
  for (const [name, entry] of Object.entries(given)) {
    if (typeof entry === 'object' && entry !== null && !Array.isArray(entry) && 'value' in entry) {
      values[name] = entry.value ?? null;
    }
  }
}
const leaks = findSecretLeaks(template, values, parameters);
for (const line of leaks) console.log(`secret: ${line}`);
console.log(
  leaks.length > 0 ? `${leaks.length} key(s) or secret(s) found` : 'no storage key, connection string or inline secret',
);
process.exit(problems + leaks.length > 0 ? 1 : 0);
