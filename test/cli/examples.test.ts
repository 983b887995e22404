import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EMULATORS } from '../../src/providers/registry.js';
import { cliEnv, ROOT, tempHome } from './helpers.js';

// The examples import 'nebula-credential' (the package's own name), which resolves to dist/: they run
// against the built package as a user's code would. `npm test` builds it first.
const built = existsSync(join(ROOT, 'dist', 'index.js')) && existsSync(join(ROOT, 'dist', 'cli', 'main.js'));

function runScript(script: string, home: string) {
  return spawnSync(process.execPath, [join(ROOT, script)], {
    cwd: ROOT,
    env: cliEnv(home, { TMPDIR: home }),
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('examples and the quick start (against dist/)', () => {
  it('dist/ is built (run "npm run build")', () => {
    assert.ok(built, 'dist/ is missing: run "npm run build" before the tests (npm test does)');
  });

  it('examples/local.mjs runs', { skip: !built }, async () => {
    const { home, cleanup } = await tempHome();
    try {
      const r = runScript('examples/local.mjs', home);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^github_token: ghp_example_value /m);
      assert.match(r.stdout, /printing the secret object shows \[REDACTED\]/);
      assert.match(r.stdout, /after delete: NotFound/);
    } finally {
      await cleanup();
    }
  });

  // Every provider with an emulator has an example named after it.
  for (const service of EMULATORS.map((e) => e.name)) {
    const skip = built ? false : 'dist/ not built';
    it(`examples/${service}.mjs runs against its emulator`, { skip }, async () => {
      const { home, cleanup } = await tempHome();
      try {
        const r = runScript(`examples/${service}.mjs`, home);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /^github_token: ghp_example_value /m);
        assert.match(r.stdout, /after delete: NotFound/);
      } finally {
        await cleanup();
      }
    });
  }

  it('scripts/quickstart.mjs sets up, stores and reads back in a sandbox HOME', {
    skip: !built,
  }, async () => {
    const { home, cleanup } = await tempHome();
    try {
      const r = runScript('scripts/quickstart.mjs', home);
      assert.equal(r.status, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /\$ nebula-credential get github_token\nghp_quickstart_example_value\n/);
      assert.match(r.stdout, /\$ nebula-credential list --tag team=platform\ngithub_token\n/);
      const sandbox = /sandbox HOME: (\S+)/.exec(r.stdout)?.[1];
      assert.ok(sandbox?.startsWith(home), 'the sandbox is under the temp directory');
      assert.ok(existsSync(join(sandbox ?? '', '.nebula', 'key')));
    } finally {
      await cleanup();
    }
  });
});
