import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const script = join(root, 'scripts', 'ensure-deps.mjs');

type DependencyState = { upToDate: true } | { upToDate: false; reason: string };
const { dependencyState } = (await import(pathToFileURL(script).href)) as {
  dependencyState(root: string): DependencyState;
};

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  optional?: boolean;
}

function lockfile(packages: Record<string, LockEntry>) {
  return JSON.stringify({
    name: 'fixture',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name: 'fixture' }, ...packages },
  });
}

// Every fixture project, removed when the file's tests end.
const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A project whose lockfile and installed record are given, with a directory for each installed package. */
function fixture(locked: Record<string, LockEntry>, installed?: Record<string, LockEntry>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nebula-ensure-'));
  made.push(dir);
  writeFileSync(join(dir, 'package-lock.json'), lockfile(locked));
  if (installed) {
    mkdirSync(join(dir, 'node_modules'));
    writeFileSync(join(dir, 'node_modules', '.package-lock.json'), lockfile(installed));
    for (const path of Object.keys(installed)) {
      mkdirSync(join(dir, path), { recursive: true });
      writeFileSync(join(dir, path, 'package.json'), '{}');
    }
  }
  return dir;
}

const A: LockEntry = { version: '1.0.0', resolved: 'https://r/a-1.0.0.tgz', integrity: 'sha512-a' };
const B: LockEntry = { version: '2.0.0', resolved: 'https://r/b-2.0.0.tgz', integrity: 'sha512-b' };

describe('ensure-deps: is node_modules what the lockfile lists?', () => {
  it('up to date when every locked package is installed at its locked version', () => {
    const dir = fixture(
      { 'node_modules/a': A, 'node_modules/a/node_modules/b': B },
      { 'node_modules/a': A, 'node_modules/a/node_modules/b': B },
    );
    assert.deepEqual(dependencyState(dir), { upToDate: true });
  });

  it("stale when node_modules or npm's record of it is missing", () => {
    const none = fixture({ 'node_modules/a': A });
    assert.match((dependencyState(none) as { reason: string }).reason, /node_modules is missing/);
    const handMade = fixture({ 'node_modules/a': A });
    mkdirSync(join(handMade, 'node_modules'));
    assert.match((dependencyState(handMade) as { reason: string }).reason, /\.package-lock\.json is missing/);
  });

  it('stale, naming the package, when the lockfile moved on (a pull changed a version)', () => {
    const dir = fixture(
      { 'node_modules/a': { ...A, version: '1.1.0', integrity: 'sha512-a2' } },
      { 'node_modules/a': A },
    );
    const state = dependencyState(dir);
    assert.equal(state.upToDate, false);
    assert.match(
      (state as { reason: string }).reason,
      /node_modules\/a differs .*1\.0\.0 installed, 1\.1\.0 locked/,
    );
  });

  it('stale when a locked package is not installed or its directory was removed', () => {
    const missing = fixture({ 'node_modules/a': A, 'node_modules/b': B }, { 'node_modules/a': A });
    assert.match((dependencyState(missing) as { reason: string }).reason, /node_modules\/b is not installed/);
    const removed = fixture({ 'node_modules/a': A }, { 'node_modules/a': A });
    rmSync(join(removed, 'node_modules', 'a'), { recursive: true });
    assert.match((dependencyState(removed) as { reason: string }).reason, /node_modules\/a was removed/);
  });

  it("up to date when only other platforms' optional packages are absent, or extra packages are present", () => {
    const dir = fixture(
      { 'node_modules/a': A, 'node_modules/@tool/cli-darwin-arm64': { ...B, optional: true } },
      { 'node_modules/a': A, 'node_modules/extra': B },
    );
    assert.deepEqual(dependencyState(dir), { upToDate: true });
  });

  it('installs with npm ci on a fresh project, then does nothing, then reinstalls after the lockfile changes', () => {
    // A real npm ci, offline: the one dependency is a local directory.
    const dir = mkdtempSync(join(tmpdir(), 'nebula-ensure-e2e-'));
    made.push(dir);
    mkdirSync(join(dir, 'dep'));
    const writeProject = (version: string) => {
      writeFileSync(join(dir, 'dep', 'package.json'), JSON.stringify({ name: 'dep', version }));
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({ name: 'fixture', private: true, dependencies: { dep: 'file:./dep' } }),
      );
      writeFileSync(
        join(dir, 'package-lock.json'),
        lockfile({ dep: { version }, 'node_modules/dep': { resolved: 'dep', link: true } }),
      );
    };
    const run = () => {
      const r = spawnSync(process.execPath, [script, dir], { encoding: 'utf8', env: { ...process.env } });
      assert.equal(r.status, 0, r.stderr);
      return r.stderr;
    };
    writeProject('1.0.0');
    assert.match(run(), /node_modules is missing; installing from package-lock\.json \(npm ci\)/);
    assert.ok(statSync(join(dir, 'node_modules', 'dep', 'package.json')).isFile());
    assert.deepEqual(dependencyState(dir), { upToDate: true });

    assert.equal(run(), '', 'an up-to-date project must not be reinstalled');

    writeProject('1.1.0');
    assert.match(run(), /dep differs from the lockfile \(version: 1\.0\.0 installed, 1\.1\.0 locked\)/);
    assert.deepEqual(dependencyState(dir), { upToDate: true });
  });
});
