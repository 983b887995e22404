import assert from 'node:assert/strict';
import type { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { ManualClock } from '../../src/core/clock.js';
import type { EncryptedData } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import { createMetadata } from '../../src/core/metadata.js';
import { SecretString } from '../../src/core/secret-string.js';
import { createStorageProvider } from '../../src/providers/factory.js';
import { type HashiCorpVaultOptions, HashiCorpVaultProvider } from '../../src/providers/hashicorp-vault.js';
import { createTestCertificateAuthority } from '../../src/testing/emulator-kit/tls.js';
import { cliEmulator, VaultEmulator, type VaultEmulatorOptions } from '../../src/testing/emulators/vault.js';

const data = (text = 'value'): EncryptedData => ({
  version: 1,
  keyId: 'unit0000',
  nonce: randomBytes(12),
  ciphertext: Buffer.from(text),
  tag: randomBytes(16),
});

const started: { stop(): Promise<void> }[] = [];
after(async () => {
  for (const s of started) await s.stop();
});

async function emulator(options: VaultEmulatorOptions = {}): Promise<VaultEmulator> {
  const vault = new VaultEmulator(options);
  await vault.start();
  started.push(vault);
  return vault;
}

function provider(
  vault: VaultEmulator,
  options: Partial<HashiCorpVaultOptions> = {},
): HashiCorpVaultProvider {
  return new HashiCorpVaultProvider({
    address: vault.url,
    auth: { token: vault.rootToken },
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
    ...options,
  } as HashiCorpVaultOptions);
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof StorageError, inspect(error));
    assert.equal(error.code, code, `${error.code}: ${error.message}`);
    return error;
  }
  assert.fail(`expected ${code}`);
}

/** Requests made by `fn`, as `METHOD path` lines (LIST shown as the emulator saw it). */
async function traced(vault: VaultEmulator, fn: () => Promise<unknown>): Promise<string[]> {
  const before = vault.requests.length;
  await fn();
  return vault.requests.slice(before).map((r) => `${r.query.get('list') ? 'LIST' : r.method} ${r.path}`);
}

const APP_POLICY = readFileSync(
  new URL('../../../docs/providers/hashicorp-vault.md', import.meta.url),
  'utf8',
)
  .split('```hcl')[1]!
  .split('```')[0]!;

describe('HashiCorpVaultProvider options', () => {
  it('collects every problem into one InvalidConfig, before any I/O', () => {
    const error = (() => {
      try {
        new HashiCorpVaultProvider({
          address: 'http://vault:8200',
          auth: {} as never,
          deleteMode: 'purge' as never,
          tls: { ca: 'not a pem' },
          mount: '../x',
          renewTreshold: 5,
        } as never);
      } catch (e) {
        return e as StorageError;
      }
      assert.fail('expected InvalidConfig');
    })();
    assert.equal(error.code, 'InvalidConfig');
    const paths = (error.details.issues ?? []).map((i) => i.path).sort();
    assert.deepEqual(paths, ['address', 'auth', 'deleteMode', 'mount', 'renewTreshold', 'tls.ca']);
    assert.match(error.message, /dangerouslyAllowInsecureHttp/);
  });

  it('accepts https with defaults and keeps the token out of inspect and JSON', () => {
    const token = `hvs.${randomBytes(20).toString('hex')}`;
    const p = new HashiCorpVaultProvider({ address: 'https://vault.example:8200', auth: { token } });
    assert.equal(p.capabilities.maxCredentialSize, 1024 * 1024);
    assert.equal(p.capabilities.versioning, true);
    assert.equal(p.capabilities.softDelete, false);
    assert.ok(!inspect(p, { depth: 8 }).includes(token));
    assert.ok(!JSON.stringify(p).includes(token));
    const roleId = randomBytes(16).toString('hex');
    const secretId = randomBytes(16).toString('hex');
    const soft = new HashiCorpVaultProvider({
      address: 'https://vault.example:8200',
      auth: { appRole: { roleId, secretId: new SecretString(secretId) } },
      deleteMode: 'soft',
    });
    assert.equal(soft.capabilities.softDelete, true);
    for (const text of [inspect(soft, { depth: 8 }), JSON.stringify(soft)]) {
      assert.ok(!text.includes(roleId) && !text.includes(secretId));
    }
  });
});

