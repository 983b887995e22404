import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import type { CliInput, CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/run.js';
import { DEFAULT_MAX_SOCKETS } from '../../src/core/connection-pool.js';
import { EncryptionManager } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import { FILE_SIZE_LIMITS } from '../../src/core/files.js';
import { createMetadata } from '../../src/core/metadata.js';
import { openCredentialStore } from '../../src/providers/factory.js';
import { HashiCorpVaultProvider } from '../../src/providers/hashicorp-vault.js';
import { resolveKubeAccess, ServiceAccountToken } from '../../src/providers/kubernetes-secrets-auth.js';
import { MemoryStorageProvider } from '../../src/providers/memory.js';
import { createTestCertificateAuthority } from '../../src/testing/emulator-kit/tls.js';
import { VaultEmulator } from '../../src/testing/emulators/vault.js';
import { BUILT, runInChild } from './child-client.js';

const root = mkdtempSync(join(tmpdir(), 'nebula-bounded-'));
const cleanups: (() => Promise<void> | void)[] = [() => rmSync(root, { recursive: true, force: true })];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

let counter = 0;
const path = (name: string) => join(root, `${counter++}-${name}`);

function fifo(name: string): string {
  const p = path(name);
  execFileSync('mkfifo', ['-m', '600', p]);
  return p;
}
function directory(name: string): string {
  const p = path(name);
  mkdirSync(p, { mode: 0o700 });
  return p;
}
function file(name: string, content: string | Buffer, mode = 0o600): string {
  const p = path(name);
  writeFileSync(p, content, { mode });
  chmodSync(p, mode);
  return p;
}
const oversize = (name: string, bytes: number) => file(name, Buffer.alloc(bytes, 0x61));
/** A character device every POSIX system has; reading it never ends. */
const DEVICE = '/dev/zero';

/** The files a bounded read must refuse, each with what its message must say. */
function wrongFiles(label: string, maxBytes: number): [string, RegExp][] {
  return [
    [directory(`${label}-dir`), /directory/],
    [DEVICE, /device/],
    [oversize(`${label}-big`, maxBytes + 1), /bytes/],
  ];
}

const isRefusal =
  (pattern: RegExp, code = 'InvalidConfig') =>
  (e: unknown) => {
    assert.ok(e instanceof StorageError, inspect(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return true;
  };

function capture() {
  const chunks: Buffer[] = [];
  return {
    write: (c: string | Uint8Array) => chunks.push(Buffer.from(c)),
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

const noInput: CliInput = { isTTY: false, async *[Symbol.asyncIterator]() {} };

async function cli(args: string[], env: Record<string, string> = {}, stdin: CliInput = noInput) {
  const home = directory('home');
  const stderr = capture();
  const stdout = capture();
  const memory = new MemoryStorageProvider({ maxCredentialSize: 1024 });
  const io: CliIo = {
    stdin,
    stdout,
    stderr,
    env,
    cwd: home,
    home,
    openStorage: async () => memory,
  };
  const status = await runCli(args, io);
  return { status, stderr: stderr.text(), stdout: stdout.text(), memory, home };
}

describe('FIFOs never block: the process finishes and can exit', () => {
  it('a FIFO as the key file of openCredentialStore', async () => {
    const keyFile = fifo('key');
    const { out, hung } = await runInChild(`
      const { openCredentialStore } = await import(SRC + 'providers/factory.js');
      try {
        await openCredentialStore({ storage: { provider: 'memory' }, encryption: { keyFile: ${JSON.stringify(keyFile)} } });
        console.log('opened');
      } catch (e) { console.log(e.code, e.message); }`);
    assert.equal(hung, false, 'openCredentialStore hung on a FIFO key file');
    assert.match(out, /^InvalidConfig .*FIFO/);
  });

  it('FIFOs as the CLI config, passphrase file and --from-file value', async () => {
    const cliMain = `${BUILT}cli/run.js`;
    const script = (args: string[], env: Record<string, string>) => `
      const { runCli } = await import(${JSON.stringify(cliMain)});
      const { MemoryStorageProvider } = await import(SRC + 'providers/memory.js');
      const err = []; const sink = { write: (c) => err.push(String(c)) };
      const status = await runCli(${JSON.stringify(args)}, {
        stdin: { isTTY: false, async *[Symbol.asyncIterator]() {} }, stdout: sink, stderr: sink,
        env: ${JSON.stringify(env)}, cwd: ${JSON.stringify(root)}, home: ${JSON.stringify(directory('home'))},
        openStorage: async () => new MemoryStorageProvider(),
      });
      console.log(status, err.join('').trim());`;
    const keyFile = file('key', `${randomBytes(32).toString('hex')}\n`);
    const runs = [
      { args: ['get', 'x', '--config', fifo('config.json')], env: {} },
      {
        args: [
          'get',
          'x',
          '--config',
          file(
            'c.json',
            JSON.stringify({ provider: 'memory', encryption: { passphraseFile: fifo('pass') } }),
          ),
        ],
        env: { NEBULA_CREDENTIAL_PASSPHRASE: 'pw' },
      },
      { args: ['put', 'x', '--from-file', fifo('value'), '--key-file', keyFile], env: {} },
    ];
    for (const { args, env } of runs) {
      const { out, hung } = await runInChild(script(args, env));
      assert.equal(hung, false, `${args.join(' ')} hung on a FIFO`);
      assert.match(out, /FIFO/, `${args.join(' ')}: ${out}`);
      assert.doesNotMatch(out, /^0 /, out);
    }
  });

  it('a FIFO as the Kubernetes service-account token or namespace file', async () => {
    const token = fifo('token');
    const dir = directory('sa');
    writeFileSync(join(dir, 'ca.crt'), 'not read here');
    execFileSync('mkfifo', ['-m', '600', join(dir, 'namespace')]);
    const { out, hung } = await runInChild(`
      const auth = await import(SRC + 'providers/kubernetes-secrets-auth.js');
      try { await new auth.ServiceAccountToken(${JSON.stringify(token)}, 1000).reload(0); console.log('read'); }
      catch (e) { console.log(e.code, e.message); }
      const sdk = await import('@kubernetes/client-node');
      try {
        await auth.resolveKubeAccess(sdk, { inCluster: true, kubeconfigPath: undefined, context: undefined, namespace: undefined,
          serviceAccountDir: ${JSON.stringify(dir)}, tokenRefreshMs: 1000, tls: undefined, allowInsecureHttp: false },
          undefined, { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1' });
        console.log('resolved');
      } catch (e) { console.log(e.code, e.message); }`);
    assert.equal(hung, false, 'a FIFO service-account file hung the provider');
    const lines = out.trim().split('\n');
    assert.match(lines[0] ?? '', /^InvalidConfig .*FIFO/, out);
    assert.match(lines[1] ?? '', /^InvalidConfig .*FIFO/, out);
  });

  it('reads the files a kubeconfig names once, relative to it, and hands them to the client inline', async () => {
    const dir = directory('kube');
    const pem = createTestCertificateAuthority().caCertPem;
    writeFileSync(join(dir, 'ca.pem'), pem);
    writeFileSync(
      join(dir, 'config'),
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{ name: c, cluster: { server: "https://127.0.0.1:6443", certificate-authority: ca.pem } }]',
        'users: [{ name: u, user: { token: t } }]',
        'contexts: [{ name: x, context: { cluster: c, user: u, namespace: apps } }]',
        'current-context: x',
      ].join('\n'),
    );
    const sdk = await import('@kubernetes/client-node');
    const access = await resolveKubeAccess(sdk, {
      inCluster: false,
      kubeconfigPath: join(dir, 'config'),
      context: undefined,
      namespace: undefined,
      serviceAccountDir: '/nonexistent',
      tokenRefreshMs: 1000,
      tls: undefined,
      dangerouslyAllowInsecureHttp: false,
      maxSockets: DEFAULT_MAX_SOCKETS,
    });
    const cluster = access.kubeConfig.getCurrentCluster()!;
    // client-node would re-read a named file synchronously on every request; inline data it never reads.
    assert.equal(cluster.caFile, undefined);
    assert.equal(Buffer.from(cluster.caData!, 'base64').toString('utf8'), pem);
    assert.equal(access.namespace, 'apps');
    access.agent?.destroy();
  });

  it('a FIFO as kubeconfigPath or in KUBECONFIG, and an oversize kubeconfig', async () => {
    const config = fifo('kubeconfig');
    const big = oversize('kubeconfig-big', FILE_SIZE_LIMITS.kubeconfig + 1);
    const { out, hung } = await runInChild(`
      const auth = await import(SRC + 'providers/kubernetes-secrets-auth.js');
      const sdk = await import('@kubernetes/client-node');
      const options = (kubeconfigPath) => ({ inCluster: false, kubeconfigPath, context: undefined, namespace: undefined,
        serviceAccountDir: '/nonexistent', tokenRefreshMs: 1000, tls: undefined, allowInsecureHttp: false });
      for (const [path, env] of [[${JSON.stringify(config)}, {}], [undefined, { KUBECONFIG: ${JSON.stringify(config)} }],
        [${JSON.stringify(big)}, {}]]) {
        try { await auth.resolveKubeAccess(sdk, options(path), undefined, env); console.log('resolved'); }
        catch (e) { console.log(e.code, e.message); }
      }`);
    assert.equal(hung, false, 'a FIFO kubeconfig hung the provider');
    const lines = out.trim().split('\n');
    assert.match(lines[0] ?? '', /^InvalidConfig .*kubeconfigPath.*FIFO/, out);
    assert.match(lines[1] ?? '', /^InvalidConfig .*KUBECONFIG.*FIFO/, out);
    assert.match(lines[2] ?? '', /^InvalidConfig .*kubeconfig.*bytes/, out);
  });
});

describe('key and passphrase files: regular files of bounded size only', () => {
  const open = (keyFile: string) =>
    openCredentialStore({ storage: new MemoryStorageProvider(), encryption: { keyFile } });

  it('refuses a directory, a device and an oversize key file, and still reads a good one', async () => {
    await assert.rejects(open(directory('keydir')), isRefusal(/directory/));
    await assert.rejects(open(DEVICE), isRefusal(/device/));
    await assert.rejects(open(oversize('bigkey', FILE_SIZE_LIMITS.keyFile + 1)), isRefusal(/bytes/));
    const store = await open(file('key', `${randomBytes(32).toString('hex')}\n`));
    await store.put('a', 'v');
    await store.close();
  });

  it('reads the key file under the caller signal', async () => {
    const keyFile = file('key', `${randomBytes(32).toString('hex')}\n`);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      openCredentialStore({
        storage: new MemoryStorageProvider(),
        encryption: { keyFile },
        signal: controller.signal,
      }),
      isRefusal(/abort/, 'Aborted'),
    );
  });

  it('the CLI refuses a directory, a device and an oversize passphrase file', async () => {
    const config = (passphraseFile: string) =>
      file('c.json', JSON.stringify({ provider: 'memory', encryption: { passphraseFile } }));
    for (const [target, pattern] of wrongFiles('passdir', FILE_SIZE_LIMITS.keyFile)) {
      const r = await cli(['get', 'x', '--config', config(target)], { NEBULA_CREDENTIAL_PASSPHRASE: 'pw' });
      assert.equal(r.status, 12, r.stderr); // InvalidConfig
      assert.match(r.stderr, pattern);
    }
  });
});

describe('CLI config and value files', () => {
  it('refuses a directory, a device and an oversize config file', async () => {
    for (const [target, pattern] of wrongFiles('confdir', FILE_SIZE_LIMITS.configFile)) {
      const r = await cli(['list', '--config', target]);
      assert.equal(r.status, 12, r.stderr);
      assert.match(r.stderr, pattern);
    }
  });

  it('reads --from-file and standard input up to the largest credential the backend takes', async () => {
    const keyFile = file('key', `${randomBytes(32).toString('hex')}\n`);
    const put = (args: string[], stdin?: CliInput) =>
      cli(['put', 'x', '--key-file', keyFile, ...args], {}, stdin);
    for (const [target, pattern] of [
      [directory('valdir'), /directory/],
      [DEVICE, /device/],
    ] as const) {
      const r = await put(['--from-file', target]);
      assert.equal(r.status, 12, r.stderr);
      assert.match(r.stderr, pattern);
    }
    // The backend here takes 1024 bytes: a bigger value is refused while reading, not after.
    const big = await put(['--from-file', oversize('bigvalue', 1025)]);
    assert.notEqual(big.status, 0);
    assert.match(big.stderr, /SizeLimitExceeded/);
    assert.equal(big.memory.calls.store ?? 0, 0);
    let yielded = 0;
    const endless: CliInput = {
      isTTY: false,
      async *[Symbol.asyncIterator]() {
        for (;;) {
          yielded++;
          yield Buffer.alloc(256, 0x62);
        }
      },
    };
    const piped = await put([], endless);
    assert.match(piped.stderr, /SizeLimitExceeded/);
    assert.ok(yielded < 64, `read ${yielded} chunks of an endless standard input`);
    const ok = await put(['--from-file', file('value', Buffer.alloc(1024, 0x63))]);
    assert.equal(ok.status, 0, ok.stderr);
  });
});

describe('Kubernetes service-account token file', () => {
  it('refuses a directory, a device and an oversize token, and reads a good one', async () => {
    for (const [target, pattern] of wrongFiles('tokdir', FILE_SIZE_LIMITS.token)) {
      await assert.rejects(new ServiceAccountToken(target, 1000).reload(0), isRefusal(pattern));
    }
    const token = new ServiceAccountToken(file('token', 'abc.def\n'), 1000);
    assert.equal(await token.reload(0), true);
    assert.equal((await token.current(0)).expose(), 'abc.def');
    token.dispose();
  });

  it('stops reading when the deadline signal fires', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      new ServiceAccountToken(file('token', 'abc'), 1000).reload(0, controller.signal),
      isRefusal(/abort/, 'Aborted'),
    );
  });
});

