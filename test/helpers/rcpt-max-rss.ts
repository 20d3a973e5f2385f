/**
 * The `rcpt` command as its own process (from source through tsx), reporting on stderr its resident
 * set size once loaded (`start-rss-kb N`) and its peak at exit (`max-rss-kb N`, from getrusage): what
 * memory-bound tests spawn.
 */
process.stderr.write(`start-rss-kb ${String(Math.round(process.memoryUsage().rss / 1024))}\n`);
const { run } = await import('../../src/cli/main.js');
process.exitCode = await run(process.argv);
process.stderr.write(`max-rss-kb ${String(process.resourceUsage().maxRSS)}\n`);