describe('HashiCorpVaultProvider against the emulator', () => {
  it('makes the expected requests per operation (no multiplication), over reused keep-alive connections', async () => {
    const vault = await emulator();
    const p = provider(vault);
    assert.deepEqual(await traced(vault, () => p.connect()), ['GET /v1/auth/token/lookup-self']);
    const base = '/v1/secret/metadata/nebula/credentials';
    assert.deepEqual(
      await traced(vault, () => p.store('Api_key', data(), createMetadata({ tags: { env: 'prod' } }))),
      ['POST /v1/secret/data/nebula/credentials/@api_key', `POST ${base}/@api_key`],
    );
    // An overwrite that keeps tags and rotation policy is the data write alone.
    assert.deepEqual(
      await traced(vault, () =>
        p.store('Api_key', data(), createMetadata(), undefined, { keepTags: true, keepRotationPolicy: true }),
      ),
      ['POST /v1/secret/data/nebula/credentials/@api_key'],
    );
    assert.deepEqual(await traced(vault, () => p.retrieve('Api_key')), [
      'GET /v1/secret/data/nebula/credentials/@api_key',
    ]);
    assert.deepEqual(await traced(vault, () => p.exists('Api_key')), [`GET ${base}/@api_key`]);
    assert.deepEqual(await traced(vault, () => p.list()), [`LIST ${base}/`]);
    assert.deepEqual(await traced(vault, () => p.list({ tags: { env: 'prod' } })), [
      `LIST ${base}/`,
      `GET ${base}/@api_key`,
    ]);
    assert.deepEqual(await traced(vault, () => p.delete('Api_key')), [`DELETE ${base}/@api_key`]);
    // undici's pool opens a spare connection while its only one is busy, so sequential calls use two.
    const connections = vault.connections;
    assert.ok(connections <= 2, `${connections} connections for sequential requests`);
    for (let i = 0; i < 20; i++) await p.exists('Api_key');
    assert.equal(vault.connections, connections, 'requests did not reuse the keep-alive connections');
    // The data lands where `vault kv get -mount=secret nebula/credentials/<name>` finds it.
    await p.store('plain', data('x'), createMetadata());
    const stored = vault.readSecret('nebula/credentials/plain') as Record<string, unknown>;
    assert.equal(stored.format, 'nebula-credential/v1');
    await p.close();
  });

  it('fails connect with Unavailable when nothing listens, within the connect deadline', async () => {
    const vault = await emulator();
    const p = provider(vault);
    await vault.stop();
    const error = await rejectsWith(p.connect(), 'Unavailable');
    assert.equal(error.details.backendCode, 'ECONNREFUSED');
    assert.ok(Number(error.details.attempts) > 1, 'refused connections are retried');
  });

  it('fails connect fast with AuthenticationFailed for an invalid token, with one request', async () => {
    const vault = await emulator();
    const p = provider(vault, { auth: { token: 'hvs.not-a-token' } });
    const error = await rejectsWith(p.connect(), 'AuthenticationFailed');
    assert.equal(error.retryable, false);
    assert.equal(vault.count(), 1);
    assert.ok(!error.message.includes('hvs.not-a-token'));
  });

  it('surfaces versions: retrieve returns the version, history and the listing variant', async () => {
    const vault = await emulator();
    vault.configureMount({ maxVersions: 3 });
    const p = provider(vault);
    for (let i = 1; i <= 4; i++)
      await p.store('rotated', data(`v${i}`), createMetadata({ tags: { n: String(i) } }));
    const latest = await p.retrieve('rotated');
    assert.equal(latest.version, '4');
    assert.equal(Buffer.from(latest.data.ciphertext).toString(), 'v4');
    const history = await p.versionHistory('rotated');
    assert.equal(history.currentVersion, 4);
    assert.equal(history.oldestVersion, 2);
    assert.deepEqual(
      history.versions.map((v) => v.version),
      [2, 3, 4],
    );
    assert.equal(Buffer.from((await p.retrieveVersion('rotated', 2)).data.ciphertext).toString(), 'v2');
    await rejectsWith(p.retrieveVersion('rotated', 1), 'NotFound');
    await p.store('other', data(), createMetadata({ tags: { team: 'web' } }));
    const summaries = await p.listWithVersions();
    assert.deepEqual(
      summaries.map((s) => [s.id, s.version, s.tags]),
      [
        ['other', 1, { team: 'web' }],
        ['rotated', 4, { n: '4' }],
      ],
    );
    await rejectsWith(p.versionHistory('missing'), 'NotFound');
    await p.close();
  });

  it('soft delete mode deletes only the latest version, which undelete brings back', async () => {
    const vault = await emulator();
    const p = provider(vault, { deleteMode: 'soft' });
    await p.store('soft', data('one'), createMetadata());
    await p.store('soft', data('two'), createMetadata());
    await p.delete('soft');
    assert.equal(await p.exists('soft'), false);
    assert.deepEqual(await p.list(), []);
    await rejectsWith(p.retrieve('soft'), 'NotFound');
    const history = await p.versionHistory('soft');
    assert.ok(history.versions.find((v) => v.version === 2)?.deletedAt instanceof Date);
    assert.equal(Buffer.from((await p.retrieveVersion('soft', 1)).data.ciphertext).toString(), 'one');
    const res = await fetch(`${vault.url}/v1/secret/undelete/nebula/credentials/soft`, {
      method: 'POST',
      headers: { 'x-vault-token': vault.rootToken },
      body: JSON.stringify({ versions: [2] }),
    });
    assert.equal(res.status, 204);
    assert.equal(await p.exists('soft'), true);
    assert.equal(Buffer.from((await p.retrieve('soft')).data.ciphertext).toString(), 'two');
    await p.close();
  });

  it('check-and-set: a concurrent writer makes the slower store fail with Conflict; cas_required needs it', async () => {
    const vault = await emulator();
    const p1 = provider(vault, { checkAndSet: true });
    const p2 = provider(vault, { checkAndSet: true });
    await p1.store('cas', data('base'), createMetadata());
    assert.equal(
      (await traced(vault, () => p1.store('cas', data('again'), createMetadata()))).length,
      2,
      'a cas store is the metadata read and the data write (the metadata does not change)',
    );
    const slowBody = Buffer.from('slow').toString('base64');
    const isSlowWrite = (r: { method: string; path: string; body: Buffer }) =>
      r.method === 'POST' && r.path.includes('/data/') && r.body.includes(slowBody);
    // Hold the slow writer's data write (already carrying its cas) until the fast writer has finished.
    vault.faults.add({ action: { kind: 'delay', ms: 1500 }, match: isSlowWrite });
    const slow = p1.store('cas', data('slow'), createMetadata());
    while (!vault.requests.some(isSlowWrite)) await new Promise((r) => setTimeout(r, 5));
    await p2.store('cas', data('fast'), createMetadata());
    const error = await rejectsWith(slow, 'Conflict');
    assert.equal(error.retryable, false);
    assert.equal(Buffer.from((await p1.retrieve('cas')).data.ciphertext).toString(), 'fast');

    vault.configureMount({ casRequired: true });
    const plain = provider(vault);
    await rejectsWith(plain.store('cas', data(), createMetadata()), 'InvalidConfig');
    await p1.store('cas', data('with cas'), createMetadata());
    for (const x of [p1, p2, plain]) await x.close();
  });

  it('refuses tags beyond custom_metadata limits and oversize requests with no request sent', async () => {
    const vault = await emulator();
    const p = provider(vault, { maxRequestBytes: 4096 });
    await p.connect();
    const before = vault.count();
    const tooMany = Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`k${i}`, 'v']));
    const e1 = await rejectsWith(p.store('t', data(), createMetadata({ tags: tooMany })), 'InvalidMetadata');
    assert.match(e1.message, /63 tags, the limit is 62/);
    await rejectsWith(
      p.store('t', data(), createMetadata({ tags: { ['k'.repeat(129)]: 'v' } })),
      'InvalidMetadata',
    );
    await rejectsWith(
      p.store('t', data(), createMetadata({ tags: { k: 'v'.repeat(513) } })),
      'InvalidMetadata',
    );
    await rejectsWith(
      p.store('t', data(), createMetadata({ tags: { 'nebula:created': 'x' } })),
      'InvalidMetadata',
    );
    await rejectsWith(p.store('t', data(), createMetadata({ tags: { k: 'tab\there' } })), 'InvalidMetadata');
    const big = await rejectsWith(
      p.store(
        't',
        data(),
        createMetadata({
          tags: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'x'.repeat(500)])),
        }),
      ),
      'SizeLimitExceeded',
    );
    assert.equal(big.details.limit, 4096);
    assert.equal(vault.count(), before, 'a refused store reached Vault');
    await p.close();
  });
});

