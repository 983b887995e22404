#!/usr/bin/env node
import module from 'node:module';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * Where the compile cache goes: `NODE_COMPILE_CACHE` when set (Node reads it itself), else on Linux and
 * other Unix systems the user's own cache directory. Node's default, os.tmpdir()/node-compile-cache, is
 * one directory in a shared /tmp there: whoever creates it first owns it (another user then gets no cache),
 * and a directory someone else made ahead of time is no place to load compiled code of a credential tool
 * from. macOS and Windows give each user a private temporary directory, so Node's default stays there
 * (`undefined`). `false`: no cache at all (no home directory to put it in).
 */
function compileCacheDir(): string | false | undefined {
  if (process.env['NODE_COMPILE_CACHE'] || process.platform === 'darwin' || process.platform === 'win32') {
    return undefined;
  }
  const xdg = process.env['XDG_CACHE_HOME'];
  if (xdg && isAbsolute(xdg)) return join(xdg, 'nebula-credential', 'node-compile-cache');
  try {
    return join(homedir(), '.cache', 'nebula-credential', 'node-compile-cache');
  } catch {
    return false;
  }
}

// Node 22.1+ caches compiled code between runs; turned on before the rest loads, so it covers all of it.
// NODE_DISABLE_COMPILE_CACHE=1 turns it off (Node checks that itself).
const enableCompileCache = (module as { enableCompileCache?: (dir?: string) => unknown }).enableCompileCache;
if (enableCompileCache) {
  const dir = compileCacheDir();
  if (dir !== false) enableCompileCache(dir);
}

// Standard output is not touched here: processIo makes it on first use, with the closed-pipe handler
// (building process.stdout for a pipe costs a few ms that `get` can spend better).

// On Node 20 the AWS SDK prints a 9-line NodeVersionSupportWarning for every AWS command; its documented
// switch turns that off before any client exists. A value the user set is kept.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const { runCli } = await import('./run.js');
const { processIo } = await import('./io.js');
process.exitCode = await runCli(process.argv.slice(2), processIo());
