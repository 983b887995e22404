import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { ClientSecretCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { ManualClock } from '../../src/core/clock.js';
import { AzureKeyVaultEmulator } from '../../src/testing/emulators/azure.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

function call(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; ca?: string } = {},
): Promise<Reply> {
  const send = url.startsWith('https:') ? request : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json: text ? JSON.parse(text) : {} });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('Azure Key Vault emulator: wire protocol', () => {
  const clock = new ManualClock(Date.now());
  let e: AzureKeyVaultEmulator;
  let token = '';
  const vault = (path: string, init: { method?: string; body?: unknown; auth?: boolean } = {}) =>
    call(`${e.vaultUrl}${path}`, {
      method: init.method ?? 'GET',
      ca: e.ca.caCertPem,
      headers: {
        'content-type': 'application/json',
        ...(init.auth === false ? {} : { authorization: `Bearer ${token}` }),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });

  before(async () => {
    e = await new AzureKeyVaultEmulator({ clock, retentionDays: 7 }).start();
  });
  after(() => e.stop());

  it('serves the Entra discovery document and issues client-credentials tokens', async () => {
    const discovery = await call(`${e.authorityHost}/${e.tenantId}/v2.0/.well-known/openid-configuration`, {
      ca: e.ca.caCertPem,
    });
    assert.equal(discovery.status, 200);
    assert.equal(discovery.json['token_endpoint'], `${e.authorityHost}/${e.tenantId}/oauth2/v2.0/token`);
    const form = (secret: string) =>
      new URLSearchParams({
        client_id: e.clientId,
        client_secret: secret,
        grant_type: 'client_credentials',
        scope: 'https://vault.azure.net/.default',
      }).toString();
    const bad = await call(String(discovery.json['token_endpoint']), {
      method: 'POST',
      ca: e.ca.caCertPem,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form('nope'),
    });
    assert.equal(bad.status, 401);
    assert.equal(bad.json['error'], 'invalid_client');
    const good = await call(String(discovery.json['token_endpoint']), {
      method: 'POST',
      ca: e.ca.caCertPem,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form(e.clientSecret),
    });
    assert.equal(good.status, 200);
    assert.equal(good.json['token_type'], 'Bearer');
    assert.equal(good.json['expires_in'], 3600);
    token = String(good.json['access_token']);
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<
      string,
      unknown
    >;
    assert.equal(claims['aud'], 'https://vault.azure.net');
    assert.equal(claims['tid'], e.tenantId);
    assert.equal(claims['appid'], e.clientId);
  });

  it('challenges an unauthenticated request before looking at its body', async () => {
    const reply = await call(`${e.vaultUrl}/secrets/x?api-version=7.5`, {
      method: 'PUT',
      ca: e.ca.caCertPem,
      headers: { 'content-type': 'application/json', 'content-length': '0' },
    });
    assert.equal(reply.status, 401);
    assert.equal(
      reply.headers['www-authenticate'],
      `Bearer authorization="https://login.microsoftonline.com/${e.tenantId}", resource="https://vault.azure.net"`,
    );
    assert.deepEqual(reply.json, {
      error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' },
    });
  });

  it('reads a percent-encoded api-version and refuses a missing or unknown one', async () => {
    assert.equal((await vault('/secrets?api%2Dversion=7.5')).status, 200);
    const missing = await vault('/secrets');
    assert.equal(missing.status, 400);
    assert.equal((missing.json['error'] as { code: string }).code, 'BadParameter');
    assert.equal((await vault('/secrets?api-version=1999-01-01')).status, 400);
  });

  it('sets, gets latest and by version, updates tags, lists versions; errors in Key Vault shape', async () => {
    const first = await vault('/secrets/Wire?api-version=7.5', {
      method: 'PUT',
      body: { value: 'v1', contentType: 'text/plain', tags: { a: '1' } },
    });
    assert.equal(first.status, 200);
    assert.match(String(first.json['id']), new RegExp(`^${e.vaultUrl}/secrets/Wire/[0-9a-f]{32}$`));
    const attributes = first.json['attributes'] as Record<string, unknown>;
    assert.equal(attributes['recoveryLevel'], 'Recoverable+Purgeable');
    assert.equal(attributes['recoverableDays'], 7);
    assert.equal(attributes['created'], Math.floor(clock.now() / 1000));
    await vault('/secrets/wire?api-version=7.5', { method: 'PUT', body: { value: 'v2' } });
    assert.equal(
      (await vault('/secrets/WIRE/?api-version=7.5')).json['value'],
      'v2',
      'names are case-insensitive',
    );
    const v1 = String(first.json['id']).split('/').at(-1);
    assert.equal((await vault(`/secrets/wire/${v1}?api-version=7.5`)).json['value'], 'v1');
    const patched = await vault(`/secrets/wire/${v1}?api-version=7.5`, {
      method: 'PATCH',
      body: { tags: { b: '2' } },
    });
    assert.deepEqual(patched.json['tags'], { b: '2' });
    assert.equal(patched.json['value'], undefined, 'update returns no value');
    const versions = await vault('/secrets/wire/versions?api-version=7.5');
    assert.equal((versions.json['value'] as unknown[]).length, 2);
    const missing = await vault('/secrets/absent/?api-version=7.5');
    assert.equal(missing.status, 404);
    assert.equal((missing.json['error'] as { code: string }).code, 'SecretNotFound');
    const badName = await vault('/secrets/bad_name?api-version=7.5', { method: 'PUT', body: { value: 'x' } });
    assert.equal(badName.status, 400);
    const big = await vault('/secrets/big?api-version=7.5', {
      method: 'PUT',
      body: { value: 'x'.repeat(25 * 1024 + 1) },
    });
    assert.equal(big.status, 400);
    const tags = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, 'v']));
    assert.equal(
      (await vault('/secrets/tags?api-version=7.5', { method: 'PUT', body: { value: 'x', tags } })).status,
      400,
    );
  });

  it('pages with an absolute nextLink that carries the api-version', async () => {
    for (let i = 0; i < 30; i++)
      await vault(`/secrets/page-${i}?api-version=7.5`, { method: 'PUT', body: { value: 'x' } });
    const first = await vault('/secrets?api-version=7.5');
    assert.equal((first.json['value'] as unknown[]).length, 25);
    const next = new URL(String(first.json['nextLink']));
    assert.equal(next.origin, e.vaultUrl);
    assert.equal(next.searchParams.get('api-version'), '7.5');
    const second = await vault(`${next.pathname}${next.search}`);
    assert.equal((second.json['value'] as unknown[]).length, 31 - 25);
    assert.equal(second.json['nextLink'], null);
    assert.equal((await vault('/secrets?api-version=7.5&maxresults=26')).status, 400);
  });

  it('soft-deletes with retention, refuses the name with 409, recovers, purges, expires', async () => {
    await vault('/secrets/gone?api-version=7.5', { method: 'PUT', body: { value: 'x' } });
    const deleted = await vault('/secrets/gone?api-version=7.5', { method: 'DELETE' });
    assert.equal(deleted.json['recoveryId'], `${e.vaultUrl}/deletedsecrets/gone`);
    assert.equal(
      Number(deleted.json['scheduledPurgeDate']) - Number(deleted.json['deletedDate']),
      7 * 86_400,
    );
    const conflict = await vault('/secrets/gone?api-version=7.5', { method: 'PUT', body: { value: 'y' } });
    assert.equal(conflict.status, 409);
    assert.deepEqual((conflict.json['error'] as { innererror: unknown }).innererror, {
      code: 'ObjectIsDeletedButRecoverable',
    });
    assert.equal((await vault('/deletedsecrets/gone?api-version=7.5')).status, 200);
    assert.equal(
      (await vault('/deletedsecrets/gone/recover?api-version=7.5', { method: 'POST' })).status,
      200,
    );
    assert.equal((await vault('/secrets/gone/?api-version=7.5')).json['value'], 'x');
    await vault('/secrets/gone?api-version=7.5', { method: 'DELETE' });
    assert.equal((await vault('/deletedsecrets/gone?api-version=7.5', { method: 'DELETE' })).status, 204);
    assert.equal((await vault('/deletedsecrets/gone?api-version=7.5')).status, 404);
    await vault('/secrets/later?api-version=7.5', { method: 'PUT', body: { value: 'x' } });
    await vault('/secrets/later?api-version=7.5', { method: 'DELETE' });
    assert.ok(e.deletedSecretNames().includes('later'));
    await clock.advance(7 * 86_400_000);
    assert.ok(!e.deletedSecretNames().includes('later'), 'purged when the retention ends');
  });

  it('managed identity endpoints check their headers', async () => {
    const imds = await call(
      `${e.imdsHost}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net`,
    );
    assert.equal(imds.status, 400);
    assert.equal(imds.json['error'], 'invalid_request');
    const appService = await call(
      `${e.identityEndpoint}?api-version=2019-08-01&resource=https://vault.azure.net`,
      {
        headers: { 'x-identity-header': 'wrong' },
      },
    );
    assert.equal(appService.status, 401);
    const ok = await call(`${e.identityEndpoint}?api-version=2019-08-01&resource=https://vault.azure.net`, {
      headers: { 'x-identity-header': e.identityHeader },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.json['token_type'], 'Bearer');
    assert.equal(Number(ok.json['expires_on']), Math.floor(clock.now() / 1000) + 3600);
  });

  it('works with the SDK client unchanged: versions, properties, backup and restore', async () => {
    const credential = new ClientSecretCredential(e.tenantId, e.clientId, e.clientSecret, {
      authorityHost: e.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: { ca: e.ca.caCertPem },
    });
    const client = new SecretClient(e.vaultUrl, credential, {
      tlsOptions: { ca: e.ca.caCertPem },
      retryOptions: { maxRetries: 0 },
      disableChallengeResourceVerification: true,
    });
    const created = await client.setSecret('sdk-secret', 'one', {
      tags: { t: '1' },
      contentType: 'text/plain',
    });
    await client.setSecret('sdk-secret', 'two');
    assert.equal(
      (await client.getSecret('sdk-secret', { version: created.properties.version! })).value,
      'one',
    );
    const updated = await client.updateSecretProperties('sdk-secret', created.properties.version!, {
      tags: { t: '2' },
    });
    assert.deepEqual(updated.tags, { t: '2' });
    const versions = [];
    for await (const v of client.listPropertiesOfSecretVersions('sdk-secret')) versions.push(v.version);
    assert.equal(versions.length, 2);
    const backup = await client.backupSecret('sdk-secret');
    await (await client.beginDeleteSecret('sdk-secret', { intervalInMs: 10 })).pollUntilDone();
    await client.purgeDeletedSecret('sdk-secret');
    const restored = await client.restoreSecretBackup(backup!);
    assert.equal(restored.name, 'sdk-secret');
    assert.equal((await client.getSecret('sdk-secret')).value, 'two');
    const deletedNames = [];
    await (await client.beginDeleteSecret('sdk-secret', { intervalInMs: 10 })).pollUntilDone();
    for await (const d of client.listDeletedSecrets()) deletedNames.push(d.name);
    assert.ok(deletedNames.includes('sdk-secret'));
  });
});
