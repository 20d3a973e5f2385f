/**
 * The `rcpt` command of a documentation example (test/integration/docs-examples): the CLI from src/,
 * with the process's own environment (the test points RCPT_DNS_SERVER, RCPT_SMTP_PORT and
 * RCPT_ALLOW_PRIVATE_TARGETS at the docs world).
 */
import { run } from '../../../src/cli/main.js';

process.exitCode = await run(process.argv);