describe('Vault response bodies are bounded', () => {
  async function vaultWithCredential() {
    const vault = new VaultEmulator();
    await vault.start();
    cleanups.push(() => vault.stop());
    const provider = new HashiCorpVaultProvider({
      address: vault.url, // plain http to loopback needs no opt-in
      auth: { token: vault.rootToken },
      maxCredentialSize: 1024,
      retry: { maxRetries: 0 },
      timeouts: { readMs: 60_000 },
    });
    cleanups.push(() => provider.close());
    const data = EncryptionManager.generate().encrypt(Buffer.from('value'));
    await provider.store('present', data, createMetadata());
    return { vault, provider, data };
  }

  for (const contentLength of [false, true]) {
    it(`stops reading a huge body (${contentLength ? 'with' : 'without'} Content-Length) with SizeLimitExceeded`, async () => {
      const { vault, provider, data } = await vaultWithCredential();
      const huge = 64 * 1024 * 1024;
      vault.faults.add({
        action: { kind: 'body', bytes: huge, contentLength },
        match: (r) => r.method === 'GET' && r.path.includes('/data/'),
      });
      await assert.rejects(provider.retrieve('present'), (e: unknown) => {
        assert.ok(e instanceof StorageError, inspect(e));
        assert.equal(e.code, 'SizeLimitExceeded', e.message);
        assert.equal(e.retryable, false);
        assert.ok(typeof e.details.limit === 'number' && e.details.limit < huge, inspect(e.details));
        return true;
      });
      assert.ok(
        vault.streamedBodyBytes < huge / 2,
        `the client read on: ${vault.streamedBodyBytes} of ${huge} bytes sent`,
      );
      // The connection it abandoned is not reused: the next call works.
      const again = await provider.retrieve('present');
      assert.deepEqual(Buffer.from(again.data.ciphertext), Buffer.from(data.ciphertext));
    });
  }
});
