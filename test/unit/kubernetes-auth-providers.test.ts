// A kubeconfig user's `auth-provider`: kubectl's refusals of the removed gcp and azure plugins (and of
// client-node's own exec form and unknown names) at connect(), and `oidc` served by the provider itself as
// client-go serves it (id-token until its exp, refresh_token grant after discovery, bounded and under the
// connect deadline), against a loopback OIDC issuer whose id tokens the Kubernetes emulator trusts. Also the
// exec plugin of a proxy-url cluster, which now runs through the provider's own runner and tunnel.

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { ManualClock } from '../../src/core/clock.js';
import { EncryptionManager } from '../../src/core/crypto.js';
import type { StorageError } from '../../src/core/errors.js';
import { createMetadata } from '../../src/core/metadata.js';
import {
  EXEC_OUTPUT_LIMITS,
  KubernetesSecretsProvider,
  OIDC_RESPONSE_LIMIT,
} from '../../src/providers/kubernetes-secrets.js';
import { capturingLogger, rejectsWithStorageError } from '../../src/testing/assertions.js';
import { KubernetesEmulator } from '../../src/testing/emulators/kubernetes.js';
import { OidcIssuerEmulator } from '../../src/testing/emulators/oidc-issuer.js';
import { withEnv } from './env-helpers.js';
import { TestProxy } from './proxy-helpers.js';

const CLIENT_SECRET = `client-secret-SENTINEL-${'5'.repeat(16)}`;
/** Shared by the API server and the IdP, so an id token can expire for the server but not for the client. */
const serverClock = new ManualClock(Date.now());
const emulator = new KubernetesEmulator({ clock: serverClock });
const idp = new OidcIssuerEmulator({ clientSecret: CLIENT_SECRET, clock: serverClock });
const enc = EncryptionManager.generate();
const root = mkdtempSync(join(tmpdir(), 'nebula-authprov-'));
writeFileSync(join(root, 'package.json'), '{"type":"commonjs"}\n');
let n = 0;

/** A namespace whose Secrets `user` may use. */
function grantUser(user: string): string {
  const namespace = `authprov-${++n}`;
  emulator.addRole(namespace, 'secrets', [
    { verbs: ['create', 'get', 'list', 'update', 'patch', 'delete', 'watch'], resources: ['secrets'] },
  ]);
  emulator.addRoleBinding(namespace, 'secrets', 'secrets', [{ kind: 'User', name: user }]);
  return namespace;
}

