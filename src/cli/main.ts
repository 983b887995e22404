#!/usr/bin/env node
import module from 'node:module';

// Node 22.1+ caches compiled code between runs; turned on before the rest loads, so it covers all of it.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

// `nebula-credential get x | head -c 4` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

// On Node 20 the AWS SDK prints a 9-line NodeVersionSupportWarning for every AWS command; its documented
// switch turns that off before any client exists. A value the user set is kept.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const { runCli } = await import('./run.js');
const { processIo } = await import('./io.js');
process.exitCode = await runCli(process.argv.slice(2), processIo());