describe('HashiCorpVaultProvider token lifecycle (emulator clock)', () => {
  it('renews a renewable token once its TTL drops below the threshold, before the next operation', async () => {
    const clock = new ManualClock();
    const vault = await emulator({ clock });
    const token = vault.createToken({ policies: ['app'], ttl: 2 * 3600 });
    vault.writePolicy('app', APP_POLICY);
    const p = provider(vault, { auth: { token }, clock });
    await p.connect();
    assert.equal(p.tokenState?.expiresAt, clock.now() + 2 * 3600_000);
    await p.store('k', data(), createMetadata());
    assert.equal(p.authRequests.renew, 0);
    await clock.advance(90 * 60_000);
    assert.deepEqual(await traced(vault, () => p.retrieve('k')), [
      'POST /v1/auth/token/renew-self',
      'GET /v1/secret/data/nebula/credentials/k',
    ]);
    assert.equal(p.tokenState?.expiresAt, clock.now() + 2 * 3600_000);
    assert.equal((await traced(vault, () => p.retrieve('k'))).length, 1, 'renewed again without need');
    await p.close();
  });

  it('a static token at its max TTL keeps working, then fails with AuthenticationFailed naming the expiry', async () => {
    const clock = new ManualClock();
    const vault = await emulator({ clock });
    vault.writePolicy('app', APP_POLICY);
    const token = vault.createToken({ policies: ['app'], ttl: 2 * 3600, explicitMaxTtl: 2.4 * 3600 });
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn: (_f: unknown, m?: string) => warnings.push(m ?? ''),
    };
    const p = provider(vault, { auth: { token }, clock, logger });
    await p.connect();
    await p.store('k', data(), createMetadata());
    await clock.advance(90 * 60_000);
    await p.retrieve('k'); // renewal capped at the max TTL: 54 min left, below the threshold
    assert.equal(p.authRequests.renew, 1);
    assert.equal(warnings.length, 1);
    await clock.advance(61 * 60_000);
    const before = vault.count();
    const error = await rejectsWith(p.retrieve('k'), 'AuthenticationFailed');
    assert.match(error.message, /expired at 2026-01-01T02:24:00\.000Z/);
    assert.equal(error.details.expiredAt, '2026-01-01T02:24:00.000Z');
    assert.equal(vault.count(), before, 'a request was sent with an expired token');
    await p.close();
  });

  it('a non-renewable static token is not renewed and fails clearly after expiry', async () => {
    const clock = new ManualClock();
    const vault = await emulator({ clock });
    vault.writePolicy('app', APP_POLICY);
    const token = vault.createToken({ policies: ['app'], ttl: 1800, renewable: false });
    const p = provider(vault, { auth: { token }, clock });
    await p.connect();
    await p.store('k', data(), createMetadata());
    assert.equal(p.authRequests.renew, 0);
    await clock.advance(1801_000);
    const error = await rejectsWith(p.retrieve('k'), 'AuthenticationFailed');
    assert.match(error.message, /not renewable/);
    await p.close();
  });

  it('AppRole logs in at connect, renews, and logs in again at the max TTL or after revocation', async () => {
    // autoAdvance: the retry after the revoked token's 403 sleeps on this clock.
    const clock = new ManualClock(Date.UTC(2026, 0, 1), { autoAdvance: true });
    const vault = await emulator({ clock });
    vault.writePolicy('app', APP_POLICY);
    const { roleId, secretId } = vault.createAppRole('nebula', {
      policies: ['app'],
      tokenTtl: 7200,
      tokenMaxTtl: 3 * 3600,
    });
    const p = provider(vault, { auth: { appRole: { roleId, secretId } }, clock });
    assert.deepEqual(await traced(vault, () => p.connect()), ['POST /v1/auth/approle/login']);
    await p.store('k', data(), createMetadata());
    await clock.advance(90 * 60_000);
    await p.retrieve('k');
    assert.deepEqual(p.authRequests, { lookup: 0, renew: 1, login: 1 });
    await clock.advance(70 * 60_000); // 40 min left, max TTL 3 h leaves 20 min more: renewal cannot reach 1 h
    await p.retrieve('k');
    assert.deepEqual(p.authRequests, { lookup: 0, renew: 2, login: 2 });
    // A revoked token: the 403 is checked with lookup-self, then a fresh login and the retried read.
    const loginBody = JSON.parse(
      vault.requests
        .filter((r) => r.path.endsWith('/login'))
        .at(-1)!
        .body.toString(),
    );
    assert.equal(loginBody.role_id, roleId);
    const current = vault.requests.at(-1)!.headers['x-vault-token'] as string;
    vault.revokeToken(current);
    assert.deepEqual(await traced(vault, () => p.retrieve('k')), [
      'GET /v1/secret/data/nebula/credentials/k',
      'GET /v1/auth/token/lookup-self',
      'POST /v1/auth/approle/login',
      'GET /v1/secret/data/nebula/credentials/k',
    ]);
    await p.close();
  });

  it('a wrong AppRole secret fails connect with AuthenticationFailed', async () => {
    const vault = await emulator();
    const { roleId } = vault.createAppRole('nebula');
    const p = provider(vault, { auth: { appRole: { roleId, secretId: 'wrong' } } });
    await rejectsWith(p.connect(), 'AuthenticationFailed');
  });
});

