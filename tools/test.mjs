// `npm test`: everything CI runs, in order: typecheck, lint, build, then every vitest tier.
// Ends with the totals on a line of their own ("N passed, N failed"), also written to
// test-results/totals.txt so .ci/run can repeat it last.
// For .ci/run, which runs the suite on two Node versions at once: TEST_RESULTS_DIR (default test-results) keeps each
// run's reports apart, TEST_SKIP_BUILD=1 uses the build already made (the tests spawn dist/, which must not be
// rewritten under them), TEST_SKIP_STATIC=1 leaves out typecheck and lint, whose result does not depend on Node.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

// Node tools run on the Node that runs this script (process.execPath), so that `npx -y node@22 tools/test.mjs` tests
// on Node 22 throughout: vitest's workers and the hosts the tests spawn use process.execPath too.
const steps = [
  ['typecheck', process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit']],
  // The admin console's browser code has a tsconfig of its own (DOM types, Preact JSX).
  ['typecheck console', process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', 'lib/console/app']],
  ['lint', 'npx', ['biome', 'check', '.']],
  // Unused files, exports and dependencies (knip.jsonc says what runs).
  ['lint knip', 'npx', ['knip']],
  ['build', process.execPath, ['tools/build.mjs']],
];
const extra = process.argv.slice(2);
const results = process.env.TEST_RESULTS_DIR || 'test-results';
mkdirSync(results, { recursive: true });

const skipped = new Set([
  ...(process.env.TEST_SKIP_STATIC === '1' ? ['typecheck', 'typecheck console', 'lint', 'lint knip'] : []),
  ...(process.env.TEST_SKIP_BUILD === '1' ? ['build'] : []),
]);
let failedSteps = 0;
for (const [name, cmd, args] of steps.filter(([name]) => !skipped.has(name))) {
  console.log(`\n> ${name}`);
  const { status } = spawnSync(cmd, args, { stdio: 'inherit' });
  if (status !== 0) {
    console.error(`${name} failed`);
    failedSteps++;
  }
}

console.log(`\n> vitest on Node ${process.version}`);
const vitest = spawnSync(
  process.execPath,
  [
    'node_modules/vitest/vitest.mjs',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${results}/vitest.json`,
    ...extra,
  ],
  { stdio: 'inherit' },
);

let passed = 0;
let failed = failedSteps;
try {
  const report = JSON.parse(readFileSync(`${results}/vitest.json`, 'utf8'));
  passed += report.numPassedTests;
  // A file that fails to load has no failed test of its own: count it once.
  failed += report.numFailedTests || report.numFailedTestSuites;
} catch {
  failed++;
}
if (vitest.status !== 0 && failed === 0) failed++;
const totals = `${passed} passed, ${failed} failed`;
writeFileSync(`${results}/totals.txt`, `${totals}\n`);
console.log(`\n${totals}`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
