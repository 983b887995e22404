#!/usr/bin/env node
// The second dependency set CI tests on Node 22 and later: the repository's package.json with the cloud
// SDK devDependencies replaced by the newest releases pinned in .ci/newest-sdks.json (which need Node 22+),
// installed from its own lockfile, .ci/newest-sdks.lock.json, so every transitive version is fixed too.
// The root package-lock.json keeps the Node-20-capable set.
//
// Why a second lockfile rather than `npm install --no-save sdk@x.y.z` after `npm ci`: that pins only the
// five SDKs, while their dependencies (undici, google-gax, the @azure/core-* packages, ...) would float to
// whatever the registry serves on the day, so two runs of one commit could test different code; and the
// copy's node_modules would no longer match its package-lock.json, which scripts/ensure-deps.mjs (run by
// `npm test`) would "repair" with `npm ci`, silently putting the old SDKs back.
//
//   node .ci/newest-sdks.mjs check         exit 1 (saying what to run) when the lockfile no longer fits package.json
//   node .ci/newest-sdks.mjs update        regenerate .ci/newest-sdks.lock.json (after editing package.json or the pins)
//   node .ci/newest-sdks.mjs apply <dir>   write the derived package.json and lockfile into a copy of the repository
//   node .ci/newest-sdks.mjs latest        compare the pins with the registry's latest releases
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pinsFile = join(root, '.ci', 'newest-sdks.json');
const lockFile = join(root, '.ci', 'newest-sdks.lock.json');
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const FIELDS = [
  'dependencies',
  'devDependencies',
  'optionalDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
];

/** package.json with the pinned newest SDKs as devDependencies. */
function derivedManifest() {
  const manifest = readJson(join(root, 'package.json'));
  const pins = readJson(pinsFile);
  manifest.devDependencies = { ...manifest.devDependencies, ...pins };
  return manifest;
}

/** Why the stored lockfile does not fit the derived manifest, or undefined when it does. */
function staleness(manifest) {
  let lock;
  try {
    lock = readJson(lockFile);
  } catch {
    return `${lockFile} is missing`;
  }
  const locked = lock.packages?.[''] ?? {};
  const sorted = (o) => JSON.stringify(Object.fromEntries(Object.entries(o ?? {}).sort()));
  const field = FIELDS.find((f) => sorted(locked[f]) !== sorted(manifest[f]));
  return field ? `its root ${field} differ from package.json with the pins applied` : undefined;
}

function npm(args, cwd) {
  const r = spawnSync('npm', args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (exit status ${r.status})`);
  return r.stdout;
}

function check() {
  const reason = staleness(derivedManifest());
  if (reason) {
    console.error(
      `.ci/newest-sdks.lock.json is out of date (${reason}): run "node .ci/newest-sdks.mjs update" and commit it`,
    );
    process.exit(1);
  }
}

function update() {
  const dir = mkdtempSync(join(tmpdir(), 'nebula-newest-sdks-'));
  try {
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(derivedManifest(), null, 2)}\n`);
    // Starting from the root lockfile keeps every package the SDK bump does not touch at its locked version.
    copyFileSync(join(root, 'package-lock.json'), join(dir, 'package-lock.json'));
    npm(
      ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
      dir,
    );
    copyFileSync(join(dir, 'package-lock.json'), lockFile);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`wrote ${lockFile}`);
}

function apply(target) {
  check();
  writeFileSync(join(target, 'package.json'), `${JSON.stringify(derivedManifest(), null, 2)}\n`);
  copyFileSync(lockFile, join(target, 'package-lock.json'));
}

function latest() {
  for (const [name, pinned] of Object.entries(readJson(pinsFile))) {
    const newest = npm(['view', name, 'version'], root).trim();
    console.log(
      `${name}: pinned ${pinned}, latest ${newest}${newest === pinned ? '' : '  <- update the pin'}`,
    );
  }
}

const [command, arg] = process.argv.slice(2);
if (command === 'check') check();
else if (command === 'update') update();
else if (command === 'apply' && arg) apply(arg);
else if (command === 'latest') latest();
else {
  console.error('usage: node .ci/newest-sdks.mjs check | update | apply <dir> | latest');
  process.exit(2);
}