/** The emulator's kubeconfig with the user's `token:` line replaced by `userLines` (YAML under `user:`). */
function kubeconfig(namespace: string, userLines: string[], clusterLines: string[] = []): string {
  const path = emulator.writeKubeconfig({ namespace });
  let text = readFileSync(path, 'utf8').replace(
    /^ {4}token: .*$/m,
    userLines.map((l) => `    ${l}`).join('\n'),
  );
  if (clusterLines.length > 0) {
    text = text.replace(/^( {4}server: .*)$/m, `$1\n${clusterLines.map((l) => `    ${l}`).join('\n')}`);
  }
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

function authProvider(name: string, config: Record<string, string | Record<string, unknown>>): string[] {
  return ['auth-provider:', `  name: ${name}`, `  config: ${JSON.stringify(config)}`];
}

interface OidcUser {
  path: string;
  namespace: string;
  refreshToken: string;
  idToken: string;
}

/** A user logged in at the IdP (its id token `expiresIn` seconds ahead) with a kubeconfig for it. */
function oidcUser(
  options: { expiresIn?: number; refreshToken?: boolean; config?: Record<string, string> } = {},
): OidcUser {
  const subject = `user-${++n}`;
  const namespace = grantUser(`${idp.url}#${subject}`);
  const { refreshToken } = idp.login(subject);
  const idToken = idp.signIdToken(subject, options.expiresIn ?? 3600);
  const config: Record<string, string> = {
    'idp-issuer-url': idp.url,
    'client-id': idp.clientId,
    'client-secret': CLIENT_SECRET,
    'id-token': idToken,
    'idp-certificate-authority-data': Buffer.from(idp.caCertPem).toString('base64'),
    ...(options.refreshToken === false ? {} : { 'refresh-token': refreshToken }),
    ...options.config,
  };
  return { path: kubeconfig(namespace, authProvider('oidc', config)), namespace, refreshToken, idToken };
}

/** A client clock at the servers' time (sleeps complete at once, so retries never wait on it). */
const clientClock = () => new ManualClock(serverClock.now(), { autoAdvance: true });
const tokenRequests = () => idp.tokenRequests;
const idpRequests = () => idp.server.requests.length;

async function roundTrip(p: KubernetesSecretsProvider, id: string): Promise<void> {
  await p.store(id, enc.encrypt(Buffer.from(`value of ${id}`)), createMetadata());
  assert.equal(enc.decrypt((await p.retrieve(id)).data).toString(), `value of ${id}`);
}

/** Every rendering of `error` (message, inspect, JSON, stack). */
function rendered(error: StorageError): string {
  return [error.message, inspect(error, { depth: 8 }), JSON.stringify(error), String(error.stack)].join('\n');
}

describe('kubeconfig auth-provider', () => {
  before(async () => {
    await emulator.start();
    await idp.start();
    emulator.trustOidcIssuer(idp);
  });
  after(async () => {
    await idp.stop();
    await emulator.stop();
    rmSync(root, { recursive: true, force: true });
  });

  describe('refused as kubectl refuses it', () => {
    const cases: { name: string; user: string[]; expect: RegExp[] }[] = [
      {
        name: 'gcp (removed in Kubernetes 1.26)',
        user: authProvider('gcp', { 'cmd-path': 'gcloud', 'cmd-args': 'config config-helper --format=json' }),
        expect: [/The gcp auth plugin has been removed/, /gke-gcloud-auth-plugin/],
      },
      {
        name: 'azure (removed in Kubernetes 1.26)',
        user: authProvider('azure', { 'apiserver-id': 'x', 'client-id': 'y', 'tenant-id': 'z' }),
        expect: [/The azure auth plugin has been removed/, /kubelogin/],
      },
      {
        name: "client-node's legacy name: exec",
        user: authProvider('exec', {}),
        expect: [/only @kubernetes\/client-node knows/, /user\.exec/],
      },
      {
        name: "client-node's legacy config.exec",
        user: authProvider('custom', { exec: { command: 'sh' } }),
        expect: [/only @kubernetes\/client-node knows/, /user\.exec/],
      },
      {
        name: 'an unknown name',
        user: authProvider('keycloak-magic', {}),
        expect: [/no Auth Provider found for name "keycloak-magic"/],
      },
    ];
    for (const c of cases) {
      it(`${c.name}: InvalidConfig at connect() naming the user, with the guidance`, async () => {
        const path = kubeconfig(grantUser('nobody'), c.user);
        const calls = emulator.requests.length;
        const p = new KubernetesSecretsProvider({ kubeconfigPath: path });
        const error = await rejectsWithStorageError(p.connect());
        assert.equal(error.code, 'InvalidConfig', error.message);
        assert.match(error.message, /user "emulator-user"/);
        for (const pattern of c.expect) assert.match(error.message, pattern);
        assert.equal(emulator.requests.length, calls, 'a call was made');
        await p.close();
      });
    }
  });

  describe('oidc', () => {
    it('sends a valid id-token as is: the IdP gets no request; health says oidc', async () => {
      const u = oidcUser();
      const before = idpRequests();
      const p = new KubernetesSecretsProvider({ kubeconfigPath: u.path, clock: clientClock() });
      try {
        await p.connect();
        await roundTrip(p, 'valid-token');
        assert.equal(idpRequests(), before, 'the IdP was asked');
        const health = p.healthDetails();
        assert.equal(health.auth.kind, 'kubeconfig-oidc');
        assert.equal(health.auth['issuer'], idp.url);
        assert.ok(typeof health.auth.expiresAt === 'number');
      } finally {
        await p.close();
      }
    });

    it('an expired id-token is refreshed once (Basic client auth), and the rotated refresh token is kept', async () => {
      const u = oidcUser({ expiresIn: -60 });
      const clock = clientClock();
      const before = tokenRequests();
      const p = new KubernetesSecretsProvider({ kubeconfigPath: u.path, clock });
      try {
        await p.connect();
        assert.equal(tokenRequests() - before, 1);
        const grant = idp.server.requests.filter((r) => r.path === '/token').at(-1)!;
        assert.match(String(grant.headers.authorization), /^Basic /);
        assert.equal(new URLSearchParams(grant.body.toString()).get('grant_type'), 'refresh_token');
        await roundTrip(p, 'refreshed');
        assert.equal(tokenRequests() - before, 1, 'refreshed again while the new token is valid');
        // Past the new token's exp: the next call refreshes with the rotated refresh token (the first one
        // was retired by the IdP, so reusing it would be invalid_grant).
        await clock.advance(2 * 3600_000);
        await serverClock.advance(2 * 3600_000);
        await roundTrip(p, 'refreshed-twice');
        assert.equal(tokenRequests() - before, 2);
        const second = idp.server.requests.filter((r) => r.path === '/token').at(-1)!;
        assert.notEqual(new URLSearchParams(second.body.toString()).get('refresh_token'), u.refreshToken);
      } finally {
        await p.close();
      }
    });

    it('a 401 from the API server costs one refresh, however many calls got it', async () => {
      const u = oidcUser();
      // The client's clock stays behind the API server's.
      const p = new KubernetesSecretsProvider({ kubeconfigPath: u.path, clock: clientClock() });
      try {
        await p.connect();
        await p.store('shared', enc.encrypt(Buffer.from('v')), createMetadata());
        const before = tokenRequests();
        // The API server's clock passes the id-token's exp; the client's does not know it.
        await serverClock.advance(2 * 3600_000);
        const reads = await Promise.all(Array.from({ length: 6 }, () => p.retrieve('shared')));
        assert.equal(reads.length, 6);
        assert.equal(tokenRequests() - before, 1);
      } finally {
        await p.close();
      }
    });

    it('invalid_grant (a revoked refresh token) is AuthenticationFailed, not retried', async () => {
      const u = oidcUser({ expiresIn: -60 });
      idp.revokeRefreshToken(u.refreshToken);
      const before = tokenRequests();
      const p = new KubernetesSecretsProvider({ kubeconfigPath: u.path, clock: clientClock() });
      const error = await rejectsWithStorageError(p.connect());
      assert.equal(error.code, 'AuthenticationFailed', error.message);
      assert.equal(error.retryable, false);
      assert.equal(error.details['status'], 400);
      assert.equal(error.details['backendCode'], 'invalid_grant');
      assert.match(error.message, /log in again/);
      // oauth2's two client-auth styles (Basic, then form parameters), and no retry of the operation.
      assert.equal(tokenRequests() - before, 2);
      await p.close();
    });

    it('an expired id-token without a refresh-token is AuthenticationFailed telling to log in again', async () => {
      const u = oidcUser({ expiresIn: -60, refreshToken: false });
      const before = idpRequests();
      const p = new KubernetesSecretsProvider({ kubeconfigPath: u.path, clock: clientClock() });
      const error = await rejectsWithStorageError(p.connect());
      assert.equal(error.code, 'AuthenticationFailed', error.message);
      assert.match(error.message, /no refresh-token/);
      assert.equal(idpRequests(), before);
      await p.close();
    });

    it('an endless IdP answer is cut: Unavailable with limitBytes, not retried', async () => {
      const u = oidcUser({ expiresIn: -60 });
      idp.faults.add({
        action: { kind: 'body', bytes: 64 * 1024 * 1024, contentLength: false },
        match: (r) => r.path === '/token',
      });
      const before = tokenRequests();
      const streamed = idp.server.streamedBodyBytes;
      const p = new KubernetesSecretsProvider({
        kubeconfigPath: u.path,
        timeouts: { connectMs: 20_000 },
        clock: clientClock(),
      });
      const error = await rejectsWithStorageError(p.connect());
      assert.equal(error.code, 'Unavailable', error.message);
      assert.equal(error.details['limitBytes'], OIDC_RESPONSE_LIMIT);
      assert.equal(error.retryable, false);
      assert.equal(tokenRequests() - before, 1);
      assert.ok(idp.server.streamedBodyBytes - streamed < 32 * 1024 * 1024, 'the body was read on');
      await p.close();
    });

    it('a 503 from the IdP is Unavailable and retryable', async () => {
      const u = oidcUser({ expiresIn: -60 });
      idp.faults.add({
        action: { kind: 'status', status: 503 },
        match: (r) => r.path === '/token',
        times: 10,
      });
      const p = new KubernetesSecretsProvider({
        kubeconfigPath: u.path,
        retry: { maxRetries: 0 },
        clock: clientClock(),
      });
      const error = await rejectsWithStorageError(p.connect());
      idp.faults.clear();
      assert.equal(error.code, 'Unavailable', error.message);
      assert.equal(error.retryable, true);
      assert.equal(error.details['status'], 503);
      await p.close();
    });

    it('a hanging IdP fails connect() with Timeout at the connect deadline', async () => {
      const u = oidcUser({ expiresIn: -60 });
      idp.faults.add({ action: { kind: 'hang' }, match: (r) => r.path === '/token' });
      const p = new KubernetesSecretsProvider({
        kubeconfigPath: u.path,
        clock: clientClock(),
        timeouts: { connectMs: 400 },
        retry: { maxRetries: 0 },
      });
      const error = await rejectsWithStorageError(p.connect());
      assert.equal(error.code, 'Timeout', error.message);
      await p.close();
    });

    it('trusts the IdP only through idp-certificate-authority(-data)', async () => {
      const untrusted = oidcUser({ expiresIn: -60, config: { 'idp-certificate-authority-data': '' } });
      const p = new KubernetesSecretsProvider({ kubeconfigPath: untrusted.path, clock: clientClock() });
      const error = await rejectsWithStorageError(p.connect());
      assert.equal(error.code, 'InvalidConfig', error.message);
      assert.match(error.message, /idp-certificate-authority/);
      await p.close();
      const byFile = oidcUser({
        expiresIn: -60,
        config: { 'idp-certificate-authority-data': '', 'idp-certificate-authority': idp.caCertPath },
      });
      const q = new KubernetesSecretsProvider({ kubeconfigPath: byFile.path, clock: clientClock() });
      try {
        await q.connect();
        await roundTrip(q, 'ca-by-file');
      } finally {
        await q.close();
      }
    });

    it('refreshes through HTTPS_PROXY with the core tunnel (NO_PROXY unset)', async () => {
      const proxy = await new TestProxy().start();
      const u = oidcUser({ expiresIn: -60 });
      let p: KubernetesSecretsProvider | undefined;
      try {
        await withEnv({ HTTPS_PROXY: proxy.url(), NO_PROXY: undefined }, async () => {
          p = new KubernetesSecretsProvider({ kubeconfigPath: u.path, clock: clientClock() });
          await p.connect();
        });
        assert.ok(proxy.targets.includes(new URL(idp.url).host), `targets: ${proxy.targets.join(', ')}`);
        assert.ok(
          !proxy.targets.includes(new URL(emulator.url).host),
          'the API server is no HTTPS_PROXY target',
        );
      } finally {
        await p?.close();
        await proxy.stop();
      }
    });

    it('never shows the client secret, refresh token or id token', async () => {
      const logger = capturingLogger();
      const good = oidcUser({ expiresIn: -60 });
      const p = new KubernetesSecretsProvider({ kubeconfigPath: good.path, logger, clock: clientClock() });
      const seen: string[] = [];
      try {
        await p.connect();
        await roundTrip(p, 'no-leak');
        seen.push(inspect(p, { depth: 8, showHidden: true }), JSON.stringify(p.healthDetails()));
      } finally {
        await p.close();
      }
      const revoked = oidcUser({ expiresIn: -60 });
      idp.revokeRefreshToken(revoked.refreshToken);
      const failing = new KubernetesSecretsProvider({
        kubeconfigPath: revoked.path,
        logger,
        clock: clientClock(),
      });
      seen.push(rendered(await rejectsWithStorageError(failing.connect())));
      await failing.close();
      idp.faults.add({ action: { kind: 'body', bytes: 4 * 1024 * 1024 }, match: (r) => r.path === '/token' });
      const cut = oidcUser({ expiresIn: -60 });
      const cutting = new KubernetesSecretsProvider({
        kubeconfigPath: cut.path,
        logger,
        clock: clientClock(),
      });
      seen.push(rendered(await rejectsWithStorageError(cutting.connect())));
      await cutting.close();
      const all = [...seen, ...logger.lines].join('\n');
      assert.ok(
        logger.lines.some((l) => l.includes('oidc id-token refreshed')),
        'nothing was logged',
      );
      for (const secret of [CLIENT_SECRET, good.refreshToken, revoked.refreshToken, cut.refreshToken]) {
        assert.ok(!all.includes(secret), 'a secret leaked');
      }
      for (const token of [good.idToken, revoked.idToken])
        assert.ok(!all.includes(token), 'an id token leaked');
    });
  });

  it("a token-file wins over client-node's tokenFile auth provider, whose file client-node never reads", async () => {
    const namespace = `authprov-${++n}`;
    const token = emulator.createServiceAccount(namespace, 'app');
    emulator.grant(namespace, 'app');
    const dir = mkdtempSync(join(root, 'tf-'));
    writeFileSync(join(dir, 'token'), token);
    const path = kubeconfig(namespace, [
      `token-file: ${JSON.stringify(join(dir, 'token'))}`,
      ...authProvider('file', { tokenFile: join(dir, 'missing') }),
    ]);
    const p = new KubernetesSecretsProvider({ kubeconfigPath: path });
    try {
      await p.connect();
      await roundTrip(p, 'token-file-wins');
    } finally {
      await p.close();
    }
  });

  it('basic auth (username/password) is sent by the provider over its own transport and tunnel', async () => {
    // client-node only sets the header (no I/O); the request itself is the provider's.
    const proxy = await new TestProxy().start();
    const path = kubeconfig(
      grantUser('nobody'),
      ['username: admin', 'password: basic-SENTINEL'],
      [`proxy-url: ${proxy.url()}`],
    );
    const p = new KubernetesSecretsProvider({ kubeconfigPath: path, retry: { maxRetries: 0 } });
    try {
      const error = await rejectsWithStorageError(p.connect());
      // The emulator, as kube-apiserver since 1.19, has no basic auth.
      assert.equal(error.code, 'AuthenticationFailed', error.message);
      assert.ok(!rendered(error).includes('basic-SENTINEL'));
    } finally {
      await p.close();
      await proxy.stop();
    }
    const sent = emulator.requests.at(-1)!.headers.authorization;
    assert.equal(sent, `Basic ${Buffer.from('admin:basic-SENTINEL').toString('base64')}`);
    assert.ok(proxy.tunnels > 0, 'no tunnel was opened');
    assert.equal(proxy.foreignClients, 0, "a CONNECT came from client-node's proxy agent");
  });

  describe('exec plugin on a proxy-url cluster', () => {
    let proxy: TestProxy;
    before(async () => {
      proxy = await new TestProxy().start();
    });
    after(() => proxy.stop());

    /** A kubeconfig for a proxy-url cluster whose user runs a node plugin printing `body`'s output. */
    function proxiedExec(body: string): string {
      const dir = mkdtempSync(join(root, 'exec-'));
      const plugin = join(dir, 'plugin.cjs');
      writeFileSync(plugin, body);
      chmodSync(plugin, 0o755);
      return kubeconfig(
        grantUser('exec-user'),
        [
          'exec:',
          '  apiVersion: client.authentication.k8s.io/v1',
          `  command: ${JSON.stringify(process.execPath)}`,
          `  args: [${JSON.stringify(plugin)}]`,
          '  interactiveMode: Never',
        ],
        [`proxy-url: ${proxy.url()}`],
      );
    }

    it("runs under the library's output bound: 2 MiB on stdout is Unavailable with limitBytes", async () => {
      const path = proxiedExec(`process.stdout.write(Buffer.alloc(2 * 1024 * 1024, 0x61));`);
      const p = new KubernetesSecretsProvider({ kubeconfigPath: path, timeouts: { connectMs: 20_000 } });
      const error = await rejectsWithStorageError(p.connect());
      assert.equal(error.code, 'Unavailable', error.message);
      assert.equal(error.details['limitBytes'], EXEC_OUTPUT_LIMITS.stdoutBytes);
      await p.close();
    });

    it("the plugin's token and client certificate both go through the proxy tunnel", async () => {
      const { certPem, keyPem } = emulator.issueClientCertificate('exec-user');
      const status = { clientCertificateData: certPem, clientKeyData: keyPem };
      const path = proxiedExec(
        `process.stdout.write(JSON.stringify({ kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1', status: ${JSON.stringify(status)} }));`,
      );
      const tunnels = proxy.tunnels;
      const p = new KubernetesSecretsProvider({ kubeconfigPath: path });
      try {
        await p.connect();
        await roundTrip(p, 'exec-proxied');
      } finally {
        await p.close();
      }
      assert.ok(proxy.tunnels > tunnels, 'no tunnel was opened');
      assert.equal(proxy.foreignClients, 0, "a CONNECT came from client-node's proxy agent");
      const last = emulator.requests.at(-1)!;
      assert.equal(last.clientCertificate?.commonName, 'exec-user');
    });

    it('a token plugin works through the tunnel too', async () => {
      const token = emulator.issueToken('exec-user');
      const path = proxiedExec(
        `process.stdout.write(JSON.stringify({ kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1', status: { token: ${JSON.stringify(token)} } }));`,
      );
      const tunnels = proxy.tunnels;
      const foreign = proxy.foreignClients;
      const p = new KubernetesSecretsProvider({ kubeconfigPath: path });
      try {
        await p.connect();
        await roundTrip(p, 'exec-token-proxied');
      } finally {
        await p.close();
      }
      assert.ok(proxy.tunnels > tunnels, 'no tunnel was opened');
      assert.equal(proxy.foreignClients, foreign, "a CONNECT came from client-node's proxy agent");
      assert.equal(emulator.requests.at(-1)!.headers.authorization, `Bearer ${token}`);
    });
  });
});
