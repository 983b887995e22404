import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PACKAGE, PEER_SDKS, ROOT } from './packed.js';

const pins = JSON.parse(readFileSync(join(ROOT, '.ci', 'newest-sdks.json'), 'utf8')) as Record<
  string,
  string
>;
const lock = JSON.parse(readFileSync(join(ROOT, '.ci', 'newest-sdks.lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string }>;
};

describe('the newest-SDK set CI installs on Node 22 and later', () => {
  it('pins an exact release of every optional SDK, each a devDependency (an SDK whose provider is coming may be pinned early)', () => {
    for (const sdk of PEER_SDKS)
      assert.ok(pins[sdk], `${sdk} is a peer but has no pin in .ci/newest-sdks.json`);
    for (const [sdk, version] of Object.entries(pins)) {
      assert.match(version, /^\d+\.\d+\.\d+$/, sdk);
      assert.ok(PACKAGE.devDependencies[sdk], `${sdk} is pinned but not a devDependency`);
    }
  });

  it('has a lockfile that fits package.json and installs exactly the pinned releases', () => {
    const r = spawnSync(process.execPath, [join(ROOT, '.ci', 'newest-sdks.mjs'), 'check'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    for (const [sdk, version] of Object.entries(pins)) {
      assert.equal(lock.packages[`node_modules/${sdk}`]?.version, version, sdk);
    }
  });
});
