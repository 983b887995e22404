// The core CONNECT tunnel: a proxy's reply head is bounded and under a deadline, the proxy password never
// reaches an error, and Azure (HTTPS_PROXY, NO_PROXY) and Kubernetes (`proxy-url`) go through it.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { EncryptionManager } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import { createMetadata } from '../../src/core/metadata.js';
import { bypassesProxy, parseProxyUrl, proxyFromEnvironment } from '../../src/core/proxy-env.js';
import { openProxyTunnel, PROXY_HEAD_LIMIT, proxyTunnelError } from '../../src/core/proxy-tunnel.js';
import { CredentialStore } from '../../src/core/store.js';
import { AzureKeyVaultProvider } from '../../src/providers/azure-key-vault.js';
import { KubernetesSecretsProvider } from '../../src/providers/kubernetes-secrets.js';
import { rejectsWithStorageError } from '../../src/testing/assertions.js';
import { AzureKeyVaultEmulator } from '../../src/testing/emulators/azure.js';
import { KubernetesEmulator } from '../../src/testing/emulators/kubernetes.js';
import { withEnv } from './env-helpers.js';
import { assertNoSentinel, SENTINEL, TestProxy } from './proxy-helpers.js';

/** A logger keeping every line as text, to check that the proxy password reaches none of them. */
function recordingLogger() {
  const lines: string[] = [];
  const keep = (fields: Record<string, unknown>, message?: string) =>
    lines.push(`${message ?? ''} ${inspect(fields, { depth: 8 })}`);
  return { lines, logger: { debug: keep, info: keep, warn: keep, error: keep } };
}

const enc = EncryptionManager.generate();
const data = (text = 'through the proxy') => enc.encrypt(Buffer.from(text));

