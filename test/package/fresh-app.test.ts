import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { PEER_SDKS, packTarball, run, SUBPATH_SPECIFIERS, slowPackageTestsSkipped } from './packed.js';

const nodeMajor = Number(process.versions.node.split('.')[0]);
const skip =
  slowPackageTestsSkipped ||
  (nodeMajor < 22 ? `the newest SDKs need Node 22 or later; this is Node ${process.versions.node}` : false);

// Runs in the fresh application, against the installed tarball: the conformance suite for the provider
// behind one CLI emulator (`awsCliEmulator`, ...: every export of nebula-credential/testing with `service` and
// `start`), a fresh emulator per test so each starts empty.
const CONFORMANCE = `
import { after, describe, it } from 'node:test';
import { createStorageProvider } from 'nebula-credential';
import * as testing from 'nebula-credential/testing';

const service = process.env.FRESH_APP_SERVICE;
const emulator = Object.values(testing).find((v) => v?.service === service && typeof v.start === 'function');
if (!emulator) throw new Error('no CLI emulator for ' + service);
const running = [];
const secrets = [];
after(() => Promise.all(running.map((r) => r.stop())));
testing.runStorageProviderConformance({ describe, it }, {
  name: service + ' (installed tarball, newest SDK, fresh application)',
  async createProvider({ logger }) {
    const started = await emulator.start({});
    running.push(started);
    for (const [key, value] of Object.entries(started.info)) {
      if (/secret|token/i.test(key) && typeof value === 'string') secrets.push(value);
    }
    // A cold application on a loaded CI machine can need more than the 2 s connect default to load and
    // authenticate the first time; this suite is about behaviour, not that budget.
    return createStorageProvider({ ...started.info.config, logger, timeouts: { connectMs: 30000 } });
  },
  configSecrets: secrets,
});
`;

/** Lists the services of the CLI emulators the installed package exports. */
const LIST_SERVICES = `
const testing = await import('nebula-credential/testing');
const services = Object.values(testing).filter((v) => typeof v?.service === 'string' && typeof v.start === 'function');
console.log(JSON.stringify(services.map((v) => v.service)));
`;

describe('the packed tarball in a fresh application, next to the newest SDKs', { skip }, () => {
  it("installs with plain npm install, loads from CommonJS, and passes each provider's conformance", async (t) => {
    const tarball = packTarball();
    const app = mkdtempSync(join(tmpdir(), 'nebula-fresh-app-'));
    t.after(() => {
      rmSync(app, { recursive: true, force: true });
      rmSync(dirname(tarball), { recursive: true, force: true });
    });
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'fresh-app', private: true, type: 'module' }),
    );
    // No --legacy-peer-deps: a peer range that refuses an SDK's newest major fails here with ERESOLVE.
    run('npm', ['install', '--no-audit', '--no-fund', tarball, ...PEER_SDKS.map((sdk) => `${sdk}@latest`)], {
      cwd: app,
    });
    const installed = PEER_SDKS.map((sdk) => {
      const { version } = JSON.parse(readFileSync(join(app, 'node_modules', sdk, 'package.json'), 'utf8'));
      return `${sdk}@${version}`;
    });
    t.diagnostic(`Node ${process.versions.node}: ${installed.join(', ')}`);

    // A CommonJS consumer: require() of every subpath (an ES module graph without top-level await).
    const requires = SUBPATH_SPECIFIERS.map((s) => `require(${JSON.stringify(s)});`).join('');
    run(process.execPath, ['-e', `${requires}console.log('ok')`], { cwd: app });

    const services = JSON.parse(
      run(process.execPath, ['--input-type=module', '-e', LIST_SERVICES], { cwd: app }),
    ) as string[];
    assert.ok(services.length >= 4, `emulators exported: ${services.join(', ')}`);
    writeFileSync(join(app, 'conformance.test.mjs'), CONFORMANCE);
    for (const service of services) {
      await t.test(service, () => {
        const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', 'conformance.test.mjs'], {
          cwd: app,
          encoding: 'utf8',
          // NODE_TEST_CONTEXT would make the inner runner report to this one instead of printing.
          env: { ...process.env, NODE_TEST_CONTEXT: undefined, FRESH_APP_SERVICE: service, NO_COLOR: '1' },
          maxBuffer: 64 * 1024 * 1024,
        });
        const count = (label: string) =>
          Number(new RegExp(`ℹ ${label} (\\d+)`).exec(r.stdout)?.[1] ?? Number.NaN);
        assert.equal(
          r.status,
          0,
          `${service} conformance failed in the fresh application:\n${r.stdout}\n${r.stderr}`,
        );
        assert.equal(count('fail'), 0);
        assert.ok(count('pass') >= 10, `only ${count('pass')} conformance tests passed for ${service}`);
      });
    }
  });
});
