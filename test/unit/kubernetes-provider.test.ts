import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { ManualClock } from '../../src/core/clock.js';
import { type EncryptedData, EncryptionManager } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import { createMetadata } from '../../src/core/metadata.js';
import {
  type KubernetesSecretsOptions,
  KubernetesSecretsProvider,
  MANAGED_BY_LABEL,
} from '../../src/providers/kubernetes-secrets.js';
import { KubernetesEmulator } from '../../src/testing/emulators/kubernetes.js';
import { withEnv } from './env-helpers.js';

const emulator = new KubernetesEmulator();
const enc = EncryptionManager.generate();
const value = (text: string): EncryptedData => enc.encrypt(Buffer.from(text));
let n = 0;

/** A namespace with a service account allowed `verbs` on secrets, and a kubeconfig for it. */
function account(verbs?: string[]): { namespace: string; token: string; kubeconfigPath: string } {
  const namespace = `unit-${++n}`;
  const token = emulator.createServiceAccount(namespace, 'app');
  emulator.grant(namespace, 'app', verbs);
  return { namespace, token, kubeconfigPath: emulator.writeKubeconfig({ token, namespace }) };
}

async function provider(options: KubernetesSecretsOptions): Promise<KubernetesSecretsProvider> {
  const p = new KubernetesSecretsProvider(options);
  await p.connect();
  return p;
}

async function rejectsCode(promise: Promise<unknown>, code: string): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof StorageError, inspect(error));
    assert.equal(error.code, code, `${error.code}: ${error.message}`);
    return error;
  }
  return assert.fail(`expected ${code}`);
}

/** A fake pod's service account folder: token and namespace with trailing newlines, like hand-made files. */
function serviceAccountDir(token: string, namespace: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'nebula-sa-'));
  writeFileSync(join(dir, 'token'), `${token}\n`);
  writeFileSync(join(dir, 'namespace'), `${namespace}\n`);
  writeFileSync(join(dir, 'ca.crt'), emulator.caCertPem);
  return dir;
}

