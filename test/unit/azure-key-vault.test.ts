import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { ManualClock } from '../../src/core/clock.js';
import type { EncryptedData } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import { createMetadata } from '../../src/core/metadata.js';
import { encodeCredentialName } from '../../src/core/name-mapping.js';
import { type AzureKeyVaultOptions, AzureKeyVaultProvider } from '../../src/providers/azure-key-vault.js';
import { createStorageProvider } from '../../src/providers/factory.js';
import { AzureKeyVaultEmulator, cliEmulator } from '../../src/testing/emulators/azure.js';
import { withEnv } from './env-helpers.js';

const data = (text = 'value'): EncryptedData => ({
  version: 1,
  keyId: 'k1',
  nonce: randomBytes(12),
  ciphertext: Buffer.from(text),
  tag: randomBytes(16),
});

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof StorageError, `expected StorageError ${code}, got ${String(error)}`);
    assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
    return error;
  }
  return assert.fail(`expected ${code}, but the call succeeded`);
}

function secretOptions(emulator: AzureKeyVaultEmulator, extra: Partial<AzureKeyVaultOptions> = {}) {
  return {
    vaultUrl: emulator.vaultUrl,
    credential: {
      type: 'client-secret' as const,
      tenantId: emulator.tenantId,
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
    },
    authorityHost: emulator.authorityHost,
    tls: { caFile: emulator.caCertPath },
    ...extra,
  } satisfies AzureKeyVaultOptions;
}

