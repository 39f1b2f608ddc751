// `npm run bench:sweep`: the sweeper's storage requests per run over a short and a long history (docs/PERFORMANCE.md).
import { startAzurite } from '../azurite';
import { measureSweepCost, type SweepCost } from './sweepCost';

async function main() {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
  const results: SweepCost[] = [];
  for (const history of sizes.length > 0 ? sizes : [200, 20_000]) {
    const azurite = await startAzurite();
    try {
      const started = Date.now();
      results.push(await measureSweepCost(azurite.connectionString, history));
      process.stderr.write(`[bench] history ${history}: measured in ${Math.round((Date.now() - started) / 1000)} s\n`);
    } finally {
      await azurite.stop();
    }
  }
  const [first] = results;
  console.log('| finished actions in the tables | actions due | storage requests in the sweep run | ratio |');
  console.log('|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.history} | ${r.due} | ${r.requests} | ${(r.requests / (first?.requests ?? r.requests)).toFixed(2)}× |`,
    );
  }
  console.log(`\n${JSON.stringify(results, null, 2)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
