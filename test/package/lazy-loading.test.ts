import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
// The cloud SDKs, and undici (the transport of four providers), load only when a provider connects.
const CLOUD_SDK = /node_modules\/(@aws-sdk|@smithy|@azure|@kubernetes|undici)\//;

// Runs `body` in a child process whose module loader records every URL it resolves, through the package's
// own export map (`nebula-credential`, `nebula-credential/local`, ...), and returns those URLs.
function loadedModules(body: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'nebula-lazy-'));
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(
    hooks,
    `let port;
export async function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  port.postMessage(result.url);
  return result;
}`,
  );
  const script = `
import { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
const urls = [];
const { port1, port2 } = new MessageChannel();
port1.on('message', (u) => urls.push(u));
register(${JSON.stringify(`file://${hooks}`)}, import.meta.url, { data: { port: port2 }, transferList: [port2] });
${body}
await new Promise((r) => setTimeout(r, 200));
port1.close();
console.log(JSON.stringify(urls));
`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, HOME: dir },
  });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(result.status, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as string[];
}

describe('optional cloud SDKs load lazily', () => {
  it('importing the core and using the memory provider loads no cloud SDK', () => {
    const urls = loadedModules(`
      const core = await import('nebula-credential');
      const store = await core.openCredentialStore({ storage: { provider: 'memory' }, encryption: { key: new Uint8Array(32) } });
      await store.put('a', 'b');
      await store.close();`);
    assert.ok(
      urls.some((u) => u.endsWith('/dist/index.js')),
      'the probe did not load the core',
    );
    assert.deepEqual(
      urls.filter((u) => CLOUD_SDK.test(u)),
      [],
    );
  });

  it('importing the local provider module and every cloud provider module loads no cloud SDK', () => {
    const urls = loadedModules(`
      await import('nebula-credential/local');
      await import('nebula-credential/aws');
      await import('nebula-credential/azure');
      await import('nebula-credential/vault');
      await import('nebula-credential/kubernetes');`);
    assert.ok(urls.some((u) => u.endsWith('/dist/providers/local.js')));
    assert.deepEqual(
      urls.filter((u) => CLOUD_SDK.test(u)),
      [],
    );
  });

  it('importing nebula-credential/testing loads no gRPC or Google package (the GCP emulator loads them when it starts)', () => {
    const urls = loadedModules(`await import('nebula-credential/testing');`);
    assert.ok(urls.some((u) => u.endsWith('/dist/testing/index.js')));
    assert.deepEqual(
      urls.filter((u) => /node_modules\/(@grpc|@google-cloud|google-gax|google-auth-library)\//.test(u)),
      [],
    );
  });

  // Node builds tls, net, http and the streams when a module evaluates `process.getBuiltinModule('node:https')`
  // (about 10 ms of a command's start on Node 26): a local `get` must not reach them, nor child_process (the
  // core process runner), which builds net too. Standard output goes to a file, since a pipe's stream is
  // itself built on node:net.
  it('a local `get` through the command loads no network builtin of Node', () => {
    const home = mkdtempSync(join(tmpdir(), 'nebula-lazy-cli-'));
    try {
      const cli = join(root, 'dist', 'cli', 'main.js');
      const env = { ...process.env, HOME: home, NODE_DISABLE_COMPILE_CACHE: '1' };
      for (const args of [['init'], ['put', 'probe']]) {
        const r = spawnSync(process.execPath, [cli, ...args], { env, input: 'v', encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
      }
      const record = join(home, 'record.cjs');
      writeFileSync(
        record,
        `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(join(home, 'loaded.json'))}, JSON.stringify(process.moduleLoadList)));`,
      );
      const out = openSync(join(home, 'out.txt'), 'w');
      const r = spawnSync(process.execPath, ['--require', record, cli, 'get', 'probe'], {
        env,
        stdio: ['ignore', out, 'pipe'],
        encoding: 'utf8',
      });
      closeSync(out);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(readFileSync(join(home, 'out.txt'), 'utf8'), 'v');
      const loaded = JSON.parse(readFileSync(join(home, 'loaded.json'), 'utf8')) as string[];
      assert.ok(
        loaded.includes('NativeModule internal/crypto/cipher'),
        'the probe did not see the decryption',
      );
      assert.deepEqual(
        loaded.filter((m) => /^NativeModule (https?|net|tls|zlib|http2|_http_\w+|child_process)$/.test(m)),
        [],
      );
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('detects a cloud SDK when one is imported (the probe works)', () => {
    const urls = loadedModules(`await import('@aws-sdk/client-secrets-manager');`);
    assert.ok(urls.some((u) => CLOUD_SDK.test(u)));
  });
});
