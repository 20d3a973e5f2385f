// Preloaded by bench/memory.bench.ts into the measured `rcpt bulk` process (`node --import`): writes the
// process's peak resident set size, in KiB, to $RCPT_PEAK_FILE when it exits.
import { writeFileSync } from 'node:fs';

process.on('exit', () => {
  const file = process.env.RCPT_PEAK_FILE;
  if (file) writeFileSync(file, String(process.resourceUsage().maxRSS));
});
