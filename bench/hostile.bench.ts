/**
 * `npm run bench:hostile`: hostile servers at scale (issue 9). `HOSTILE_HOSTS` MX hosts (default 200),
 * every fifth hostile (tarpit, trickle, 1 MB line, endless continuation, reset, broken TLS, garbage in
 * turn), `HOSTILE_PER_DOMAIN` addresses per domain (default 50): 10,000 addresses through one
 * `verifyMany()`. Checks that every address gets exactly one verdict, hostile hosts end `unknown`, good
 * hosts give the expected verdicts and the same as `verify()` address by address (a sample), and
 * reports the time and the peak RSS sampled every 50 ms. Exits 1 when a check fails.
 */
import { createVerifier } from '../src/index.js';
import { expectedGood, runScale, startHostileWorld } from '../test/reliability/helpers/hostile-world.js';

const hosts = Number(process.env.HOSTILE_HOSTS ?? 200);
const perDomain = Number(process.env.HOSTILE_PER_DOMAIN ?? 50);
const SAMPLE = 200;

const baselineRss = process.memoryUsage().rss;
const world = await startHostileWorld(hosts, perDomain);
const problems: string[] = [];
try {
  const run = await runScale(world);
  const seen = new Map<string, number>();
  for (const result of run.results) seen.set(result.input, (seen.get(result.input) ?? 0) + 1);
  const missing = world.addresses.filter((address) => seen.get(address) !== 1);
  if (missing.length > 0 || run.results.length !== world.addresses.length) {
    problems.push(`${missing.length} addresses without exactly one verdict (${run.results.length} results)`);
  }
  const kinds = new Map<string, Map<string, number>>();
  let good = 0;
  let wrong = 0;
  const kindOfDomain = new Map<string, string>(
    world.servers.map((server, index) => [`d${index}.scale.test`, server.kind] as const),
  );
  for (const result of run.results) {
    const domain = result.input.slice(result.input.indexOf('@') + 1);
    if (world.hostileDomains.has(domain)) {
      if (result.verdict !== 'unknown') problems.push(`${result.input}: ${result.verdict}/${result.reason}`);
      const kind = kindOfDomain.get(domain) ?? '?';
      const reasons = kinds.get(kind) ?? new Map<string, number>();
      reasons.set(result.reason, (reasons.get(result.reason) ?? 0) + 1);
      kinds.set(kind, reasons);
    } else {
      good += 1;
      if (`${result.verdict}/${result.reason}` !== expectedGood(result.input)) wrong += 1;
    }
  }
  if (wrong > 0) problems.push(`${wrong} of ${good} good-host results differ from the expected verdict`);

  // A sample of good addresses verified one by one with a fresh verifier.
  const byInput = new Map(run.results.map((result) => [result.input, result]));
  const sample = world.addresses
    .filter((address) => !world.hostileDomains.has(address.slice(address.indexOf('@') + 1)))
    .slice(0, SAMPLE);
  const single = createVerifier(world.options);
  let differ = 0;
  try {
    for (const address of sample) {
      const one = await single.verify(address);
      const bulk = byInput.get(address);
      if (`${one.verdict}/${one.reason}` !== `${bulk?.verdict}/${bulk?.reason}`) differ += 1;
    }
  } finally {
    await single.close();
  }
  if (differ > 0) problems.push(`${differ} of ${sample.length} sampled addresses differ from verify()`);

  const mb = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MB`;
  console.log(
    `hostile at scale: ${world.addresses.length.toLocaleString('en-US')} addresses, ${hosts} MX hosts (${world.hostileDomains.size} hostile), ${(run.ms / 1000).toFixed(1)} s, ${Math.round(run.results.length / (run.ms / 1000))} addresses/s`,
  );
  console.log(
    `  every address one verdict: ${missing.length === 0 ? 'yes' : 'NO'}; good-host results as expected: ${good - wrong}/${good}; verify() sample equal: ${sample.length - differ}/${sample.length}`,
  );
  console.log(`  peak RSS ${mb(run.peakRss)} (${mb(baselineRss)} before the world started)`);
  for (const [kind, reasons] of [...kinds.entries()].sort()) {
    console.log(
      `  ${kind}: ${[...reasons.entries()].map(([reason, count]) => `${reason} ${count}`).join(', ')}`,
    );
  }
} finally {
  await world.close();
}
if (problems.length > 0) {
  console.error(`FAILED:\n${problems.slice(0, 20).join('\n')}`);
  process.exitCode = 1;
}