/** A raw https GET to the emulator, trusting its CA. */
export async function httpsGet(
  emulator: AzureKeyVaultEmulator,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(`${emulator.vaultUrl}${path}`, { ca: emulator.ca.caCertPem, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const MI_VARS = [
  'IDENTITY_ENDPOINT',
  'IDENTITY_HEADER',
  'IDENTITY_SERVER_THUMBPRINT',
  'MSI_ENDPOINT',
  'MSI_SECRET',
  'IMDS_ENDPOINT',
  'AZURE_POD_IDENTITY_AUTHORITY_HOST',
];
const clearedMi = Object.fromEntries(MI_VARS.map((k) => [k, undefined]));
const vaultCalls = (e: AzureKeyVaultEmulator, method?: string) =>
  e.vaultRequests((r) => r.headers.authorization !== undefined && (!method || r.method === method)).length;

describe('azure-key-vault: managed identity, no explicit credentials', () => {
  // MSAL keeps the managed identity source and its tokens in process-wide statics, so this file uses one
  // emulator (App Service style) for every managed identity test. MSAL judges expiry by the wall clock while
  // the emulator and the provider share a manual clock: lifetimes plus clock moves stay under MSAL's
  // 5-minute renewal margin, so MSAL fetches a new token whenever the provider asks for one. The IMDS style
  // runs in its own file (its own process).
  const clock = new ManualClock(Date.now());
  let emulator: AzureKeyVaultEmulator;
  before(async () => {
    emulator = await new AzureKeyVaultEmulator({ clock, tokenLifetimeSeconds: 100 }).start();
  });
  after(() => emulator.stop());
  const miProvider = (clientId?: string) =>
    new AzureKeyVaultProvider({
      vaultUrl: emulator.vaultUrl,
      credential: clientId ? { type: 'managed-identity', clientId } : { type: 'managed-identity' },
      tls: { caFile: emulator.caCertPath },
      clock,
    });

  it('authenticates through the App Service endpoint (IDENTITY_ENDPOINT/IDENTITY_HEADER)', async () => {
    await withEnv({ ...clearedMi, ...emulator.appServiceEnvironment() }, async () => {
      const provider = miProvider();
      await provider.store(
        'mi_secret',
        data('from managed identity'),
        createMetadata({ tags: { via: 'mi' } }),
      );
      const back = await provider.retrieve('mi_secret');
      assert.equal(Buffer.from(back.data.ciphertext).toString(), 'from managed identity');
      const request = emulator.identity.requests.at(-1)!;
      assert.equal(request.path, '/msi/token');
      assert.equal(request.headers['x-identity-header'], emulator.identityHeader);
      assert.equal(request.query.get('resource'), 'https://vault.azure.net');
      assert.equal(request.query.get('client_id'), null, 'system-assigned: no client id');
      await provider.close();
    });
  });

  it('uses a user-assigned identity by client id', async () => {
    const clientId = emulator.addUserAssignedIdentity(['Key Vault Secrets User']);
    await withEnv({ ...clearedMi, ...emulator.appServiceEnvironment() }, async () => {
      const provider = miProvider(clientId);
      assert.equal(await provider.exists('mi_secret'), true);
      assert.equal(emulator.identity.requests.at(-1)!.query.get('client_id'), clientId);
      // Its role allows reading only.
      const denied = await rejectsWith(
        provider.store('mi_other', data(), createMetadata()),
        'PermissionDenied',
      );
      assert.equal(denied.details.requiredRole, 'Key Vault Secrets Officer');
      await provider.close();
    });
  });

  it('fails connect() with AuthenticationFailed when the identity is unknown', async () => {
    await withEnv({ ...clearedMi, ...emulator.appServiceEnvironment() }, async () => {
      const provider = miProvider('11111111-2222-3333-4444-555555555555');
      const error = await rejectsWith(provider.connect(), 'AuthenticationFailed');
      assert.match(error.message, /managed-identity/);
      await provider.close();
    });
  });

  it('refreshes a token that expires between operations, before the next operation', async () => {
    await withEnv({ ...clearedMi, ...emulator.appServiceEnvironment() }, async () => {
      const provider = miProvider();
      await provider.store('rotating', data('one'), createMetadata());
      const issued = emulator.tokens.issued;
      const authorized = () => emulator.vaultRequests((r) => r.headers.authorization !== undefined).length;
      const refused = () => emulator.vaultRequests((r) => r.headers.authorization !== undefined).length;
      // Past the refresh point (half of the short lifetime) but before expiry: replaced ahead of time.
      await clock.advance(60_000);
      let before = authorized();
      assert.equal(Buffer.from((await provider.retrieve('rotating')).data.ciphertext).toString(), 'one');
      assert.equal(emulator.tokens.issued, issued + 1, 'a new token was fetched before the operation');
      assert.equal(authorized() - before, 1, 'one request, no 401 and replay');
      // Past the expiry of every token so far: the old one would be refused, the operation still succeeds
      // at its first request because the token is replaced before it.
      await clock.advance(120_000);
      before = authorized();
      assert.equal(await provider.exists('rotating'), true);
      assert.equal(emulator.tokens.issued, issued + 2);
      assert.equal(authorized() - before, 1, 'the vault never saw an expired token');
      assert.ok(refused() > 0);
      await provider.close();
    });
  });

  it('the vault refuses an expired token with 401 and the challenge', async () => {
    const { token } = emulator.tokens.issue(emulator.directory.systemIdentity, 'https://vault.azure.net');
    await clock.advance(101_000);
    const response = await httpsGet(emulator, '/secrets?api-version=7.5', {
      authorization: `Bearer ${token}`,
    });
    assert.equal(response.status, 401);
    assert.match(
      String(response.headers['www-authenticate']),
      /^Bearer authorization="https:\/\/login\.microsoftonline\.com\//,
    );
    assert.equal((JSON.parse(response.body) as { error: { code: string } }).error.code, 'Unauthorized');
  });
});

describe('azure-key-vault: service principal, workload identity, custom TokenCredential', () => {
  let emulator: AzureKeyVaultEmulator;
  before(async () => {
    emulator = await new AzureKeyVaultEmulator().start();
  });
  after(() => emulator.stop());

  it('fails connect() with AuthenticationFailed for a wrong client secret, without leaking it', async () => {
    const provider = new AzureKeyVaultProvider(
      secretOptions(emulator, {
        credential: {
          type: 'client-secret',
          tenantId: emulator.tenantId,
          clientId: emulator.clientId,
          clientSecret: 'wrong-secret-value-123',
        },
      }),
    );
    const error = await rejectsWith(provider.connect(), 'AuthenticationFailed');
    assert.ok(!JSON.stringify(error).includes('wrong-secret-value-123'));
    assert.ok(!error.message.includes('wrong-secret-value-123'));
    assert.ok(!inspect(error, { depth: 10 }).includes('wrong-secret-value-123'));
    await provider.close();
  });

  it('fails connect() with AuthenticationFailed when the vault names another tenant (tenant trap)', async () => {
    const provider = new AzureKeyVaultProvider(
      secretOptions(emulator, {
        credential: {
          type: 'client-secret',
          tenantId: '00000000-0000-0000-0000-00000000dead',
          clientId: emulator.clientId,
          clientSecret: emulator.clientSecret,
        },
      }),
    );
    const error = await rejectsWith(provider.connect(), 'AuthenticationFailed');
    assert.match(error.message, /AdditionallyAllowedTenants/i);
    await provider.close();
  });

  it('authenticates with workload identity (federated token file)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nebula-wi-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, emulator.directory.federatedToken);
    const provider = new AzureKeyVaultProvider(
      secretOptions(emulator, {
        credential: {
          type: 'workload-identity',
          tenantId: emulator.tenantId,
          clientId: emulator.clientId,
          tokenFilePath: tokenFile,
        },
      }),
    );
    await provider.store('wi_secret', data(), createMetadata());
    assert.deepEqual(await provider.list(), ['wi_secret']);
    await provider.delete('wi_secret');
    await provider.purge('wi_secret');
    await provider.close();
  });

  it('fails connect() with InvalidConfig for an unreadable certificate file', async () => {
    const provider = new AzureKeyVaultProvider(
      secretOptions(emulator, {
        credential: {
          type: 'client-certificate',
          tenantId: emulator.tenantId,
          clientId: emulator.clientId,
          certificatePath: join(tmpdir(), 'nebula-no-such-cert.pem'),
        },
      }),
    );
    const error = await rejectsWith(provider.connect(), 'InvalidConfig');
    assert.equal(error.details.backendCode, 'ENOENT');
    await provider.close();
  });

  it('fails connect() fast with Unavailable when the vault cannot be reached', async () => {
    const provider = new AzureKeyVaultProvider(
      secretOptions(emulator, { vaultUrl: 'https://127.0.0.1:1', retry: { baseDelayMs: 1, maxDelayMs: 5 } }),
    );
    const error = await rejectsWith(provider.connect(), 'Unavailable');
    assert.equal(error.details.backendCode, 'ECONNREFUSED');
    assert.equal(error.details.attempts, 6, 'the core policy retried 5 times; the SDK none');
    await provider.close();
  });

  it('accepts any TokenCredential object', async () => {
    let calls = 0;
    const provider = new AzureKeyVaultProvider({
      vaultUrl: emulator.vaultUrl,
      tls: { caFile: emulator.caCertPath },
      credential: {
        getToken: async () => {
          calls++;
          const t = emulator.tokens.issue(emulator.directory.app, 'https://vault.azure.net');
          return { token: t.token, expiresOnTimestamp: t.exp * 1000 };
        },
      },
    });
    await provider.connect();
    assert.equal(await provider.exists('nothing_here'), false);
    assert.equal(calls, 1, 'the token is cached between operations');
    await provider.close();
  });

  it('refreshes before the operation: a failing refresh fails the operation before any vault request', async () => {
    const clock = new ManualClock(Date.now());
    let fail = false;
    const provider = new AzureKeyVaultProvider({
      vaultUrl: emulator.vaultUrl,
      tls: { caFile: emulator.caCertPath },
      clock,
      credential: {
        getToken: async () => {
          if (fail)
            throw Object.assign(new Error('identity endpoint gone'), { name: 'CredentialUnavailableError' });
          const t = emulator.tokens.issue(emulator.directory.app, 'https://vault.azure.net');
          return { token: t.token, expiresOnTimestamp: clock.now() + 3_600_000 };
        },
      },
    });
    await provider.connect();
    await clock.advance(3_400_000); // inside the 5-minute refresh margin
    fail = true;
    const before = emulator.vault.requests.length;
    const error = await rejectsWith(provider.retrieve('any_id'), 'AuthenticationFailed');
    assert.equal(error.operation, 'retrieve');
    assert.equal(emulator.vault.requests.length, before, 'no request with a token about to expire');
    await provider.close();
  });

  it('connects from the emulator CLI config as it is', async () => {
    const running = await cliEmulator.start({ port: 0 });
    try {
      const info = running.info;
      for (const key of [
        'vaultUrl',
        'authorityHost',
        'tenantId',
        'clientId',
        'clientSecret',
        'identityEndpoint',
        'identityHeader',
        'caCertPath',
      ]) {
        assert.equal(typeof info[key], 'string', key);
      }
      assert.equal(info.service, 'azure');
      const config = JSON.parse(JSON.stringify(info.config)) as {
        provider: 'azure-key-vault';
      } & AzureKeyVaultOptions;
      const provider = await createStorageProvider(config);
      await provider.store('from_cli', data(), createMetadata());
      assert.deepEqual(await provider.list(), ['from_cli']);
      await provider.close();
    } finally {
      await running.stop();
    }
  });
});

describe('azure-key-vault: RBAC, soft delete, limits, paging', () => {
  let emulator: AzureKeyVaultEmulator;
  let provider: AzureKeyVaultProvider;
  before(async () => {
    emulator = await new AzureKeyVaultEmulator().start();
    provider = new AzureKeyVaultProvider(secretOptions(emulator, { pollIntervalMs: 20 }));
    await provider.connect();
  });
  after(async () => {
    await provider.close();
    await emulator.stop();
  });

  it('names the role and data action when RBAC denies, without retrying', async () => {
    await provider.store('rbac_secret', data(), createMetadata());
    emulator.setRoles(emulator.clientId, ['Key Vault Secrets User']);
    try {
      const before = vaultCalls(emulator);
      const denied = await rejectsWith(
        provider.store('rbac_secret', data(), createMetadata()),
        'PermissionDenied',
      );
      assert.equal(denied.details.requiredRole, 'Key Vault Secrets Officer');
      assert.equal(denied.details.action, 'Microsoft.KeyVault/vaults/secrets/setSecret/action');
      assert.equal(denied.details.backendCode, 'ForbiddenByRbac');
      assert.equal(denied.details.status, 403);
      assert.match(denied.message, /Key Vault Secrets Officer/);
      assert.equal(
        vaultCalls(emulator) - before,
        1,
        'the 403 write alone (metadata remembered from the last write), not retried',
      );
      // Reading still works with the User role.
      await provider.retrieve('rbac_secret');
      emulator.setRoles(emulator.clientId, ['Key Vault Reader']);
      const readDenied = await rejectsWith(provider.retrieve('rbac_secret'), 'PermissionDenied');
      assert.equal(readDenied.details.requiredRole, 'Key Vault Secrets User');
      assert.equal(readDenied.details.action, 'Microsoft.KeyVault/vaults/secrets/getSecret/action');
      assert.equal(await provider.exists('rbac_secret'), true, 'exists needs only read-metadata rights');
    } finally {
      emulator.setRoles(emulator.clientId, ['Key Vault Secrets Officer']);
    }
  });

  it('soft-deletes, lists deleted ids, recovers and purges', async () => {
    await provider.store('soft_one', data('keep me'), createMetadata());
    await provider.delete('soft_one');
    assert.equal(await provider.exists('soft_one'), false);
    assert.deepEqual(emulator.deletedSecretNames(), ['soft--one']);
    assert.ok((await provider.listDeleted()).includes('soft_one'));
    await provider.recover('soft_one');
    assert.equal(Buffer.from((await provider.retrieve('soft_one')).data.ciphertext).toString(), 'keep me');
    await provider.delete('soft_one');
    await provider.purge('soft_one');
    assert.ok(!emulator.deletedSecretNames().includes('soft--one'));
    await rejectsWith(provider.recover('soft_one'), 'NotFound');
  });

  it('refuses a purge under purge protection with PermissionDenied', async () => {
    await provider.store('protected', data(), createMetadata());
    await provider.delete('protected');
    emulator.purgeProtection = true;
    try {
      const error = await rejectsWith(provider.purge('protected'), 'PermissionDenied');
      assert.equal(error.details.backendCode, 'PurgeProtectionEnabled');
    } finally {
      emulator.purgeProtection = false;
      await provider.purge('protected');
    }
  });

  it('stores over a soft-deleted name by each policy: recover, purge, fail', async () => {
    // recover (default): the old versions come back, then the new value is written on top.
    await provider.store('policy_r', data('old'), createMetadata());
    await provider.delete('policy_r');
    await provider.store('policy_r', data('new'), createMetadata());
    assert.equal(Buffer.from((await provider.retrieve('policy_r')).data.ciphertext).toString(), 'new');
    assert.equal(
      emulator.secretVersionCount('policy--r'),
      2,
      'the recovered version is kept under the new one',
    );
    assert.ok(
      emulator.vaultRequests((r) => r.method === 'POST' && r.path === '/deletedsecrets/policy--r/recover')
        .length === 1,
    );

    const purging = new AzureKeyVaultProvider(
      secretOptions(emulator, { softDeletePolicy: 'purge', pollIntervalMs: 20 }),
    );
    await purging.store('policy_p', data('old'), createMetadata());
    await purging.delete('policy_p');
    await purging.store('policy_p', data('new'), createMetadata());
    assert.equal(Buffer.from((await purging.retrieve('policy_p')).data.ciphertext).toString(), 'new');
    assert.equal(emulator.secretVersionCount('policy--p'), 1, 'the purged history is gone');
    assert.equal(
      emulator.vaultRequests((r) => r.method === 'DELETE' && r.path === '/deletedsecrets/policy--p').length,
      1,
    );
    await purging.close();

    const failing = new AzureKeyVaultProvider(secretOptions(emulator, { softDeletePolicy: 'fail' }));
    await failing.store('policy_f', data('old'), createMetadata());
    await failing.delete('policy_f');
    const error = await rejectsWith(failing.store('policy_f', data('new'), createMetadata()), 'Conflict');
    assert.equal(error.details.backendCode, 'ObjectIsDeletedButRecoverable');
    assert.match(error.message, /recover\(id\) or purge\(id\)/);
    await failing.close();
  });

  it('mirrors tags and content type; refuses tags past Key Vault limits before any request', async () => {
    const tags = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`t${i}`, `v${i}`]));
    await provider.store('tagged', data(), createMetadata({ tags }));
    const put = emulator.vaultRequests((r) => r.method === 'PUT' && r.path === '/secrets/tagged').at(-1)!;
    const body = JSON.parse(put.body.toString('utf8')) as {
      tags: Record<string, string>;
      contentType: string;
    };
    assert.deepEqual(body.tags, tags);
    assert.match(body.contentType, /^application\/vnd\.nebula-credential\.v1\+json; created=/);
    const before = emulator.vault.requests.length;
    const tooMany = await rejectsWith(
      provider.store('tagged', data(), createMetadata({ tags: { ...tags, extra: 'x' } })),
      'InvalidMetadata',
    );
    assert.equal(tooMany.details.limit, 15);
    await rejectsWith(
      provider.store('tagged', data(), createMetadata({ tags: { ['k'.repeat(513)]: 'v' } })),
      'InvalidMetadata',
    );
    await rejectsWith(
      provider.store('tagged', data(), createMetadata({ tags: { k: 'v'.repeat(257) } })),
      'InvalidMetadata',
    );
    assert.equal(emulator.vault.requests.length, before, 'no request for invalid tags');
  });

  it('refuses an id too long after mapping with InvalidId naming the limit, and applies the prefix', async () => {
    const prefixed = new AzureKeyVaultProvider(secretOptions(emulator, { prefix: 'app1-' }));
    assert.equal(prefixed.capabilities.maxIdBytes, 122);
    const before = emulator.vault.requests.length;
    const error = await rejectsWith(prefixed.retrieve('A'.repeat(70)), 'InvalidId');
    assert.equal(error.details.limit, 127);
    assert.match(error.message, /limit is 127/);
    assert.equal(emulator.vault.requests.length, before);
    await prefixed.store('Mixed_Case', data(), createMetadata());
    assert.ok(
      emulator
        .secretNames()
        .includes(encodeCredentialName('Mixed_Case', 'lowercase-dns', { prefix: 'app1-' })),
    );
    assert.deepEqual(await prefixed.list(), ['Mixed_Case']);
    await prefixed.close();
  });

  it('refuses a document over 25 KB (large metadata) with SizeLimitExceeded before any request', async () => {
    const tags = Object.fromEntries(
      Array.from({ length: 15 }, (_, i) => [`${i}`.padEnd(512, 'k'), 'v'.repeat(256)]),
    );
    const before = emulator.vault.requests.length;
    const big = { ...data(), ciphertext: randomBytes(provider.capabilities.maxCredentialSize) };
    const error = await rejectsWith(
      provider.store('big_meta', big, createMetadata({ tags })),
      'SizeLimitExceeded',
    );
    assert.equal(error.details.limit, 25 * 1024);
    assert.equal(emulator.vault.requests.length, before);
  });

  it('pages through more than 100 secrets with nextLink and ignores foreign secrets', async () => {
    const e = await new AzureKeyVaultEmulator().start();
    try {
      const p = new AzureKeyVaultProvider(secretOptions(e));
      const ids = Array.from({ length: 110 }, (_, i) => `bulk_${String(i).padStart(3, '0')}`);
      for (let i = 0; i < ids.length; i += 10) {
        await Promise.all(
          ids
            .slice(i, i + 10)
            .map((id) =>
              p.store(id, data(id), createMetadata({ tags: { g: String(Number(id.slice(5)) % 2) } })),
            ),
        );
      }
      e.seedSecret('foreign-secret', 'not ours');
      e.seedSecret('bulk--999', 'not ours either', { contentType: 'text/plain' });
      const pagesBefore = e.vaultRequests((r) => r.method === 'GET' && r.path === '/secrets').length;
      assert.deepEqual(await p.list(), ids);
      const pages = e.vaultRequests((r) => r.method === 'GET' && r.path === '/secrets').slice(pagesBefore);
      assert.equal(pages.length, Math.ceil(112 / 25));
      assert.ok(pages.slice(1).every((r) => r.query.get('$skiptoken') && r.query.get('api-version')));
      assert.equal((await p.list({ tags: { g: '1' } })).length, 55);
      await p.close();
    } finally {
      await e.stop();
    }
  });
});

