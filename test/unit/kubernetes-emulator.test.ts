import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ManualClock } from '../../src/core/clock.js';
import { createStorageProvider } from '../../src/providers/factory.js';
import { cliEmulator, KubernetesEmulator } from '../../src/testing/emulators/kubernetes.js';

const run = promisify(execFile);
const clock = new ManualClock(Date.UTC(2026, 5, 1));
const k8s = new KubernetesEmulator({ clock, namespaces: ['apps'] });

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown> & {
    metadata?: Record<string, unknown>;
    items?: { metadata: { name: string } }[];
  };
}

/** One raw HTTPS request, trusting only the emulator's CA. */
function call(
  method: string,
  path: string,
  body?: unknown,
  options: { token?: string | null; contentType?: string } = {},
): Promise<Reply> {
  const url = new URL(path, k8s.url);
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = options.token === undefined ? k8s.adminToken : options.token;
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  if (text !== undefined) {
    headers['content-type'] = options.contentType ?? 'application/json';
    // Node sends DELETE bodies unframed unless told the length.
    headers['content-length'] = String(Buffer.byteLength(text));
  }
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, ca: k8s.caCertPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json: raw ? JSON.parse(raw) : {} });
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}

const secret = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, ...((extra['metadata'] as object) ?? {}) },
  data: { k: Buffer.from('v').toString('base64') },
  ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'metadata')),
});
const SECRETS = '/api/v1/namespaces/apps/secrets';

