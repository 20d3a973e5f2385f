/** The `rcpt` command as its own process, run from source through tsx (no build needed). */
import { run } from '../../src/cli/main.js';

process.exitCode = await run(process.argv);
