#!/usr/bin/env node
import module from 'node:module';

// Node 22.1+ caches compiled code between runs; turned on before the rest loads, so it covers all of it.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const { runCli } = await import('./run.js');
const { processIo } = await import('./io.js');
process.exitCode = await runCli(process.argv.slice(2), processIo());
