// `npm run validate:infra [files…]`: the offline schema check of the ARM template and its example parameters file
// (default: both in infra/), one line per violation, exit 1 if any. The same check runs in `npm test`.
import { readFileSync } from 'node:fs';
import { loadArmValidator } from './armValidate';

const files = process.argv.slice(2);
const paths = files.length > 0 ? files : ['infra/azuredeploy.json', 'infra/azuredeploy.parameters.example.json'];
const validator = loadArmValidator();
let failed = false;
for (const path of paths) {
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    console.error(`${path}: cannot read JSON: ${(error as Error).message}`);
    process.exit(2);
  }
  const report = validator.validate(document);
  for (const line of report.violations) console.log(line);
  const summary = report.kind === 'template' ? `valid (${report.resources} resources)` : 'valid';
  console.log(`${path}: ${report.violations.length > 0 ? `${report.violations.length} violation(s)` : summary}`);
  failed ||= report.violations.length > 0;
}
process.exit(failed ? 1 : 0);