describe('Kubernetes API-server emulator', () => {
  before(async () => {
    await k8s.start();
  });
  after(async () => {
    await k8s.stop();
  });

  it('serves discovery, public /version, 401 for bad tokens and 403 for anonymous requests', async () => {
    const version = await call('GET', '/version', undefined, { token: null });
    assert.equal(version.status, 200);
    assert.equal(version.json['gitVersion'], 'v1.32.0-nebula-emulator');
    assert.deepEqual((await call('GET', '/api')).json['versions'], ['v1']);
    assert.equal((await call('GET', '/apis')).json['kind'], 'APIGroupList');
    const resources = (await call('GET', '/api/v1')).json['resources'] as {
      name: string;
      namespaced: boolean;
    }[];
    assert.ok(resources.some((r) => r.name === 'secrets' && r.namespaced));
    const bad = await call('GET', SECRETS, undefined, { token: 'nope' });
    assert.equal(bad.status, 401);
    assert.deepEqual(bad.json, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    });
    const anonymous = await call('GET', SECRETS, undefined, { token: null });
    assert.equal(anonymous.status, 403);
    assert.match(String(anonymous.json['message']), /User "system:anonymous" cannot list resource "secrets"/);
    assert.equal((await call('GET', '/nothing/here')).status, 404);
  });

  it('creates, reads, replaces with resourceVersion conflicts, and deletes returning a Status', async () => {
    const created = await call('POST', SECRETS, { ...secret('crud'), stringData: { s: 'plain' } });
    assert.equal(created.status, 201);
    const meta = created.json.metadata as { resourceVersion: string; uid: string; namespace: string };
    assert.equal(meta.namespace, 'apps');
    assert.equal(created.json['type'], 'Opaque');
    assert.deepEqual(created.json['data'], { k: 'dg==', s: Buffer.from('plain').toString('base64') });
    assert.equal(created.json['stringData'], undefined);
    const again = await call('POST', SECRETS, secret('crud'));
    assert.equal(again.status, 409);
    assert.equal(again.json['reason'], 'AlreadyExists');
    assert.deepEqual(again.json['details'], { name: 'crud', kind: 'secrets' });
    const replaced = await call(
      'PUT',
      `${SECRETS}/crud`,
      secret('crud', { metadata: { resourceVersion: meta.resourceVersion } }),
    );
    assert.equal(replaced.status, 200);
    const stale = await call(
      'PUT',
      `${SECRETS}/crud`,
      secret('crud', { metadata: { resourceVersion: meta.resourceVersion } }),
    );
    assert.equal(stale.status, 409);
    assert.equal(stale.json['reason'], 'Conflict');
    assert.match(String(stale.json['message']), /the object has been modified/);
    const missing = await call('PUT', `${SECRETS}/absent`, secret('absent'));
    assert.equal(missing.status, 404);
    const wrongPre = await call('DELETE', `${SECRETS}/crud`, { preconditions: { uid: 'other' } });
    assert.equal(wrongPre.status, 409);
    const deleted = await call('DELETE', `${SECRETS}/crud`);
    assert.deepEqual(deleted.json, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name: 'crud', kind: 'secrets', uid: meta.uid },
    });
    const gone = await call('GET', `${SECRETS}/crud`);
    assert.equal(gone.status, 404);
    assert.equal(gone.json['message'], 'secrets "crud" not found');
    assert.equal((await call('POST', '/api/v1/namespaces/ghost/secrets', secret('x'))).status, 404);
  });

  it('validates like the API server: names, labels, annotations, sizes, base64 and immutability', async () => {
    const badName = await call('POST', SECRETS, secret('Bad_Name'));
    assert.equal(badName.status, 422);
    assert.equal(badName.json['reason'], 'Invalid');
    const details = badName.json['details'] as { kind: string; causes: { field: string; reason: string }[] };
    assert.equal(details.kind, 'Secret');
    assert.deepEqual(
      details.causes.map((c) => [c.field, c.reason]),
      [['metadata.name', 'FieldValueInvalid']],
    );
    assert.equal((await call('POST', SECRETS, secret('x'.repeat(254)))).status, 422);
    assert.equal(
      (await call('POST', SECRETS, secret('l', { metadata: { labels: { a: 'has space' } } }))).status,
      422,
    );
    assert.equal(
      (await call('POST', SECRETS, secret('l', { metadata: { labels: { [`${'k'.repeat(64)}`]: 'v' } } })))
        .status,
      422,
    );
    assert.equal(
      (await call('POST', SECRETS, secret('l', { metadata: { labels: { 'a/b/c': 'v' } } }))).status,
      422,
    );
    const bigAnnotations = await call(
      'POST',
      SECRETS,
      secret('a', { metadata: { annotations: { big: 'x'.repeat(262_142) } } }),
    );
    assert.equal(bigAnnotations.status, 422);
    const okAnnotations = await call(
      'POST',
      SECRETS,
      secret('a', { metadata: { annotations: { big: 'x'.repeat(262_141) } } }),
    );
    assert.equal(okAnnotations.status, 201, 'exactly 262144 bytes of key+value is allowed');
    const tooBig = await call('POST', SECRETS, {
      ...secret('big'),
      data: { k: Buffer.alloc(1024 * 1024 + 1).toString('base64') },
    });
    assert.equal(tooBig.status, 422);
    assert.equal(
      (tooBig.json['details'] as { causes: { reason: string }[] }).causes[0]!.reason,
      'FieldValueTooLong',
    );
    const atLimit = await call('POST', SECRETS, {
      ...secret('big'),
      data: { k: Buffer.alloc(1024 * 1024).toString('base64') },
    });
    assert.equal(atLimit.status, 201);
    assert.equal((await call('POST', SECRETS, { ...secret('b64'), data: { k: 'not base64!' } })).status, 400);
    assert.equal(
      (await call('POST', SECRETS, { ...secret('key'), data: { 'bad/key': 'dg==' } })).status,
      422,
    );
    await call('POST', SECRETS, secret('frozen', { immutable: true }));
    const thaw = await call('PUT', `${SECRETS}/frozen`, {
      ...secret('frozen', { immutable: true }),
      data: { k: 'dzI=' },
    });
    assert.equal(thaw.status, 422);
    assert.equal((await call('POST', SECRETS, 'not json')).status, 400);
  });

  it('lists with equality and set-based label selectors and field selectors', async () => {
    const labelled = (name: string, labels: Record<string, string>) =>
      call('POST', SECRETS, secret(name, { metadata: { labels } }));
    await labelled('sel-a', { tier: 'web', env: 'prod' });
    await labelled('sel-b', { tier: 'db', env: 'prod' });
    await labelled('sel-c', { tier: 'cache' });
    const names = async (selector: string) => {
      const r = await call('GET', `${SECRETS}?labelSelector=${encodeURIComponent(selector)}`);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return (r.json.items ?? []).map((i) => i.metadata.name);
    };
    assert.deepEqual(await names('env=prod'), ['sel-a', 'sel-b']);
    assert.deepEqual(await names('env==prod,tier!=db'), ['sel-a']);
    assert.deepEqual(await names('tier in (web, cache)'), ['sel-a', 'sel-c']);
    assert.deepEqual(await names('tier,tier notin (web,db)'), ['sel-c']);
    assert.deepEqual(await names('tier,!env'), ['sel-c']);
    const bad = await call('GET', `${SECRETS}?labelSelector=${encodeURIComponent('a=b c')}`);
    assert.equal(bad.status, 400);
    const field = await call('GET', `${SECRETS}?fieldSelector=metadata.name%3Dsel-b`);
    assert.deepEqual(
      field.json.items!.map((i) => i.metadata.name),
      ['sel-b'],
    );
    assert.equal(field.json['kind'], 'SecretList');
  });

  it('pages with limit and continue, and expires old continue tokens (410) on the emulator clock', async () => {
    for (const i of [1, 2, 3, 4, 5])
      await call('POST', SECRETS, secret(`page-${i}`, { metadata: { labels: { paged: 'yes' } } }));
    const first = await call('GET', `${SECRETS}?labelSelector=paged%3Dyes&limit=2`);
    assert.deepEqual(
      first.json.items!.map((i) => i.metadata.name),
      ['page-1', 'page-2'],
    );
    assert.equal(first.json.metadata!['remainingItemCount'], 3);
    const token = String(first.json.metadata!['continue']);
    const second = await call('GET', `${SECRETS}?labelSelector=paged%3Dyes&limit=2&continue=${token}`);
    assert.deepEqual(
      second.json.items!.map((i) => i.metadata.name),
      ['page-3', 'page-4'],
    );
    await clock.advance(6 * 60_000);
    const expired = await call('GET', `${SECRETS}?labelSelector=paged%3Dyes&limit=2&continue=${token}`);
    assert.equal(expired.status, 410);
    assert.equal(expired.json['reason'], 'Expired');
  });

  it('applies JSON, merge and strategic merge patches, with 415 for other types', async () => {
    await call('POST', SECRETS, secret('patched', { metadata: { labels: { a: '1' } } }));
    const merge = await call(
      'PATCH',
      `${SECRETS}/patched`,
      { metadata: { labels: { b: '2' } }, data: { k: null, n: 'bg==' } },
      {
        contentType: 'application/merge-patch+json',
      },
    );
    assert.equal(merge.status, 200);
    assert.deepEqual((merge.json.metadata as { labels: object }).labels, { a: '1', b: '2' });
    assert.deepEqual(merge.json['data'], { n: 'bg==' });
    const strategic = await call(
      'PATCH',
      `${SECRETS}/patched`,
      { metadata: { labels: { a: null } } },
      {
        contentType: 'application/strategic-merge-patch+json',
      },
    );
    assert.deepEqual((strategic.json.metadata as { labels: object }).labels, { b: '2' });
    const json = await call(
      'PATCH',
      `${SECRETS}/patched`,
      [
        { op: 'test', path: '/data/n', value: 'bg==' },
        { op: 'add', path: '/data/x', value: 'eA==' },
        { op: 'remove', path: '/metadata/labels/b' },
      ],
      { contentType: 'application/json-patch+json' },
    );
    assert.equal(json.status, 200);
    assert.deepEqual(json.json['data'], { n: 'bg==', x: 'eA==' });
    const failedTest = await call(
      'PATCH',
      `${SECRETS}/patched`,
      [{ op: 'test', path: '/data/n', value: 'no' }],
      {
        contentType: 'application/json-patch+json',
      },
    );
    assert.equal(failedTest.status, 422);
    const stale = await call(
      'PATCH',
      `${SECRETS}/patched`,
      { metadata: { resourceVersion: '1' } },
      {
        contentType: 'application/merge-patch+json',
      },
    );
    assert.equal(stale.status, 409);
    const unsupported = await call('PATCH', `${SECRETS}/patched`, 'a: b', {
      contentType: 'application/yaml',
    });
    assert.equal(unsupported.status, 415);
  });

  it('server-side apply: creates (201) then updates (200), records managers, removes only solely owned fields, conflicts unless forced', async () => {
    const applied = (manager: string | undefined, body: unknown, force = false) =>
      call(
        'PATCH',
        `${SECRETS}/ssa${manager === undefined ? '' : `?fieldManager=${manager}${force ? '&force=true' : ''}`}`,
        typeof body === 'string' ? body : JSON.stringify(body),
        { contentType: 'application/apply-patch+yaml' },
      );
    const secret = (labels: Record<string, string>, data: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'ssa', labels },
      data,
    });
    const missingManager = await applied(undefined, secret({}, {}));
    assert.equal(missingManager.status, 400, 'an apply needs a fieldManager');
    const created = await applied('alpha', secret({ a: '1', b: '2' }, { k: 'dg==' }));
    assert.equal(created.status, 201);
    const managed = created.json.metadata!['managedFields'] as {
      manager: string;
      operation: string;
      fieldsType: string;
      fieldsV1: Record<string, Record<string, unknown>>;
    }[];
    assert.deepEqual(
      managed.map((m) => [m.manager, m.operation, m.fieldsType]),
      [['alpha', 'Apply', 'FieldsV1']],
    );
    assert.deepEqual(managed[0]!.fieldsV1['f:metadata'], { 'f:labels': { 'f:a': {}, 'f:b': {} } });
    assert.deepEqual(managed[0]!.fieldsV1['f:data'], { 'f:k': {} });
    // A YAML body; another manager shares label a (same value) and adds c.
    const yaml = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: ssa\n  labels:\n    a: "1"\n    c: "3"\n';
    const shared = await applied('beta', yaml);
    assert.equal(shared.status, 200);
    // alpha drops a and b: b (alpha's alone) goes, a (shared with beta) stays.
    const dropped = await applied('alpha', secret({}, { k: 'dg==' }));
    assert.equal(dropped.status, 200);
    assert.deepEqual(dropped.json.metadata!.labels, { a: '1', c: '3' });
    assert.ok(
      Number(dropped.json.metadata!.resourceVersion) > Number(created.json.metadata!.resourceVersion),
    );
    // alpha sets c to another value: beta owns it, so 409 with FieldManagerConflict, unless forced.
    const conflict = await applied('alpha', secret({ c: 'x' }, { k: 'dg==' }));
    assert.equal(conflict.status, 409);
    assert.equal(conflict.json['reason'], 'Conflict');
    assert.deepEqual(conflict.json['details'], {
      name: 'ssa',
      kind: 'secrets',
      causes: [
        { reason: 'FieldManagerConflict', message: 'conflict with "beta"', field: '.metadata.labels.c' },
      ],
    });
    const forced = await applied('alpha', secret({ c: 'x' }, { k: 'dg==' }), true);
    assert.equal(forced.status, 200);
    assert.equal((forced.json.metadata!.labels as Record<string, string>)['c'], 'x');
    // A merge patch is an Update by its fieldManager (or user agent); removing a field removes it for all owners.
    const merged = await call(
      'PATCH',
      `${SECRETS}/ssa?fieldManager=editor`,
      { metadata: { labels: { a: null, d: '4' } } },
      { contentType: 'application/merge-patch+json' },
    );
    assert.equal(merged.status, 200);
    assert.deepEqual(merged.json.metadata!.labels, { c: 'x', d: '4' });
    const entries = (merged.json.metadata!['managedFields'] as { manager: string; operation: string }[]).map(
      (m) => `${m.manager}/${m.operation}`,
    );
    assert.deepEqual(entries, ['alpha/Apply', 'editor/Update']);
    const forceOnMerge = await call(
      'PATCH',
      `${SECRETS}/ssa?force=true`,
      {},
      {
        contentType: 'application/merge-patch+json',
      },
    );
    assert.equal(forceOnMerge.status, 400, 'force is for apply only');
  });

  it('decides each verb by Roles and RoleBindings per namespace', async () => {
    const token = k8s.createServiceAccount('apps', 'limited');
    k8s.addRole('apps', 'one-secret', [{ verbs: ['get'], resources: ['secrets'], resourceNames: ['sel-a'] }]);
    k8s.addRoleBinding('apps', 'one-secret', 'one-secret', [{ kind: 'ServiceAccount', name: 'limited' }]);
    assert.equal((await call('GET', `${SECRETS}/sel-a`, undefined, { token })).status, 200);
    const other = await call('GET', `${SECRETS}/sel-b`, undefined, { token });
    assert.equal(other.status, 403);
    assert.equal(
      other.json['message'],
      'secrets "sel-b" is forbidden: User "system:serviceaccount:apps:limited" cannot get resource "secrets" in API group "" in the namespace "apps"',
    );
    assert.deepEqual(other.json['details'], { name: 'sel-b', kind: 'secrets' });
    assert.equal((await call('GET', SECRETS, undefined, { token })).status, 403);
    assert.equal(
      (await call('GET', '/api/v1/namespaces/default/secrets/sel-a', undefined, { token })).status,
      403,
    );
    const everywhere = await call('GET', '/api/v1/secrets?limit=2');
    assert.equal(everywhere.status, 200);
    assert.equal(everywhere.json.items!.length, 2);
    const clusterScope = await call('GET', '/api/v1/secrets', undefined, { token });
    assert.equal(clusterScope.status, 403);
    assert.match(
      String(clusterScope.json['message']),
      /cannot list resource "secrets" in API group "" at the cluster scope$/,
    );
    k8s.revokeToken(token);
    assert.equal((await call('GET', `${SECRETS}/sel-a`, undefined, { token })).status, 401);
    const expiring = k8s.createServiceAccount('apps', 'short', { expiresInMs: 1000 });
    k8s.grant('apps', 'short', ['list']);
    assert.equal((await call('GET', SECRETS, undefined, { token: expiring })).status, 200);
    await clock.advance(1000);
    assert.equal((await call('GET', SECRETS, undefined, { token: expiring })).status, 401);
  });

  it('injects API-server failures as Status objects with Retry-After', async () => {
    k8s.failWith(429, 1, { retryAfterSeconds: 2 });
    const limited = await call('GET', SECRETS);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '2');
    assert.equal(limited.json['reason'], 'TooManyRequests');
    assert.deepEqual(limited.json['details'], { retryAfterSeconds: 2 });
    k8s.failWith(503);
    assert.equal((await call('GET', SECRETS)).json['reason'], 'ServiceUnavailable');
    assert.equal((await call('GET', SECRETS)).status, 200);
  });

  it('runs as the CLI emulator, printing a config that createStorageProvider accepts as it is', async () => {
    const running = await cliEmulator.start({});
    try {
      const info = running.info as Record<string, unknown> & { config: Record<string, unknown> };
      assert.equal(info['service'], 'kubernetes');
      assert.match(String(info['server']), /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(info['namespace'], 'default');
      assert.ok(existsSync(String(info['caCertPath'])));
      assert.match(readFileSync(String(info['kubeconfigPath']), 'utf8'), new RegExp(String(info['token'])));
      const provider = await createStorageProvider(info.config as never);
      assert.deepEqual(await provider.list(), []);
      assert.equal(await provider.exists('nothing'), false);
      await provider.close();
      assert.ok(
        !JSON.stringify(info.config).includes(String(info['token'])),
        'config points at the kubeconfig',
      );
    } finally {
      await running.stop();
    }
  });

  const kubectl = existsSync('/usr/bin/kubectl') ? '/usr/bin/kubectl' : undefined;
  it('works with real kubectl: create, get, list with selectors, label, patch, delete', {
    skip: kubectl ? false : 'kubectl is not installed (looked for /usr/bin/kubectl)',
  }, async () => {
    const token = k8s.createServiceAccount('tools', 'kubectl');
    k8s.grant('tools', 'kubectl');
    const kubeconfig = k8s.writeKubeconfig({ token, namespace: 'tools' });
    const home = (await import('node:fs')).mkdtempSync(
      `${(await import('node:os')).tmpdir()}/nebula-kubectl-`,
    );
    const kc = async (...args: string[]) => {
      const r = await run(kubectl!, ['--kubeconfig', kubeconfig, ...args], {
        env: { ...process.env, HOME: home },
      });
      return r.stdout;
    };
    assert.match(
      await kc('create', 'secret', 'generic', 'demo', '--from-literal=user=admin'),
      /secret\/demo created/,
    );
    assert.deepEqual(k8s.getSecret('tools', 'demo')?.data, { user: Buffer.from('admin').toString('base64') });
    assert.equal(k8s.getSecret('tools', 'demo')?.type, 'Opaque');
    assert.match(await kc('get', 'secrets'), /demo\s+Opaque\s+1\s+/);
    const json = JSON.parse(await kc('get', 'secret', 'demo', '-o', 'json'));
    assert.equal(json.metadata.namespace, 'tools');
    assert.match(await kc('label', 'secret', 'demo', 'tier=web'), /labeled/);
    assert.match(await kc('get', 'secrets', '-l', 'tier in (web,db)', '-o', 'name'), /secret\/demo/);
    assert.equal((await kc('get', 'secrets', '-l', '!tier', '-o', 'name')).trim(), '');
    await kc('patch', 'secret', 'demo', '--type=merge', '-p', '{"data":{"extra":"eA=="}}');
    assert.equal(k8s.getSecret('tools', 'demo')?.data?.['extra'], 'eA==');
    await assert.rejects(kc('create', 'secret', 'generic', 'Bad_Name', '--from-literal=a=b'), /is invalid/);
    await assert.rejects(kc('get', 'secrets', '-n', 'apps'), /forbidden/);
    const admin = k8s.writeKubeconfig();
    const all = await run(kubectl!, ['--kubeconfig', admin, 'get', 'secrets', '-A'], {
      env: { ...process.env, HOME: home },
    });
    assert.match(all.stdout, /tools\s+demo\s+Opaque/);
    assert.match(await kc('delete', 'secret', 'demo'), /secret "demo" deleted/);
    assert.equal(k8s.getSecret('tools', 'demo'), undefined);
    assert.match(
      await kc('get', 'secrets').catch((e: { stderr: string }) => e.stderr),
      /^$|No resources found/,
    );
  });

  it('works with real kubectl apply --server-side: create, update, managers, conflicts, and the provider reading it back', {
    skip: kubectl ? false : 'kubectl is not installed (looked for /usr/bin/kubectl)',
  }, async () => {
    const fs = await import('node:fs');
    const home = fs.mkdtempSync(`${(await import('node:os')).tmpdir()}/nebula-kubectl-ssa-`);
    const token = k8s.createServiceAccount('ssa', 'kubectl');
    k8s.grant('ssa', 'kubectl');
    const kubeconfig = k8s.writeKubeconfig({ token, namespace: 'ssa' });
    const kc = async (...args: string[]) =>
      (await run(kubectl!, ['--kubeconfig', kubeconfig, ...args], { env: { ...process.env, HOME: home } }))
        .stdout;
    const manifest = (name: string, value: string, labels: Record<string, string>) => {
      const path = `${home}/${name}-${value}.yaml`;
      fs.writeFileSync(
        path,
        [
          'apiVersion: v1',
          'kind: Secret',
          'metadata:',
          `  name: ${name}`,
          '  labels:',
          ...Object.entries(labels).map(([k, v]) => `    ${k}: ${v}`),
          'data:',
          `  k: ${Buffer.from(value).toString('base64')}`,
          '',
        ].join('\n'),
      );
      return path;
    };
    try {
      assert.match(
        await kc('apply', '--server-side', '-f', manifest('applied', 'one', { team: 'a' })),
        /secret\/applied serverside-applied/,
      );
      await kc('apply', '--server-side', '-f', manifest('applied', 'two', { team: 'a' }));
      assert.equal(k8s.getSecret('ssa', 'applied')?.data?.['k'], Buffer.from('two').toString('base64'));
      const shown = await kc('get', 'secret', 'applied', '-o', 'yaml', '--show-managed-fields');
      assert.match(shown, /manager: kubectl\n\s+operation: Apply/);
      assert.match(shown, /f:team: \{\}/);
      const conflict = await kc(
        'apply',
        '--server-side',
        '--field-manager',
        'other',
        '-f',
        manifest('applied', 'three', { team: 'a' }),
      ).catch((e: { stderr: string }) => e.stderr);
      assert.match(conflict, /Apply failed with 1 conflict: conflict with "kubectl": \.data\.k/);
      await kc(
        'apply',
        '--server-side',
        '--field-manager',
        'other',
        '--force-conflicts',
        '-f',
        manifest('applied', 'three', { team: 'a' }),
      );
      assert.equal(k8s.getSecret('ssa', 'applied')?.data?.['k'], Buffer.from('three').toString('base64'));
      // A Secret the provider wrote: kubectl applies a label of its own, the provider still reads it.
      const provider = await createStorageProvider({ provider: 'kubernetes', kubeconfigPath: kubeconfig });
      const data = {
        version: 1 as const,
        keyId: 'k',
        nonce: Buffer.alloc(12, 1),
        ciphertext: Buffer.from('c'),
        tag: Buffer.alloc(16, 2),
      };
      const { createMetadata } = await import('../../src/core/metadata.js');
      await provider.store('from_provider', data, createMetadata({ tags: { env: 'prod' } }));
      const name = (provider as unknown as { secretName(id: string): string }).secretName('from_provider');
      const labelled = `${home}/label.yaml`;
      fs.writeFileSync(
        labelled,
        `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\n  labels:\n    owner: ops\n`,
      );
      await kc('apply', '--server-side', '--field-manager', 'ops', '-f', labelled);
      assert.equal(k8s.getSecret('ssa', name)?.metadata.labels?.['owner'], 'ops');
      const back = await provider.retrieve('from_provider');
      assert.deepEqual(back.metadata.tags, { env: 'prod' });
      assert.ok(Buffer.from(back.data.ciphertext).equals(Buffer.from('c')));
      await provider.close();
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