describe('HashiCorpVaultProvider errors', () => {
  it('policy denial is PermissionDenied with the denied path and capability; a revoked token is AuthenticationFailed', async () => {
    const vault = await emulator();
    vault.writePolicy('reader', 'path "secret/data/nebula/credentials/*" { capabilities = ["read"] }');
    const token = vault.createToken({ policies: ['reader'] });
    const p = provider(vault, { auth: { token } });
    await p.connect();
    const before0 = vault.count();
    const error = await rejectsWith(p.store('denied', data(), createMetadata()), 'PermissionDenied');
    assert.equal(vault.count() - before0, 2, 'the denied write and one lookup-self');
    assert.equal(error.details.path, 'secret/data/nebula/credentials/denied');
    assert.deepEqual(error.details.capabilities, ['create', 'update']);
    assert.equal(error.retryable, false);
    assert.match(error.message, /"create" or "update" on "secret\/data\/nebula\/credentials\/denied"/);
    const listError = await rejectsWith(p.list(), 'PermissionDenied');
    assert.deepEqual(listError.details.capabilities, ['list']);
    const before = vault.count();
    await rejectsWith(p.list(), 'PermissionDenied');
    assert.equal(vault.count() - before, 2, 'denied LIST plus one lookup-self, never retried');
    vault.revokeToken(token);
    const auth = await rejectsWith(p.retrieve('denied'), 'AuthenticationFailed');
    assert.equal(auth.retryable, false);
    await p.close();
  });

  it('a mount that does not exist is InvalidConfig, not NotFound', async () => {
    const vault = await emulator();
    const p = provider(vault, { mount: 'kv-missing' });
    const error = await rejectsWith(p.retrieve('x'), 'InvalidConfig');
    assert.match(error.message, /mount/);
    await rejectsWith(p.exists('x'), 'InvalidConfig');
    await p.close();
  });

  it('the documented policy is enough for every operation', async () => {
    const vault = await emulator();
    vault.writePolicy('nebula', APP_POLICY);
    const p = provider(vault, { auth: { token: vault.createToken({ policies: ['nebula'] }) } });
    await p.store('k', data(), createMetadata({ tags: { a: 'b' } }));
    await p.retrieve('k');
    assert.deepEqual(await p.list({ tags: { a: 'b' } }), ['k']);
    await p.versionHistory('k');
    await p.listWithVersions();
    await p.delete('k');
    assert.equal(await p.exists('k'), false);
    const soft = provider(vault, {
      auth: { token: vault.createToken({ policies: ['nebula'] }) },
      deleteMode: 'soft',
      checkAndSet: true,
    });
    await soft.store('k', data(), createMetadata());
    await soft.delete('k');
    for (const x of [p, soft]) await x.close();
  });

  it('namespaces isolate credentials and tokens (X-Vault-Namespace)', async () => {
    const vault = await emulator();
    vault.createNamespace('team-a');
    vault.createNamespace('team-b');
    const a = provider(vault, { namespace: 'team-a/' });
    const b = provider(vault, { namespace: 'team-b' });
    await a.store('shared_name', data('a'), createMetadata());
    assert.deepEqual(await a.list(), ['shared_name']);
    assert.deepEqual(await b.list(), []);
    await rejectsWith(b.retrieve('shared_name'), 'NotFound');
    assert.equal(vault.requests.at(-1)!.headers['x-vault-namespace'], 'team-b');
    assert.equal(
      vault.readSecret('nebula/credentials/shared_name', { namespace: 'team-a' }) !== undefined,
      true,
    );
    assert.equal(vault.readSecret('nebula/credentials/shared_name'), undefined);
    vault.writePolicy('app', APP_POLICY, 'team-a');
    const teamToken = vault.createToken({ namespace: 'team-a', policies: ['app'] });
    const scoped = provider(vault, { namespace: 'team-a', auth: { token: teamToken } });
    assert.equal(Buffer.from((await scoped.retrieve('shared_name')).data.ciphertext).toString(), 'a');
    const outside = provider(vault, { namespace: 'team-b', auth: { token: teamToken } });
    await rejectsWith(outside.connect(), 'AuthenticationFailed');
    for (const x of [a, b, scoped]) await x.close();
  });

  it('sealed and standby answers are Unavailable, retried with jitter, and succeed once Vault is back', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1), { autoAdvance: true });
    const vault = await emulator();
    const p = provider(vault, { clock, retry: { maxRetries: 3, baseDelayMs: 100, jitter: 0.2 } });
    await p.store('k', data(), createMetadata());
    vault.sealed = true;
    const before = vault.count();
    const sealed = await rejectsWith(p.retrieve('k'), 'Unavailable');
    assert.equal(sealed.retryable, true);
    assert.equal(sealed.details.backendCode, 'sealed');
    assert.equal(sealed.details.attempts, 4);
    assert.equal(vault.count() - before, 4, 'one request per attempt');
    const delays = clock.sleeps.slice(-3);
    [100, 200, 400].forEach((base, i) => {
      assert.ok(
        delays[i]! >= base * 0.8 && delays[i]! <= base * 1.2,
        `delay ${delays[i]} outside ${base}±20%`,
      );
    });
    vault.sealed = false;
    vault.standby = true;
    const standby = await rejectsWith(p.retrieve('k'), 'Unavailable');
    assert.equal(standby.details.backendCode, 'standby');
    vault.standby = false;
    vault.faults.add({
      action: { kind: 'status', status: 503, body: { errors: ['Vault is sealed'] } },
      times: 2,
    });
    const t = await traced(vault, () => p.retrieve('k'));
    assert.equal(t.length, 3);
    await p.close();
  });

  it('a sealed Vault at connect is Unavailable, retried per policy; connect succeeds once unsealed', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1), { autoAdvance: true });
    const vault = await emulator();
    vault.sealed = true;
    const p = provider(vault, { clock, retry: { maxRetries: 2, baseDelayMs: 10 } });
    const before = vault.count();
    const sealed = await rejectsWith(p.connect(), 'Unavailable');
    assert.equal(sealed.retryable, true);
    assert.equal(sealed.operation, 'connect');
    assert.equal(sealed.details.backendCode, 'sealed');
    assert.equal(sealed.details.attempts, 3);
    assert.equal(vault.count() - before, 3, 'one lookup-self per attempt');
    vault.sealed = false;
    vault.faults.add({
      action: { kind: 'status', status: 503, body: { errors: ['Vault is sealed'] } },
      times: 2,
    });
    const t = await traced(vault, () => p.connect());
    assert.deepEqual(t, Array(3).fill('GET /v1/auth/token/lookup-self'));
    await p.store('k', data(), createMetadata());
    await p.close();
  });

  it('retries 429 (honouring Retry-After), 5xx and resets; times out a hung request', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1), { autoAdvance: true });
    const vault = await emulator();
    const p = provider(vault, { clock, retry: { maxRetries: 2, baseDelayMs: 10 } });
    await p.store('k', data(), createMetadata());
    vault.faults.add({
      action: {
        kind: 'status',
        status: 429,
        headers: { 'retry-after': '2' },
        body: { errors: ['request path "secret/data/x": rate limit quota exceeded'] },
      },
    });
    assert.equal((await traced(vault, () => p.retrieve('k'))).length, 2);
    assert.equal(clock.sleeps.at(-1), 2000);
    vault.faults.add({ action: { kind: 'status', status: 502 } });
    vault.faults.add({ action: { kind: 'reset' } });
    assert.equal((await traced(vault, () => p.retrieve('k'))).length, 3);
    vault.faults.add({
      action: { kind: 'status', status: 500, body: { errors: ['internal error'] } },
      times: 3,
    });
    const e = await rejectsWith(p.retrieve('k'), 'Unavailable');
    assert.equal(e.details.attempts, 3);
    await p.close();

    const hung = provider(vault, { timeouts: { readMs: 150 } });
    await hung.connect();
    vault.faults.add({ action: { kind: 'hang' } });
    const before = vault.count();
    const timeout = await rejectsWith(hung.retrieve('k'), 'Timeout');
    assert.equal(timeout.details.durationMs, 150);
    assert.equal(vault.count() - before, 1);
    await hung.close();
  });

  it('destroys a hung request at the deadline, so its socket does not stay taken', async () => {
    const vault = await emulator();
    // One socket: the next call can only go out if the hung request was destroyed, not left to the pool.
    const p = provider(vault, { timeouts: { readMs: 200 }, maxSockets: 1 });
    await p.store('k', data('v'), createMetadata());
    vault.faults.add({ action: { kind: 'hang' } });
    const connections = vault.connections;
    await rejectsWith(p.retrieve('k'), 'Timeout');
    assert.equal(Buffer.from((await p.retrieve('k')).data.ciphertext).toString(), 'v');
    assert.equal(vault.connections, connections + 1, 'a new connection replaces the destroyed one');
    await p.close();
  });
});