describe('azure-key-vault: retries and timeouts under fault injection', () => {
  let emulator: AzureKeyVaultEmulator;
  before(async () => {
    emulator = await new AzureKeyVaultEmulator().start();
  });
  after(() => emulator.stop());
  const fast = { retry: { baseDelayMs: 1, maxDelayMs: 5, maxRetries: 3 } };
  const puts = () => vaultCalls(emulator, 'PUT');

  it('retries 503 with the core policy only: 2 failures + 1 success = 3 requests', async () => {
    const p = new AzureKeyVaultProvider(secretOptions(emulator, fast));
    await p.connect();
    const before = puts();
    emulator.vault.faults.add({
      action: { kind: 'status', status: 503 },
      times: 2,
      match: (r) => r.method === 'PUT',
    });
    await p.store('retry_503', data(), createMetadata());
    assert.equal(puts() - before, 3);
    await p.close();
  });

  it('honours Retry-After on 429 and gives up after maxRetries with RateLimited', async () => {
    const p = new AzureKeyVaultProvider(
      secretOptions(emulator, { retry: { baseDelayMs: 1, maxDelayMs: 5, maxRetries: 2 } }),
    );
    await p.connect();
    const before = puts();
    emulator.vault.faults.add({
      action: {
        kind: 'status',
        status: 429,
        headers: { 'retry-after': '0' },
        body: {
          error: {
            code: 'Throttled',
            message: 'Request was not processed because too many requests were received.',
          },
        },
      },
      times: Number.POSITIVE_INFINITY,
      match: (r) => r.method === 'PUT',
    });
    try {
      const error = await rejectsWith(p.store('throttled', data(), createMetadata()), 'RateLimited');
      assert.equal(error.details.attempts, 3);
      assert.equal(error.details.retryAfterMs, 0);
      assert.equal(puts() - before, 3, 'one request per attempt: the SDK does not retry on its own');
    } finally {
      emulator.vault.faults.clear();
    }
    await p.close();
  });

  it('retries a connection reset, and does not retry a 400', async () => {
    const p = new AzureKeyVaultProvider(secretOptions(emulator, fast));
    await p.connect();
    let before = vaultCalls(emulator, 'GET');
    emulator.vault.faults.add({ action: { kind: 'reset' }, match: (r) => r.method === 'GET' });
    assert.equal(await p.exists('reset_me'), false);
    assert.equal(vaultCalls(emulator, 'GET') - before, 2, 'the reset attempt and one retry');
    before = puts();
    emulator.vault.faults.add({
      action: { kind: 'status', status: 400, body: { error: { code: 'BadParameter', message: 'bad' } } },
      match: (r) => r.method === 'PUT',
    });
    await rejectsWith(p.store('bad_request', data(), createMetadata()), 'InvalidMetadata');
    assert.equal(puts() - before, 1);
    await p.close();
  });

  it('gives Timeout at the deadline when the vault hangs, after exactly one request', async () => {
    // One socket: the next call can only go out if the hung request was destroyed, not left to the pool.
    const p = new AzureKeyVaultProvider(
      secretOptions(emulator, { ...fast, timeouts: { readMs: 300 }, maxSockets: 1 }),
    );
    await p.connect();
    await p.store('slow', data(), createMetadata());
    const before = vaultCalls(emulator, 'GET');
    const connections = emulator.vault.connections;
    emulator.vault.faults.add({ action: { kind: 'hang' }, match: (r) => r.method === 'GET', times: 1 });
    const error = await rejectsWith(p.retrieve('slow'), 'Timeout');
    assert.equal(error.details.durationMs, 300);
    assert.equal(vaultCalls(emulator, 'GET') - before, 1);
    const { data: stored } = await p.retrieve('slow');
    assert.ok(stored.ciphertext.length > 0);
    assert.equal(emulator.vault.connections, connections + 1, 'a new connection replaces the aborted one');
    await p.close();
  });

  it('asks the vault for uncompressed answers (the SDK asks for gzip; this transport reads plain bodies)', async () => {
    const p = new AzureKeyVaultProvider(secretOptions(emulator, fast));
    await p.store('plain', data(), createMetadata());
    const seen = emulator.vault.requests.length;
    await p.retrieve('plain');
    const read = emulator.vault.requests.slice(seen).find((r) => r.method === 'GET');
    assert.ok(read, 'the read reached the vault');
    assert.equal(read.headers['accept-encoding'], undefined);
    await p.close();
  });
});