describe('KubernetesSecretsProvider against the emulator', () => {
  before(async () => {
    await emulator.start();
  });
  after(async () => {
    await emulator.stop();
  });

  describe('in-cluster auth', () => {
    it('uses the token, CA and namespace files and the service host/port variables', async () => {
      const { namespace, token } = account();
      const dir = serviceAccountDir(token, namespace);
      const port = new URL(emulator.url).port;
      await withEnv({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port }, async () => {
        const p = await provider({ inCluster: true, serviceAccountDir: dir });
        assert.equal(p.namespace, namespace);
        await p.store('in_cluster', value('v'), createMetadata());
        assert.ok(emulator.getSecret(namespace, 'nebula-in--cluster'));
        assert.equal(await p.exists('in_cluster'), true);
        await p.close();
      });
      assert.equal(process.env['KUBERNETES_SERVICE_HOST'], undefined, 'env restored');
    });

    it('is chosen automatically in a pod when no kubeconfig exists', async () => {
      const { namespace, token } = account();
      const dir = serviceAccountDir(token, namespace);
      const home = mkdtempSync(join(tmpdir(), 'nebula-home-'));
      await withEnv(
        {
          KUBERNETES_SERVICE_HOST: '127.0.0.1',
          KUBERNETES_SERVICE_PORT: new URL(emulator.url).port,
          KUBECONFIG: undefined,
          HOME: home,
        },
        async () => {
          const p = await provider({ serviceAccountDir: dir });
          assert.equal(p.namespace, namespace);
          assert.deepEqual(await p.list(), []);
          await p.close();
        },
      );
    });

    it('picks up a rotated token at once: one 401, re-read, one retry', async () => {
      const { namespace, token } = account();
      const dir = serviceAccountDir(token, namespace);
      await withEnv(
        { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: new URL(emulator.url).port },
        async () => {
          const p = await provider({ inCluster: true, serviceAccountDir: dir });
          await p.store('rotating', value('v1'), createMetadata());
          // The kubelet writes a new projected token; the old one expires.
          const rotated = emulator.createServiceAccount(namespace, 'app');
          writeFileSync(join(dir, 'token'), rotated);
          emulator.revokeToken(token);
          const before = emulator.secretRequests();
          const back = await p.retrieve('rotating');
          assert.equal(enc.decrypt(back.data).toString(), 'v1');
          assert.equal(emulator.secretRequests() - before, 2, 'one 401 and one retry with the new token');
          const last = emulator.requests[emulator.requests.length - 1]!;
          assert.equal(last.headers.authorization, `Bearer ${rotated}`);
          await p.close();
        },
      );
    });

    it('re-reads the token file every tokenRefreshMs, without waiting for a 401', async () => {
      const { namespace, token } = account();
      const dir = serviceAccountDir(token, namespace);
      const clock = new ManualClock();
      await withEnv(
        { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: new URL(emulator.url).port },
        async () => {
          const p = await provider({
            inCluster: true,
            serviceAccountDir: dir,
            clock,
            tokenRefreshMs: 30_000,
          });
          const next = emulator.createServiceAccount(namespace, 'app');
          writeFileSync(join(dir, 'token'), next);
          await p.exists('x');
          assert.equal(emulator.requests.at(-1)!.headers.authorization, `Bearer ${token}`, 'not yet due');
          await clock.advance(30_000);
          const before = emulator.secretRequests();
          await p.exists('x');
          assert.equal(emulator.secretRequests() - before, 1);
          assert.equal(emulator.requests.at(-1)!.headers.authorization, `Bearer ${next}`);
          await p.close();
        },
      );
    });

    it('fails connect with InvalidConfig when the service variables or files are missing', async () => {
      await withEnv({ KUBERNETES_SERVICE_HOST: undefined, KUBERNETES_SERVICE_PORT: undefined }, async () => {
        const e = await rejectsCode(
          new KubernetesSecretsProvider({ inCluster: true }).connect(),
          'InvalidConfig',
        );
        assert.match(e.message, /KUBERNETES_SERVICE_HOST/);
      });
      await withEnv({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1' }, async () => {
        const empty = mkdtempSync(join(tmpdir(), 'nebula-sa-'));
        const e = await rejectsCode(
          new KubernetesSecretsProvider({ inCluster: true, serviceAccountDir: empty }).connect(),
          'InvalidConfig',
        );
        assert.match(e.message, /ca\.crt/);
      });
    });
  });

  describe('kubeconfig auth', () => {
    it('reads an explicit path, KUBECONFIG, and the default ~/.kube/config', async () => {
      const { namespace, kubeconfigPath } = account();
      const explicit = await provider({ kubeconfigPath });
      assert.equal(explicit.namespace, namespace, 'namespace from the context');
      await explicit.store('from_kubeconfig', value('x'), createMetadata());
      await explicit.close();
      await withEnv({ KUBECONFIG: kubeconfigPath, KUBERNETES_SERVICE_HOST: undefined }, async () => {
        const p = await provider({});
        assert.deepEqual(await p.list(), ['from_kubeconfig']);
        await p.close();
      });
      const home = mkdtempSync(join(tmpdir(), 'nebula-home-'));
      mkdirSync(join(home, '.kube'));
      emulator.writeKubeconfig({
        dir: join(home, '.kube'),
        token: emulator.createServiceAccount(namespace, 'app'),
        namespace,
      });
      await withEnv({ KUBECONFIG: undefined, HOME: home, KUBERNETES_SERVICE_HOST: undefined }, async () => {
        const p = await provider({});
        assert.equal(await p.exists('from_kubeconfig'), true);
        await p.close();
      });
    });

    it('uses the chosen context, and names the available ones for an unknown context', async () => {
      const good = account();
      const dir = mkdtempSync(join(tmpdir(), 'nebula-kube-'));
      const yaml = [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: c',
        `  cluster: {server: "${emulator.url}", certificate-authority: "${emulator.caCertPath}"}`,
        'users:',
        `- name: good\n  user: {token: "${good.token}"}`,
        '- name: bad\n  user: {token: "not-a-valid-token"}',
        'contexts:',
        `- name: work\n  context: {cluster: c, user: good, namespace: ${good.namespace}}`,
        '- name: broken\n  context: {cluster: c, user: bad}',
        'current-context: broken',
      ].join('\n');
      writeFileSync(join(dir, 'config'), yaml);
      const p = await provider({ kubeconfigPath: join(dir, 'config'), context: 'work' });
      assert.equal(p.namespace, good.namespace);
      await p.close();
      const e = await rejectsCode(
        new KubernetesSecretsProvider({ kubeconfigPath: join(dir, 'config'), context: 'nope' }).connect(),
        'InvalidConfig',
      );
      assert.match(e.message, /available: work, broken/);
      // The current context has a bad token: 401 at connect, no retries, AuthenticationFailed.
      const before = emulator.secretRequests();
      await rejectsCode(
        new KubernetesSecretsProvider({ kubeconfigPath: join(dir, 'config') }).connect(),
        'AuthenticationFailed',
      );
      assert.equal(emulator.secretRequests() - before, 1);
    });

    it('refuses a server whose certificate the configured CA did not sign, with InvalidConfig', async () => {
      const other = new KubernetesEmulator();
      const { token, namespace } = account();
      const path = emulator.writeKubeconfig({ token, namespace });
      const yaml = readFileSync(path, 'utf8').replace(emulator.caCertPath, other.caCertPath);
      writeFileSync(path, yaml);
      const e = await rejectsCode(
        new KubernetesSecretsProvider({ kubeconfigPath: path }).connect(),
        'InvalidConfig',
      );
      assert.match(e.message, /certificate/);
      assert.equal(e.details.attempts, 1);
    });

    it('refuses a kubeconfig with insecure-skip-tls-verify and a plain-http server on another host', async () => {
      const { token, namespace } = account();
      const remote = emulator.writeKubeconfig({
        token,
        namespace,
        server: 'http://10.20.30.40:6443',
        certificateAuthority: false,
        insecureSkipTlsVerify: true,
      });
      const before = emulator.secretRequests();
      const e = await rejectsCode(
        new KubernetesSecretsProvider({ kubeconfigPath: remote }).connect(),
        'InvalidConfig',
      );
      assert.match(e.message, new RegExp(`^the server of cluster "emulator" in kubeconfig ${remote}`));
      assert.match(e.message, /dangerouslyAllowInsecureHttp/);
      assert.equal(emulator.secretRequests(), before);
      // With the opt-in the rule lets it through (to a host that does not resolve, so nothing is sent).
      const invalid = emulator.writeKubeconfig({
        token,
        namespace,
        server: 'http://nebula-k8s-unit.invalid:6443',
        certificateAuthority: false,
        insecureSkipTlsVerify: true,
      });
      const allowed = new KubernetesSecretsProvider({
        kubeconfigPath: invalid,
        dangerouslyAllowInsecureHttp: true,
      });
      const unreachable = await rejectsCode(allowed.connect(), 'Unavailable');
      assert.equal(unreachable.details.backendCode, 'ENOTFOUND');
    });

    it('trusts the CA of tls.caFile when the kubeconfig names none', async () => {
      const { token, namespace } = account();
      const path = emulator.writeKubeconfig({ token, namespace, certificateAuthority: false });
      const untrusted = await rejectsCode(
        new KubernetesSecretsProvider({ kubeconfigPath: path }).connect(),
        'InvalidConfig',
      );
      assert.match(untrusted.message, /certificate-authority/);
      const p = await provider({ kubeconfigPath: path, tls: { caFile: emulator.caCertPath } });
      assert.deepEqual(await p.list(), []);
      await p.close();
    });

    it('does not show the token in inspect or JSON output', async () => {
      const { kubeconfigPath, token } = account();
      const p = await provider({ kubeconfigPath });
      assert.ok(!inspect(p, { depth: 8 }).includes(token));
      assert.ok(!JSON.stringify(p).includes(token));
      await p.close();
    });
  });

  describe('RBAC', () => {
    it('is denied in another namespace, with the namespace, verb, resource and rule in the error', async () => {
      const { token } = account();
      const other = account();
      const kubeconfigPath = emulator.writeKubeconfig({ token, namespace: other.namespace });
      const p = await provider({ kubeconfigPath });
      const e = await rejectsCode(p.store('x', value('v'), createMetadata()), 'PermissionDenied');
      assert.equal(e.details['namespace'], other.namespace);
      assert.equal(e.details['verb'], 'create');
      assert.equal(e.details['resource'], 'secrets');
      assert.deepEqual(e.details['requiredRule'], {
        apiGroups: [''],
        resources: ['secrets'],
        verbs: ['create'],
      });
      assert.match(String(e.details['user']), /^system:serviceaccount:unit-\d+:app$/);
      assert.match(e.message, new RegExp(`namespace "${other.namespace}"`));
      assert.equal(e.retryable, false);
      await p.close();
    });

    it('lets each verb decide: read-only roles read, and writes name the missing verb', async () => {
      const writer = account();
      const w = await provider({ kubeconfigPath: writer.kubeconfigPath });
      await w.store('shared', value('v'), createMetadata());
      await w.close();
      const readerToken = emulator.createServiceAccount(writer.namespace, 'reader');
      emulator.addRole(writer.namespace, 'read', [{ verbs: ['get', 'list'], resources: ['secrets'] }]);
      emulator.addRoleBinding(writer.namespace, 'read', 'read', [{ kind: 'ServiceAccount', name: 'reader' }]);
      const r = await provider({
        kubeconfigPath: emulator.writeKubeconfig({ token: readerToken, namespace: writer.namespace }),
      });
      assert.equal(await r.exists('shared'), true);
      assert.deepEqual(await r.list(), ['shared']);
      const store = await rejectsCode(r.store('shared', value('w'), createMetadata()), 'PermissionDenied');
      assert.equal(store.details['verb'], 'update', 'the Secret exists: replacing it needs update');
      const del = await rejectsCode(r.delete('shared'), 'PermissionDenied');
      assert.equal(del.details['verb'], 'delete');
      await r.close();
      // create only: a new credential works, overwriting needs update.
      const creatorToken = emulator.createServiceAccount(writer.namespace, 'creator');
      emulator.addRole(writer.namespace, 'create', [{ verbs: ['create', 'get'], resources: ['secrets'] }]);
      emulator.addRoleBinding(writer.namespace, 'create', 'create', [
        { kind: 'ServiceAccount', name: 'creator' },
      ]);
      const c = await provider({
        kubeconfigPath: emulator.writeKubeconfig({ token: creatorToken, namespace: writer.namespace }),
      });
      await c.store('fresh', value('v'), createMetadata());
      const update = await rejectsCode(c.store('fresh', value('v2'), createMetadata()), 'PermissionDenied');
      assert.equal(update.details['verb'], 'update');
      await c.close();
    });
  });

  describe('retries and deadlines', () => {
    it('retries 503 three times with backoff, then Unavailable (4 requests)', async () => {
      const { kubeconfigPath } = account();
      const p = await provider({ kubeconfigPath, retry: { baseDelayMs: 5 } });
      emulator.failWith(503, 10);
      const before = emulator.secretRequests();
      const e = await rejectsCode(p.retrieve('anything'), 'Unavailable');
      assert.equal(emulator.secretRequests() - before, 4);
      assert.equal(e.details.attempts, 4);
      assert.equal(e.details.status, 503);
      assert.equal(e.retryable, true);
      emulator.faults.clear();
      await p.close();
    });

    it('recovers from 429 (honouring Retry-After) and 500 within the retries', async () => {
      const { kubeconfigPath } = account();
      const p = await provider({ kubeconfigPath, retry: { baseDelayMs: 5 } });
      emulator.failWith(429, 1, { retryAfterSeconds: 0 });
      emulator.failWith(500, 1);
      const before = emulator.secretRequests();
      await p.store('after_faults', value('v'), createMetadata());
      assert.equal(emulator.secretRequests() - before, 4, 'GET 429, GET 500, GET 404, POST');
      await p.close();
    });

    it('maps 429 to RateLimited with the Retry-After wait, like every provider', async () => {
      const { kubeconfigPath } = account();
      const clock = new ManualClock(Date.now(), { autoAdvance: true });
      const p = await provider({ kubeconfigPath, clock, retry: { maxRetries: 1, baseDelayMs: 5 } });
      emulator.failWith(429, 2, { retryAfterSeconds: 2 });
      const e = await rejectsCode(p.retrieve('anything'), 'RateLimited');
      assert.equal(e.retryable, true);
      assert.equal(e.details.retryAfterMs, 2000);
      assert.equal(e.details.attempts, 2);
      assert.deepEqual(clock.sleeps, [2000]);
      emulator.faults.clear();
      await p.close();
    });

    it('retries refused connections, then Unavailable', async () => {
      // A port that was just free: nothing listens there (the kubeconfig and CA of the running emulator stay).
      const probe = createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
      const { port } = probe.address() as AddressInfo;
      await new Promise((r) => probe.close(r));
      const { kubeconfigPath } = account();
      writeFileSync(
        kubeconfigPath,
        readFileSync(kubeconfigPath, 'utf8').replace(emulator.url, `https://127.0.0.1:${port}`),
      );
      const p = new KubernetesSecretsProvider({ kubeconfigPath, retry: { baseDelayMs: 5 } });
      const e = await rejectsCode(p.connect(), 'Unavailable');
      assert.equal(e.details.attempts, 4);
      assert.equal(e.details.backendCode, 'ECONNREFUSED');
    });

    it('turns a hung request into Timeout at the deadline', async () => {
      const { kubeconfigPath } = account();
      const p = await provider({ kubeconfigPath, timeouts: { readMs: 300 } });
      emulator.faults.add({ action: { kind: 'hang' }, match: (r) => r.path.includes('/secrets/') });
      await rejectsCode(p.retrieve('slow'), 'Timeout');
      emulator.faults.clear();
      await p.close();
    });

    it('destroys a hung request at the deadline, so its socket does not stay taken', async () => {
      const { kubeconfigPath } = account();
      // One socket: the next call can only go out if the hung request was destroyed, not left to the pool.
      const p = await provider({ kubeconfigPath, timeouts: { readMs: 300 }, maxSockets: 1 });
      const stored = value('v');
      await p.store('freed', stored, createMetadata());
      emulator.faults.add({ action: { kind: 'hang' }, match: (r) => r.path.includes('/secrets/') });
      const connections = emulator.server.connections;
      await rejectsCode(p.retrieve('freed'), 'Timeout');
      assert.deepEqual((await p.retrieve('freed')).data.ciphertext, stored.ciphertext);
      assert.equal(
        emulator.server.connections,
        connections + 1,
        'a new connection replaces the destroyed one',
      );
      await p.close();
    });

    it('keeps the retry count overridable', async () => {
      const { kubeconfigPath } = account();
      const p = await provider({ kubeconfigPath, retry: { maxRetries: 0 } });
      emulator.failWith(503, 5);
      const before = emulator.secretRequests();
      await rejectsCode(p.exists('x'), 'Unavailable');
      assert.equal(emulator.secretRequests() - before, 1);
      emulator.faults.clear();
      await p.close();
    });
  });

  describe('Secrets, labels and annotations', () => {
    it('writes one Opaque Secret with the managed-by label, sanitized tag labels and exact annotations', async () => {
      const { namespace, kubeconfigPath } = account();
      const p = await provider({ kubeconfigPath });
      const tags = {
        env: 'prod',
        'a b/c': 'x/y z',
        ключ: 'значение',
        'team.name': `${'v'.repeat(70)}`,
        '-edge-': '_value_',
        'a_b/c': 'exact? no',
        'emoji🙂': '🔥',
      };
      const metadata = createMetadata({ tags, rotationPolicy: { intervalDays: 30 } });
      await p.store('Awkward_Tags', value('v'), metadata);
      const secret = emulator.getSecret(namespace, p.secretName('Awkward_Tags'))!;
      assert.equal(secret.type, 'Opaque');
      assert.deepEqual(Object.keys(secret.data ?? {}), ['credential']);
      const labels = secret.metadata.labels!;
      assert.equal(labels[MANAGED_BY_LABEL], 'nebula-credential');
      assert.equal(labels['tag.nebula-credential.io/env'], 'prod');
      assert.equal(labels['tag.nebula-credential.io/team.name'], 'v'.repeat(63));
      assert.equal(labels['tag.nebula-credential.io/edge'], 'value');
      const annotations = secret.metadata.annotations!;
      assert.deepEqual(JSON.parse(annotations['nebula-credential.io/tags']!), tags);
      assert.equal(annotations['nebula-credential.io/id'], 'Awkward_Tags');
      assert.equal(annotations['nebula-credential.io/created-at'], metadata.createdAt.toISOString());
      assert.equal(annotations['nebula-credential.io/rotation-interval-days'], '30');
      const back = await p.retrieve('Awkward_Tags');
      assert.deepEqual(back.metadata.tags, tags);
      assert.equal(back.version, secret.metadata.resourceVersion);
      await p.store('plain', value('v'), createMetadata({ tags: { env: 'prod' } }));
      for (const [k, v] of Object.entries(tags)) {
        assert.deepEqual(
          await p.list({ tags: { [k]: v } }),
          k === 'env' ? ['Awkward_Tags', 'plain'] : ['Awkward_Tags'],
        );
      }
      assert.deepEqual(await p.list({ tags: { 'a b/c': 'x/y' } }), []);
      const before = emulator.requests.length;
      await p.list({ tags: { env: 'prod', 'a b/c': 'x/y z' } });
      const selector = emulator.requests[before]!.query.get('labelSelector');
      // Only the tag that is a valid label as it is narrows the request; the other is checked afterwards.
      assert.equal(
        selector,
        'app.kubernetes.io/managed-by=nebula-credential,tag.nebula-credential.io/env=prod',
      );
      await p.close();
    });

    it('refuses annotations over 256 KiB with SizeLimitExceeded before any request', async () => {
      const { kubeconfigPath } = account();
      const p = await provider({ kubeconfigPath });
      const before = emulator.secretRequests();
      const e = await rejectsCode(
        p.store('big_tags', value('v'), createMetadata({ tags: { big: 'x'.repeat(270 * 1024) } })),
        'SizeLimitExceeded',
      );
      assert.equal(e.details.limit, 256 * 1024);
      assert.equal(emulator.secretRequests(), before);
      await p.close();
    });

    it('leaves a foreign Secret with the same name alone (Conflict), and hides it from list and exists', async () => {
      const { namespace, kubeconfigPath } = account();
      const foreign = emulator.putSecret(namespace, {
        metadata: { name: 'nebula-db' },
        data: { password: Buffer.from('theirs').toString('base64') },
      } as never);
      const p = await provider({ kubeconfigPath });
      const stored = await rejectsCode(p.store('db', value('mine'), createMetadata()), 'Conflict');
      assert.equal(stored.details['secretName'], 'nebula-db');
      await rejectsCode(p.delete('db'), 'Conflict');
      await rejectsCode(p.retrieve('db'), 'Conflict');
      assert.equal(await p.exists('db'), false);
      assert.deepEqual(await p.list(), []);
      const after = emulator.getSecret(namespace, 'nebula-db')!;
      assert.equal(after.metadata.resourceVersion, foreign.metadata.resourceVersion);
      assert.deepEqual(after.data, foreign.data);
      await p.close();
    });

    it('stores the same data and metadata objects under two ids as two Secrets', async () => {
      const { namespace, kubeconfigPath } = account();
      const p = await provider({ kubeconfigPath });
      const data = value('same');
      const metadata = createMetadata();
      await p.store('first', data, metadata);
      await p.store('second', data, metadata);
      assert.ok(emulator.getSecret(namespace, 'nebula-first'));
      assert.ok(emulator.getSecret(namespace, 'nebula-second'));
      assert.deepEqual(await p.list(), ['first', 'second']);
      await p.close();
    });

    it('re-reads and replaces again when another writer wins the resourceVersion race', async () => {
      const { kubeconfigPath } = account();
      const p = await provider({ kubeconfigPath });
      await p.store('raced', value('1'), createMetadata());
      emulator.faults.add({
        action: {
          kind: 'status',
          status: 409,
          body: {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            reason: 'Conflict',
            message: 'Operation cannot be fulfilled on secrets "nebula-raced": the object has been modified',
            details: { name: 'nebula-raced', kind: 'secrets' },
            code: 409,
          },
        },
        match: (r) => r.method === 'PUT',
      });
      const before = emulator.requests.length;
      await p.store('raced', value('2'), createMetadata());
      // The remembered resourceVersion stands in for the first read; the 409 sends it back to reading.
      assert.deepEqual(
        emulator.requests.slice(before).map((r) => r.method),
        ['PUT', 'GET', 'PUT'],
      );
      assert.equal(enc.decrypt((await p.retrieve('raced')).data).toString(), '2');
      await p.close();
    });

    it('makes the expected number of requests per operation', async () => {
      const { kubeconfigPath } = account();
      const p = await provider({ kubeconfigPath, listPageSize: 2 });
      const count = async (fn: () => Promise<unknown>) => {
        const before = emulator.requests.length;
        await fn();
        return emulator.requests.slice(before).map((r) => r.method);
      };
      assert.deepEqual(await count(() => p.store('a', value('1'), createMetadata())), ['GET', 'POST']);
      assert.deepEqual(await count(() => p.store('a', value('2'), createMetadata())), ['PUT']);
      assert.deepEqual(await count(() => p.retrieve('a')), ['GET']);
      // A fresh provider knows nothing of 'a' yet: it reads once, then its next write is one request.
      const fresh = await provider({ kubeconfigPath });
      assert.deepEqual(await count(() => fresh.store('a', value('3'), createMetadata())), ['GET', 'PUT']);
      assert.deepEqual(await count(() => fresh.store('a', value('4'), createMetadata())), ['PUT']);
      // The first provider's remembered resourceVersion is now stale: the API server refuses it (409).
      assert.deepEqual(await count(() => p.store('a', value('5'), createMetadata())), ['PUT', 'GET', 'PUT']);
      assert.equal(enc.decrypt((await fresh.retrieve('a')).data).toString(), '5');
      await fresh.close();
      assert.deepEqual(await count(() => p.exists('a')), ['GET']);
      await p.store('b', value('1'), createMetadata());
      await p.store('c', value('1'), createMetadata());
      assert.deepEqual(await count(() => p.list()), ['GET', 'GET']);
      assert.deepEqual(await count(() => p.delete('a')), ['GET', 'DELETE']);
      assert.deepEqual(await count(() => p.delete('a')), ['GET']);
      await p.close();
    });

    it("a fresh process's overwrite keeping tags and rotation is one guarded JSON patch", async () => {
      const { namespace, kubeconfigPath } = account();
      const sent = async (fn: () => Promise<unknown>) => {
        const before = emulator.requests.length;
        await fn();
        return emulator.requests
          .slice(before)
          .map((r) => `${r.method}${r.method === 'PATCH' ? ` ${r.headers['content-type']}` : ''}`);
      };
      const keep = { keepTags: true, keepRotationPolicy: true };
      const first = await provider({ kubeconfigPath });
      const created = createMetadata({
        tags: { team: 'a' },
        rotationPolicy: { intervalDays: 9 },
        now: new Date('2025-01-02T03:04:05.678Z'),
      });
      await first.store('kept', value('1'), created);
      await first.close();
      const fresh = await provider({ kubeconfigPath });
      let written: unknown;
      assert.deepEqual(
        await sent(async () => {
          written = await fresh.store('kept', value('2'), createMetadata(), undefined, keep);
        }),
        ['PATCH application/json-patch+json'],
      );
      const other = await provider({ kubeconfigPath });
      const back = await other.retrieve('kept');
      assert.equal(enc.decrypt(back.data).toString(), '2');
      assert.deepEqual(written, back.metadata, 'store resolves to the metadata the Secret now holds');
      assert.equal(back.metadata.createdAt.toISOString(), created.createdAt.toISOString());
      assert.deepEqual(back.metadata.tags, { team: 'a' });
      assert.deepEqual(back.metadata.rotationPolicy, { intervalDays: 9 });
      assert.ok(back.metadata.lastModified > created.lastModified);
      await other.close();
      // A missing Secret: the patch answers 404 and the write creates it.
      assert.deepEqual(
        await sent(() => fresh.store('brand_new', value('1'), createMetadata(), undefined, keep)),
        ['PATCH application/json-patch+json', 'POST'],
      );
      // A foreign Secret fails the patch's guard (422) and is refused after the read, unchanged.
      const foreign = emulator.putSecret(namespace, {
        metadata: { name: 'nebula-theirs' },
        data: { password: Buffer.from('theirs').toString('base64') },
      } as never);
      await rejectsCode(fresh.store('theirs', value('mine'), createMetadata(), undefined, keep), 'Conflict');
      assert.deepEqual(emulator.getSecret(namespace, 'nebula-theirs')!.data, foreign.data);
      // A Secret without the metadata annotations (edited by hand) is read and replaced, keeping createdAt.
      await fresh.store('bare', value('1'), created, undefined, { exactMetadata: true });
      const bare = emulator.getSecret(namespace, 'nebula-bare')!;
      delete bare.metadata.annotations!['nebula-credential.io/tags'];
      emulator.putSecret(namespace, bare as never);
      const cold = await provider({ kubeconfigPath });
      assert.deepEqual(await sent(() => cold.store('bare', value('2'), createMetadata(), undefined, keep)), [
        'PATCH application/json-patch+json',
        'GET',
        'PUT',
      ]);
      const repaired = (await cold.retrieve('bare')).metadata;
      assert.equal(repaired.createdAt.toISOString(), created.createdAt.toISOString());
      assert.deepEqual(repaired.tags, { team: 'a' });
      await cold.close();
      await fresh.close();
    });

    it("a fresh process's overwrite giving tags or a rotation policy is one patch too; removing a rotation policy reads first", async () => {
      const { namespace, kubeconfigPath } = account();
      const methods = async (fn: () => Promise<unknown>) => {
        const before = emulator.requests.length;
        await fn();
        return emulator.requests.slice(before).map((r) => r.method);
      };
      const first = await provider({ kubeconfigPath });
      const created = createMetadata({
        tags: { team: 'a', old: 'x' },
        rotationPolicy: { intervalDays: 9 },
        now: new Date('2025-01-02T03:04:05.678Z'),
      });
      await first.store('retag', value('1'), created);
      await first.close();
      const fresh = await provider({ kubeconfigPath });
      // Given tags, rotation kept (the facade's put with --tag).
      assert.deepEqual(
        await methods(() =>
          fresh.store('retag', value('2'), createMetadata({ tags: { team: 'b' } }), undefined, {
            keepTags: false,
            keepRotationPolicy: true,
          }),
        ),
        ['PATCH'],
      );
      let back = (await fresh.retrieve('retag')).metadata;
      assert.deepEqual(back.tags, { team: 'b' });
      assert.deepEqual(back.rotationPolicy, { intervalDays: 9 });
      assert.equal(back.createdAt.toISOString(), created.createdAt.toISOString());
      const labels = emulator.getSecret(namespace, 'nebula-retag')!.metadata.labels!;
      assert.ok(!Object.values(labels).includes('x'), 'the old tag label is gone with the old tags');
      assert.deepEqual(await fresh.list({ tags: { team: 'b' } }), ['retag']);
      assert.deepEqual(await fresh.list({ tags: { team: 'a' } }), []);
      // A given rotation policy, tags kept.
      const cold = await provider({ kubeconfigPath });
      assert.deepEqual(
        await methods(() =>
          cold.store(
            'retag',
            value('3'),
            createMetadata({ rotationPolicy: { intervalDays: 30 } }),
            undefined,
            {
              keepTags: true,
              keepRotationPolicy: false,
            },
          ),
        ),
        ['PATCH'],
      );
      back = (await cold.retrieve('retag')).metadata;
      assert.deepEqual(back.rotationPolicy, { intervalDays: 30 });
      assert.deepEqual(back.tags, { team: 'b' });
      await cold.close();
      // Removing the rotation policy: a JSON patch cannot remove "only if present", so the read path does.
      const colder = await provider({ kubeconfigPath });
      assert.deepEqual(
        await methods(() =>
          colder.store('retag', value('4'), createMetadata(), undefined, {
            keepTags: true,
            keepRotationPolicy: false,
          }),
        ),
        ['GET', 'PUT'],
      );
      back = (await colder.retrieve('retag')).metadata;
      assert.equal(back.rotationPolicy, undefined);
      assert.deepEqual(back.tags, { team: 'b' });
      assert.equal(back.createdAt.toISOString(), created.createdAt.toISOString());
      await colder.close();
      await fresh.close();
    });

    it('falls back to read and replace when the role may not patch Secrets', async () => {
      const { kubeconfigPath } = account(['get', 'list', 'create', 'update', 'delete']);
      const p = await provider({ kubeconfigPath });
      await p.store('no_patch', value('1'), createMetadata({ tags: { team: 'a' } }));
      await p.close();
      const keep = { keepTags: true, keepRotationPolicy: true };
      const fresh = await provider({ kubeconfigPath });
      const before = emulator.requests.length;
      await fresh.store('no_patch', value('2'), createMetadata(), undefined, keep);
      assert.deepEqual(
        emulator.requests.slice(before).map((r) => r.method),
        ['PATCH', 'GET', 'PUT'],
      );
      const again = await provider({ kubeconfigPath });
      const back = await again.retrieve('no_patch');
      assert.equal(enc.decrypt(back.data).toString(), '2');
      assert.deepEqual(back.metadata.tags, { team: 'a' });
      await again.close();
      await fresh.close();
    });

    it('sends successive calls over one kept-alive TLS connection (client-node 1.x agent, 2.x dispatcher)', async () => {
      const { kubeconfigPath } = account();
      const p = await provider({ kubeconfigPath });
      const connectionsBefore = emulator.server.connections;
      const requestsBefore = emulator.requests.length;
      for (let i = 0; i < 6; i++) await p.store(`kept_${i}`, value(String(i)), createMetadata());
      const requests = emulator.requests.length - requestsBefore;
      const connections = emulator.server.connections - connectionsBefore;
      // Each new id is two requests: a GET for the metadata to keep (the overwrite rule), then the create.
      assert.equal(requests, 12);
      // Without the shared pool every request is a new handshake (12); one reconnect is tolerated.
      assert.ok(connections <= 1, `${connections} new TLS connections for ${requests} requests`);
      await p.close();
    });
  });

  describe('options', () => {
    it('reports every invalid option at once', () => {
      try {
        new KubernetesSecretsProvider({
          namespace: 'Bad_NS',
          prefix: '-x',
          inCluster: true,
          kubeconfigPath: '/x',
          listPageSize: 0,
          nope: 1,
        } as never);
        assert.fail('expected InvalidConfig');
      } catch (error) {
        assert.ok(error instanceof StorageError && error.code === 'InvalidConfig');
        const paths = (error.details.issues ?? []).map((i) => i.path).sort();
        assert.deepEqual(paths, ['inCluster', 'listPageSize', 'namespace', 'nope', 'prefix']);
      }
    });

    it('maps ids to DNS names with the prefix and limits ids to 253 characters in all', () => {
      const p = new KubernetesSecretsProvider({ prefix: 'app-' });
      assert.equal(p.secretName('github_token'), 'app-github--token');
      assert.equal(p.secretName('x-'), 'app-x-0');
      assert.equal(p.capabilities.maxIdBytes, 249);
      assert.equal(p.capabilities.maxCredentialSize, 774144);
    });
  });
});