describe('HashiCorpVaultProvider TLS', () => {
  it('connects with the right CA (file or PEM), refuses a wrong CA and a missing one', async () => {
    const vault = await emulator({ tls: true });
    const caFile = vault.writeCaFile()!;
    const right = provider(vault, { tls: { caFile } });
    await right.store('tls', data(), createMetadata());
    assert.equal((await right.retrieve('tls')).version, '1');
    await right.close();

    const other = createTestCertificateAuthority();
    for (const tls of [{ ca: other.caCertPem }, {}]) {
      const wrong = provider(vault, { tls, retry: { maxRetries: 3 } });
      const before = vault.count();
      // An untrusted certificate is a configuration problem on every provider, not an outage.
      const error = await rejectsWith(wrong.connect(), 'InvalidConfig');
      assert.equal(error.retryable, false);
      assert.equal(error.details.attempts, 1);
      assert.match(String(error.details.backendCode), /CERT|SELF_SIGNED|VERIFY/);
      assert.match(error.message, /tls\.caFile/);
      assert.equal(vault.count(), before, 'a request went through an unverified connection');
    }
    const insecure = provider(vault, { tls: { rejectUnauthorized: false } });
    await insecure.connect();
    await insecure.close();
    const missing = provider(vault, { tls: { caFile: join(tmpdir(), 'no-such-ca.pem') } });
    await rejectsWith(missing.connect(), 'InvalidConfig');
  });

  it('the CLI emulator prints a config that createStorageProvider accepts as it is', async () => {
    const running = await cliEmulator.start({});
    started.push(running);
    const { info } = running;
    assert.equal(info.service, 'vault');
    assert.match(String(info.endpoint), /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(typeof info.token, 'string');
    assert.ok(readFileSync(String(info.caCertPath), 'utf8').includes('BEGIN CERTIFICATE'));
    const p = await createStorageProvider(JSON.parse(JSON.stringify(info.config)));
    await p.store('from_cli', data(), createMetadata());
    assert.deepEqual(await p.list(), ['from_cli']);
    await p.close();
  });
});

describe('HashiCorpVaultProvider process lifetime', () => {
  it('keeps no timer or socket that holds the process open after use without close()', async () => {
    const vault = await emulator();
    const dir = mkdtempSync(join(tmpdir(), 'nebula-vault-exit-'));
    const module = new URL('../../src/providers/hashicorp-vault.js', import.meta.url).href;
    const core = new URL('../../src/core/metadata.js', import.meta.url).href;
    const script = join(dir, 'client.mjs');
    writeFileSync(
      script,
      `import { HashiCorpVaultProvider } from ${JSON.stringify(module)};
import { createMetadata } from ${JSON.stringify(core)};
const p = new HashiCorpVaultProvider({ address: ${JSON.stringify(vault.url)},
  auth: { token: ${JSON.stringify(vault.rootToken)} } });
const d = { version: 1, keyId: 'k', nonce: new Uint8Array(12), ciphertext: new Uint8Array([1]), tag: new Uint8Array(16) };
await p.store('exit_check', d, createMetadata());
await p.retrieve('exit_check');
console.log('done');
`,
    );
    const result = await new Promise<ReturnType<typeof spawnSync>>((resolve) => {
      // Async spawn so the emulator in this process keeps serving.
      import('node:child_process').then(({ spawn }) => {
        const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (c) => {
          out += c;
        });
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.on('exit', (status, signal) => {
          clearTimeout(killer);
          resolve({ status, signal, stdout: out } as never);
        });
      });
    });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(String(result.stdout).trim(), 'done');
    assert.equal(result.signal, null, 'the process had to be killed: something kept it alive');
    assert.equal(result.status, 0);
  });
});
