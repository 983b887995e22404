// What the package tests share: the packed tarball (`npm pack`, exactly what the registry would serve), and
// the switch that keeps the slow ones (registry installs, a tsc matrix) out of a developer's `npm test`.
import assert from 'node:assert/strict';
import { type SpawnSyncOptions, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from .build/test/package). */
export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** The parts of package.json the package tests read. */
export const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, unknown>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
};

/** Every optional cloud SDK: package.json's peer dependencies are the one list. */
export const PEER_SDKS = Object.keys(PACKAGE.peerDependencies).sort();

/** The import specifiers of every subpath export (`nebula-credential`, `nebula-credential/local`, ...). */
export const SUBPATH_SPECIFIERS = Object.keys(PACKAGE.exports)
  .filter((key) => key !== './package.json')
  .map((key) => (key === '.' ? PACKAGE.name : `${PACKAGE.name}/${key.slice(2)}`));

/**
 * Why the slow package tests are skipped here, or false when they run: they run in CI (`CI=true`, which
 * .ci/run sets) or when asked (`NEBULA_PACKAGE_TESTS=1`), so a developer's `npm test` stays quick and works
 * offline.
 */
export const slowPackageTestsSkipped: string | false =
  process.env['CI'] === 'true' || process.env['NEBULA_PACKAGE_TESTS'] === '1'
    ? false
    : 'installs from the npm registry and type-checks a matrix: runs under CI=true (.ci/run) or NEBULA_PACKAGE_TESTS=1';

/** Runs a command to completion; a failure shows its output. */
export function run(command: string, args: readonly string[], options: SpawnSyncOptions = {}): string {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  assert.equal(r.error, undefined, `${command} ${args.join(' ')}: ${r.error?.message}`);
  assert.equal(r.status, 0, `${command} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return String(r.stdout);
}

/** `npm pack` of the built package into a new temporary directory; returns the tarball's path. */
export function packTarball(): string {
  assert.ok(existsSync(join(ROOT, 'dist', 'index.js')), 'dist/ is missing: run "npm run build" first');
  const dir = mkdtempSync(join(tmpdir(), 'nebula-pack-'));
  const out = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT });
  const [{ filename }] = JSON.parse(out) as [{ filename: string }];
  return join(dir, filename);
}

/** Unpacks a tarball as `node_modules/<name>` of `app`, as npm would install it. */
export function unpackInto(tarball: string, app: string): string {
  const staging = mkdtempSync(join(tmpdir(), 'nebula-unpack-'));
  run('tar', ['-xzf', tarball, '-C', staging]);
  const target = join(app, 'node_modules', PACKAGE.name);
  mkdirSync(join(app, 'node_modules'), { recursive: true });
  renameSync(join(staging, 'package'), target);
  rmSync(staging, { recursive: true, force: true });
  return target;
}

/** The README's library example (the first ```ts block under "The library in ten lines"). */
export function readmeExample(): { imports: string[]; body: string[] } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## The library in ten lines'));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'README.md has no ```ts example under "The library in ten lines"');
  const lines = block.trimEnd().split('\n');
  return {
    imports: lines.filter((l) => l.startsWith('import ')),
    body: lines.filter((l) => !l.startsWith('import ')),
  };
}
