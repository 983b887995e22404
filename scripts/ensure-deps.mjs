#!/usr/bin/env node
// Runs first in `npm test`, `npm run quickstart` and the other scripts: on a fresh clone (no node_modules)
// or after package-lock.json changed (a pull, a branch switch), it installs exactly the lockfile with
// `npm ci`; otherwise it returns at once and prints nothing. Dependency-free on purpose: it runs before
// anything is installed.
//
// "Up to date" means: every package the lockfile lists is in node_modules/.package-lock.json (the record
// npm writes of what it installed) with the same version, source and integrity, and its directory is
// there. Optional packages for other platforms (Biome's and Rollup's binaries) are never installed, so
// their absence is expected; extra installed packages (an `npm install --no-save` experiment) are left alone.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const COMPARED_FIELDS = ['version', 'resolved', 'integrity', 'link'];

function readLock(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    if (error.code === 'ENOENT') return undefined;
    throw new Error(`${path} is not valid JSON (${error.message})`);
  }
}

/**
 * Whether `root`'s node_modules holds what its package-lock.json lists.
 * @param {string} root the project directory
 * @returns {{ upToDate: true } | { upToDate: false, reason: string }}
 */
export function dependencyState(root) {
  const lock = readLock(join(root, 'package-lock.json'));
  if (!lock) return { upToDate: false, reason: 'package-lock.json is missing' };
  const wanted = Object.entries(lock.packages ?? {}).filter(([path]) => path !== '');
  if (wanted.length === 0) return { upToDate: true };
  if (!existsSync(join(root, 'node_modules'))) return { upToDate: false, reason: 'node_modules is missing' };
  const installed = readLock(join(root, 'node_modules', '.package-lock.json'))?.packages;
  if (!installed) {
    return { upToDate: false, reason: 'node_modules/.package-lock.json is missing (not installed by npm)' };
  }
  for (const [path, entry] of wanted) {
    const have = installed[path];
    if (!have) {
      if (entry.optional) continue;
      return { upToDate: false, reason: `${path} is not installed` };
    }
    const differing = COMPARED_FIELDS.find((field) => entry[field] !== have[field]);
    if (differing) {
      return {
        upToDate: false,
        reason: `${path} differs from the lockfile (${differing}: ${have[differing] ?? 'none'} installed, ${entry[differing] ?? 'none'} locked)`,
      };
    }
    if (!existsSync(join(root, path, 'package.json'))) {
      return { upToDate: false, reason: `${path} was removed from node_modules` };
    }
  }
  return { upToDate: true };
}

/** Runs `npm ci` in `root` with the npm that runs this script (or the one on PATH). */
function npmCi(root) {
  const args = ['ci', '--no-audit', '--no-fund'];
  const npmCli = process.env.npm_execpath;
  const result = npmCli?.endsWith('.js')
    ? spawnSync(process.execPath, [npmCli, ...args], { cwd: root, stdio: 'inherit' })
    : spawnSync('npm', args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url));
  const state = dependencyState(root);
  if (!state.upToDate) {
    console.error(`ensure-deps: ${state.reason}; installing from package-lock.json (npm ci)`);
    const status = npmCi(root);
    if (status !== 0) {
      console.error(`ensure-deps: npm ci failed (exit status ${status})`);
      process.exit(status);
    }
    const after = dependencyState(root);
    if (!after.upToDate) {
      console.error(`ensure-deps: still not up to date after npm ci: ${after.reason}`);
      process.exit(1);
    }
  }
}