describe('proxy environment: HTTPS_PROXY and NO_PROXY', () => {
  const target = (url: string) => new URL(url);

  it('matches NO_PROXY entries the way curl and Go do', () => {
    const cases: [string, string, boolean][] = [
      ['*', 'https://anything.example', true],
      ['example.com', 'https://example.com', true],
      ['example.com', 'https://vault.example.com', true],
      ['.example.com', 'https://example.com', true],
      ['.example.com', 'https://a.b.example.com', true],
      ['*.example.com', 'https://a.example.com', true],
      ['example.com', 'https://notexample.com', false],
      ['vault.example.com:8443', 'https://vault.example.com:8443', true],
      ['vault.example.com:8443', 'https://vault.example.com', false],
      ['10.0.0.0/8', 'https://10.1.2.3', true],
      ['10.0.0.0/8', 'https://11.1.2.3', false],
      ['127.0.0.1', 'https://127.0.0.1:9000', true],
      ['::1', 'https://[::1]:9000', true],
      ['[::1]:9000', 'https://[::1]:9000', true],
      ['other.test, example.com', 'https://example.com', true],
    ];
    for (const [list, url, expected] of cases)
      assert.equal(bypassesProxy(target(url), { NO_PROXY: list }), expected, `${list} vs ${url}`);
    assert.equal(bypassesProxy(target('https://example.com'), { no_proxy: 'example.com' }), true);
  });

  it('takes HTTPS_PROXY, then ALL_PROXY, then HTTP_PROXY, upper case winning, as the Azure SDK does', () => {
    const url = target('https://vault.example.com');
    assert.equal(
      proxyFromEnvironment(url, { HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:2' })?.host,
      'upper:1',
    );
    assert.equal(proxyFromEnvironment(url, { https_proxy: 'http://lower:2' })?.host, 'lower:2');
    assert.equal(
      proxyFromEnvironment(url, { HTTP_PROXY: 'proxy.corp:3128' })?.href,
      'http://proxy.corp:3128/',
    );
    assert.equal(proxyFromEnvironment(url, { HTTPS_PROXY: 'http://p:1', NO_PROXY: '*' }), undefined);
    assert.equal(proxyFromEnvironment(url, {}), undefined);
  });

  it('refuses a SOCKS proxy with InvalidConfig that names the variable, never the password', () => {
    assert.throws(
      () => parseProxyUrl(`socks5://user:${SENTINEL}@proxy:1080`, 'HTTPS_PROXY'),
      (error: unknown) => {
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, 'InvalidConfig');
        assert.match(error.message, /HTTPS_PROXY.*socks5.*not supported/);
        assertNoSentinel(error);
        return true;
      },
    );
  });
});

describe('openProxyTunnel: bounds and failures', () => {
  const proxy = new TestProxy();
  before(() => proxy.start());
  after(() => proxy.stop());
  const context = { provider: 'test', operation: 'connect' as const };

  it('fails an endless CONNECT head promptly with Unavailable and limitBytes, without reading it all', async () => {
    proxy.mode = 'endless-head';
    const started = Date.now();
    const caught = await openProxyTunnel('target.test', 443, {
      proxy: new URL(proxy.url()),
      timeoutMs: 10_000,
    }).then(
      () => assert.fail('expected a failure'),
      (error: unknown) => error,
    );
    const mapped = proxyTunnelError(caught, context);
    assert.equal(mapped?.code, 'Unavailable');
    assert.equal(mapped?.retryable, false);
    assert.equal(mapped?.details['limitBytes'], PROXY_HEAD_LIMIT);
    assert.ok(Date.now() - started < 5000);
    assertNoSentinel(mapped!);
    // The connection was dropped: the proxy did not get to push its 64 MiB.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(proxy.headBytesSent < 16 * 1024 * 1024, `${proxy.headBytesSent}`);
  });

  it('maps 407 to AuthenticationFailed without the password, and sends Basic credentials', async () => {
    proxy.mode = 'deny-407';
    const caught = await openProxyTunnel('target.test', 443, {
      proxy: new URL(proxy.url()),
      timeoutMs: 5000,
    }).then(
      () => assert.fail('expected a failure'),
      (error: unknown) => error,
    );
    const mapped = proxyTunnelError(caught, context)!;
    assert.equal(mapped.code, 'AuthenticationFailed');
    assert.equal(mapped.details.status, 407);
    assert.equal(mapped.retryable, false);
    assertNoSentinel(mapped);
    assert.equal(proxy.authorizations.at(-1), `Basic ${Buffer.from(`user:${SENTINEL}`).toString('base64')}`);
    assert.equal(proxy.targets.at(-1), 'target.test:443');
  });

  it('fails a proxy that never answers within the deadline', async () => {
    proxy.mode = 'hang';
    const started = Date.now();
    const caught = await openProxyTunnel('target.test', 443, {
      proxy: new URL(proxy.url()),
      timeoutMs: 300,
    }).then(
      () => assert.fail('expected a failure'),
      (error: unknown) => error,
    );
    const mapped = proxyTunnelError(caught, context)!;
    assert.equal(mapped.code, 'Unavailable');
    assert.equal(mapped.retryable, true);
    assert.equal(mapped.details.durationMs, 300);
    assert.ok(Date.now() - started < 2000);
  });
});

describe('Azure Key Vault through HTTPS_PROXY', () => {
  const proxy = new TestProxy();
  let emulator: AzureKeyVaultEmulator;
  // Not resolved here (the test proxy sends every target to loopback): only a tunnel reaches the vault.
  const HOST = 'proxied.vault.azure.net';
  before(async () => {
    emulator = await new AzureKeyVaultEmulator({ dnsNames: [HOST] }).start();
    await proxy.start();
  });
  after(async () => {
    await proxy.stop();
    await emulator.stop();
  });
  const viaName = () => {
    const url = emulator.vaultUrl.replace('127.0.0.1', HOST);
    // The emulator's discovery document names 127.0.0.1, so the authority stays there (proxied too).
    return { ...emulator.providerOptions(), vaultUrl: url };
  };

  it('sends the vault and token requests through the tunnel, with the proxy credentials', async () => {
    proxy.mode = 'tunnel';
    const before = proxy.tunnels;
    await withEnv({ HTTPS_PROXY: proxy.url(), NO_PROXY: undefined, no_proxy: undefined }, async () => {
      const provider = new AzureKeyVaultProvider(viaName());
      try {
        await provider.connect();
        await provider.store('proxied', data(), createMetadata());
        const back = await provider.retrieve('proxied');
        assert.equal(enc.decrypt(back.data).toString(), 'through the proxy');
      } finally {
        await provider.close();
      }
    });
    assert.ok(proxy.tunnels > before, 'no tunnel was opened');
    const port = new URL(emulator.vaultUrl).port;
    assert.ok(proxy.targets.includes(`${HOST}:${port}`), proxy.targets.join(', '));
    // The token requests (Entra ID) went through the tunnel too, not through https-proxy-agent.
    assert.ok(proxy.targets.includes(`127.0.0.1:${port}`), proxy.targets.join(', '));
    assert.equal(proxy.foreignClients, 0);
    assert.ok(
      proxy.authorizations.every((a) => a === `Basic ${Buffer.from(`user:${SENTINEL}`).toString('base64')}`),
    );
  });

  it('bypasses the proxy for a host NO_PROXY lists', async () => {
    proxy.mode = 'tunnel';
    const before = proxy.tunnels;
    await withEnv({ HTTPS_PROXY: proxy.url(), NO_PROXY: '127.0.0.1' }, async () => {
      const provider = new AzureKeyVaultProvider(emulator.providerOptions());
      try {
        await provider.connect();
        await provider.store('direct', data(), createMetadata());
      } finally {
        await provider.close();
      }
    });
    assert.equal(proxy.tunnels, before);
  });

  it('fails connect() with Unavailable and limitBytes on an endless CONNECT head', async () => {
    proxy.mode = 'endless-head';
    await withEnv({ HTTPS_PROXY: proxy.url(), NO_PROXY: undefined }, async () => {
      const provider = new AzureKeyVaultProvider({ ...viaName(), timeouts: { connectMs: 10_000 } });
      const started = Date.now();
      const error = await rejectsWithStorageError(provider.connect());
      assert.equal(error.code, 'Unavailable', error.message);
      assert.equal(error.details['limitBytes'], PROXY_HEAD_LIMIT);
      assert.ok(Date.now() - started < 5000);
      assertNoSentinel(error);
    });
  });

  it('maps a 407 to AuthenticationFailed, the password in no message', async () => {
    proxy.mode = 'deny-407';
    const { lines, logger } = recordingLogger();
    await withEnv({ HTTPS_PROXY: proxy.url(), NO_PROXY: undefined }, async () => {
      const error = await rejectsWithStorageError(
        new AzureKeyVaultProvider({ ...viaName(), logger }).connect(),
      );
      assert.equal(error.code, 'AuthenticationFailed', error.message);
      assert.equal(error.details.status, 407);
      assertNoSentinel(error);
    });
    assert.ok(lines.length > 0, 'nothing was logged');
    assert.ok(lines.every((l) => !l.includes(SENTINEL)));
  });
});

describe('Kubernetes through a kubeconfig proxy-url', () => {
  const emulator = new KubernetesEmulator();
  let proxy: TestProxy;
  let tlsProxy: TestProxy;
  before(async () => {
    await emulator.start();
    proxy = await new TestProxy().start();
    const ca = (emulator as unknown as { server: { ca: { serverCertPem: string; serverKeyPem: string } } })
      .server.ca;
    tlsProxy = await new TestProxy({ cert: ca.serverCertPem, key: ca.serverKeyPem }).start();
  });
  after(async () => {
    await proxy.stop();
    await tlsProxy.stop();
    await emulator.stop();
  });

  function kubeconfig(proxyUrl: string): string {
    const token = emulator.createServiceAccount('proxied', 'app');
    emulator.grant('proxied', 'app');
    const path = emulator.writeKubeconfig({ token, namespace: 'proxied' });
    const text = readFileSync(path, 'utf8').replace(/^( {4}server: .*)$/m, `$1\n    proxy-url: ${proxyUrl}`);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  }

  for (const scheme of ['http', 'https'] as const) {
    it(`stores and reads through an ${scheme} proxy`, async () => {
      const p = scheme === 'http' ? proxy : tlsProxy;
      p.mode = 'tunnel';
      const before = p.tunnels;
      const provider = new KubernetesSecretsProvider({ kubeconfigPath: kubeconfig(p.url(scheme)) });
      try {
        await provider.connect();
        await provider.store(`via-${scheme}`, data(), createMetadata());
        assert.equal(
          enc.decrypt((await provider.retrieve(`via-${scheme}`)).data).toString(),
          'through the proxy',
        );
      } finally {
        await provider.close();
      }
      assert.ok(p.tunnels > before, 'no tunnel was opened');
      assert.equal(p.authorizations.at(-1), `Basic ${Buffer.from(`user:${SENTINEL}`).toString('base64')}`);
    });
  }

  it('watches through the tunnel too, not through the proxy agent of client-node', async () => {
    proxy.mode = 'tunnel';
    const foreign = proxy.foreignClients;
    const provider = new KubernetesSecretsProvider({ kubeconfigPath: kubeconfig(proxy.url()) });
    await provider.connect();
    const key = EncryptionManager.generate();
    const store = new CredentialStore(provider, key);
    const writer = new CredentialStore(provider, key);
    try {
      await writer.put('watched', 'v1');
      let seen!: () => void;
      const changed = new Promise<void>((resolve) => {
        seen = resolve;
      });
      const watch = store.watch('watched', () => seen());
      await watch.ready;
      const watching = () => emulator.requests.some((r) => r.query.get('watch') === 'true');
      while (!watching()) await new Promise((resolve) => setTimeout(resolve, 10));
      await writer.put('watched', 'v2');
      await changed;
      await watch.close();
    } finally {
      await provider.close();
    }
    assert.equal(proxy.foreignClients, foreign, 'a CONNECT came from another proxy agent');
  });

  it('fails connect() with Unavailable and limitBytes on an endless CONNECT head', async () => {
    proxy.mode = 'endless-head';
    const provider = new KubernetesSecretsProvider({
      kubeconfigPath: kubeconfig(proxy.url()),
      timeouts: { connectMs: 10_000 },
    });
    const started = Date.now();
    const error = await rejectsWithStorageError(provider.connect());
    assert.equal(error.code, 'Unavailable', error.message);
    assert.equal(error.details['limitBytes'], PROXY_HEAD_LIMIT);
    assert.ok(Date.now() - started < 5000);
    assertNoSentinel(error);
  });

  it('maps a 407 to AuthenticationFailed, the password in no message', async () => {
    proxy.mode = 'deny-407';
    const { lines, logger } = recordingLogger();
    const error = await rejectsWithStorageError(
      new KubernetesSecretsProvider({ kubeconfigPath: kubeconfig(proxy.url()), logger }).connect(),
    );
    assert.equal(error.code, 'AuthenticationFailed', error.message);
    assert.equal(error.details.status, 407);
    assertNoSentinel(error);
    assert.ok(lines.length > 0, 'nothing was logged');
    assert.ok(lines.every((l) => !l.includes(SENTINEL)));
  });

  it('fails a hanging proxy under the connect deadline', async () => {
    proxy.mode = 'hang';
    const started = Date.now();
    const provider = new KubernetesSecretsProvider({
      kubeconfigPath: kubeconfig(proxy.url()),
      timeouts: { connectMs: 500 },
      retry: { maxRetries: 0 },
    });
    const error = await rejectsWithStorageError(provider.connect());
    assert.ok(['Timeout', 'Unavailable'].includes(error.code), `${error.code}: ${error.message}`);
    assert.ok(Date.now() - started < 3000, `${Date.now() - started} ms`);
    assertNoSentinel(error);
  });

  it('refuses a socks5 proxy-url with InvalidConfig', async () => {
    const error = await rejectsWithStorageError(
      new KubernetesSecretsProvider({
        kubeconfigPath: kubeconfig(`socks5://user:${SENTINEL}@127.0.0.1:1080`),
      }).connect(),
    );
    assert.equal(error.code, 'InvalidConfig');
    assert.match(error.message, /not supported/);
    assertNoSentinel(error);
  });
});