describe('azure-key-vault: options', () => {
  it('reports every configuration problem at once, without I/O', () => {
    try {
      new AzureKeyVaultProvider({
        vaultUrl: 'http://my-vault.vault.azure.net',
        credential: { type: 'client-secret', clientId: 'x' } as never,
        softDeletePolicy: 'keep' as never,
        prefix: 'Bad_Prefix',
        authorityHost: 'http://login.example',
        vualtUrl: 'typo',
      } as AzureKeyVaultOptions);
      assert.fail('expected InvalidConfig');
    } catch (error) {
      assert.ok(error instanceof StorageError);
      assert.equal(error.code, 'InvalidConfig');
      const paths = (error.details.issues ?? []).map((i) => i.path);
      for (const p of [
        'vaultUrl',
        'credential.clientSecret',
        'softDeletePolicy',
        'prefix',
        'authorityHost',
        'vualtUrl',
      ]) {
        assert.ok(paths.includes(p), `missing issue for ${p}: ${paths.join(', ')}`);
      }
    }
  });

  it('accepts http to loopback, elsewhere only with dangerouslyAllowInsecureHttp, and keeps secrets out of inspection', async () => {
    const credential = {
      type: 'client-secret',
      tenantId: 't',
      clientId: 'c',
      clientSecret: 'super-secret-xyz',
    } as const;
    assert.throws(
      () => new AzureKeyVaultProvider({ vaultUrl: 'http://vault.example.com', credential }),
      (e: unknown) =>
        e instanceof StorageError &&
        e.code === 'InvalidConfig' &&
        /vaultUrl: uses plain http/.test(e.message) &&
        /dangerouslyAllowInsecureHttp/.test(e.message),
    );
    new AzureKeyVaultProvider({
      vaultUrl: 'http://vault.example.com',
      credential,
      dangerouslyAllowInsecureHttp: true,
    });
    const p = new AzureKeyVaultProvider({ vaultUrl: 'http://127.0.0.1:1', credential });
    assert.ok(!inspect(p, { depth: 8 }).includes('super-secret-xyz'));
    assert.ok(!JSON.stringify(p).includes('super-secret-xyz'));
    assert.equal(p.capabilities.maxIdBytes, 127);
    await p.close();
  });
});
