import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { VaultEmulator } from '../../src/testing/emulators/vault.js';
import { RequestFramer } from '../../src/testing/emulators/vault-front.js';
import { capabilitiesFor, parsePolicyHcl } from '../../src/testing/emulators/vault-policy.js';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * A second, independent client: raw HTTP/1.1 over one TCP socket, sending the `LIST` verb as the Vault CLI,
 * hvac and node-vault do, several requests on the same keep-alive connection.
 */
async function rawExchange(url: string, requests: string[]): Promise<RawResponse[]> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const responses: RawResponse[] = [];
  let buffer = Buffer.alloc(0);
  let wanted: ((r: RawResponse) => void) | undefined;
  const tryParse = () => {
    const end = buffer.indexOf('\r\n\r\n');
    if (end < 0 || !wanted) return;
    const head = buffer.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(head[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (buffer.length < end + 4 + length) return;
    const body = buffer.subarray(end + 4, end + 4 + length).toString('utf8');
    buffer = buffer.subarray(end + 4 + length);
    const done = wanted;
    wanted = undefined;
    done({ status, headers, body });
  };
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    tryParse();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  for (const request of requests) {
    const response = new Promise<RawResponse>((resolve) => {
      wanted = resolve;
    });
    socket.write(request);
    responses.push(await response);
  }
  socket.destroy();
  return responses;
}

const vault = new VaultEmulator({ clock: new ManualClock(Date.UTC(2026, 0, 1)) });
const clock = vault.clock as ManualClock;
const api = async (
  method: string,
  path: string,
  body?: unknown,
  token = vault.rootToken,
  headers: Record<string, string> = {},
) => {
  const res = await fetch(`${vault.url}/v1/${path}`, {
    method,
    headers: { 'x-vault-token': token, ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: the tests walk Vault's JSON freely
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
};

before(async () => {
  await vault.start();
});
after(async () => {
  await vault.stop();
});

describe('Vault emulator: KV v2 as Vault answers it', () => {
  it('answers the LIST verb from a raw socket client, and GET ?list=true alike, on one keep-alive connection', async () => {
    await api('POST', 'secret/data/apps/a', { data: { v: 1 } });
    await api('POST', 'secret/data/apps/b/nested', { data: { v: 2 } });
    const connectionsBefore = vault.connections;
    const host = new URL(vault.url).host;
    const head = (line: string, extra = '') =>
      `${line} HTTP/1.1\r\nHost: ${host}\r\nX-Vault-Token: ${vault.rootToken}\r\n${extra}\r\n`;
    const [listed, viaQuery, missing, written] = await rawExchange(vault.url, [
      head('LIST /v1/secret/metadata/apps'),
      head('GET /v1/secret/metadata/apps/?list=true'),
      head('LIST /v1/secret/metadata/nothing/'),
      // A chunked body after the LIST requests must still be framed correctly.
      head(
        'POST /v1/secret/data/apps/c',
        'Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n',
      ) + '5\r\n{"dat\r\n10\r\na":{"v":3}}     \r\n0\r\n\r\n',
    ]);
    assert.equal(listed!.status, 200);
    assert.deepEqual(JSON.parse(listed!.body).data.keys, ['a', 'b/']);
    assert.deepEqual(JSON.parse(viaQuery!.body).data.keys, ['a', 'b/']);
    assert.equal(missing!.status, 404);
    assert.deepEqual(JSON.parse(missing!.body), { errors: [] });
    assert.equal(written!.status, 200);
    assert.equal(JSON.parse(written!.body).data.version, 1);
    assert.equal(vault.connections - connectionsBefore, 1);
    const lists = vault.requests.filter((r) => VaultEmulator.originalVerb(r) === 'LIST');
    assert.equal(lists.length, 2);
  });

  it('frames requests split at any byte boundary', () => {
    const out: Buffer[] = [];
    const framer = new RequestFramer((b) => out.push(b));
    const text =
      'LIST /v1/x HTTP/1.1\r\nHost: h\r\n\r\nPOST /v1/y HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /v1/z HTTP/1.1\r\n\r\n';
    for (const byte of Buffer.from(text)) assert.ok(framer.push(Buffer.from([byte])));
    const joined = Buffer.concat(out).toString();
    assert.match(
      joined,
      /^GET \/v1\/x\?list=true HTTP\/1\.1\r\nx-vault-emulator-verb: LIST\r\nHost: h\r\n\r\nPOST \/v1\/y/,
    );
    assert.match(joined, /abcGET \/v1\/z HTTP\/1\.1\r\n\r\n$/);
  });

  it('keeps versions with cas, max_versions and custom_metadata, and answers deleted and destroyed versions as Vault does', async () => {
    assert.equal((await api('POST', 'secret/data/v', { data: { n: 1 }, options: { cas: 0 } })).status, 200);
    const mismatch = await api('POST', 'secret/data/v', { data: { n: 2 }, options: { cas: 0 } });
    assert.equal(mismatch.status, 400);
    assert.deepEqual(mismatch.body, {
      errors: ['check-and-set parameter did not match the current version'],
    });
    const second = await api('POST', 'secret/data/v', { data: { n: 2 }, options: { cas: 1 } });
    assert.equal(second.body!.data.version, 2);
    assert.equal(second.body!.data.deletion_time, '');
    assert.equal(second.body!.lease_id, '');

    assert.equal(
      (await api('POST', 'secret/metadata/v', { max_versions: 2, custom_metadata: { owner: 'team' } }))
        .status,
      204,
    );
    await api('POST', 'secret/data/v', { data: { n: 3 } });
    const meta = (await api('GET', 'secret/metadata/v')).body!.data;
    assert.equal(meta.current_version, 3);
    assert.equal(meta.oldest_version, 2);
    assert.deepEqual(Object.keys(meta.versions), ['2', '3']);
    assert.deepEqual(meta.custom_metadata, { owner: 'team' });
    assert.equal((await api('GET', 'secret/data/v?version=1')).status, 404);

    assert.equal((await api('DELETE', 'secret/data/v')).status, 204);
    const deleted = await api('GET', 'secret/data/v');
    assert.equal(deleted.status, 404);
    assert.equal(deleted.body!.data.data, null);
    assert.equal(deleted.body!.data.metadata.deletion_time, '2026-01-01T00:00:00.000Z');
    assert.equal((await api('POST', 'secret/undelete/v', { versions: [3] })).status, 204);
    assert.deepEqual((await api('GET', 'secret/data/v')).body!.data.data, { n: 3 });
    assert.equal((await api('PUT', 'secret/destroy/v', { versions: [3] })).status, 204);
    const destroyed = await api('GET', 'secret/data/v');
    assert.equal(destroyed.status, 404);
    assert.equal(destroyed.body!.data.metadata.destroyed, true);
    assert.equal((await api('POST', 'secret/delete/v', {})).status, 400);
    const patched = await api(
      'PATCH',
      'secret/metadata/v',
      { custom_metadata: { owner: null, tier: 'gold' } },
      vault.rootToken,
      {
        'content-type': 'application/merge-patch+json',
      },
    );
    assert.equal(patched.status, 204);
    assert.deepEqual((await api('GET', 'secret/metadata/v')).body!.data.custom_metadata, { tier: 'gold' });
    assert.equal((await api('DELETE', 'secret/metadata/v')).status, 204);
    assert.deepEqual(await api('GET', 'secret/metadata/v'), { status: 404, body: { errors: [] } });
  });

  it('enforces custom_metadata limits with Vault error bodies', async () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    const res = await api('POST', 'secret/metadata/limits', { custom_metadata: many });
    assert.equal(res.status, 400);
    assert.match(
      res.body!.errors[0],
      /^custom_metadata validation failed: 1 error occurred:\n\t\* payload must contain at most 64 keys/,
    );
    const long = await api('POST', 'secret/metadata/limits', {
      custom_metadata: { ['k'.repeat(129)]: 'v', v: 'x'.repeat(513) },
    });
    assert.match(long.body!.errors[0], /2 errors occurred/);
  });
});

describe('Vault emulator: tokens, policies, namespaces, seal', () => {
  it('answers bad tokens and policy denials with Vault 403 bodies', async () => {
    const bad = await api('GET', 'secret/data/x', undefined, 'hvs.nope');
    assert.deepEqual(bad, {
      status: 403,
      body: { errors: ['2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n'] },
    });
    vault.writePolicy('ro', 'path "secret/data/ro/*" {\n  capabilities = ["read"] # comment\n}');
    const token = vault.createToken({ policies: ['ro'] });
    const denied = await api('POST', 'secret/data/ro/x', { data: {} }, token);
    assert.deepEqual(denied, {
      status: 403,
      body: { errors: ['1 error occurred:\n\t* permission denied\n\n'] },
    });
    assert.equal((await api('GET', 'secret/data/ro/x', undefined, token)).status, 404);
  });

  it('looks up and renews tokens with TTL, max TTL and the renewable flag', async () => {
    const token = vault.createToken({ ttl: 3600, explicitMaxTtl: 5400 });
    const look = (await api('GET', 'auth/token/lookup-self', undefined, token)).body!.data;
    assert.equal(look.ttl, 3600);
    assert.equal(look.renewable, true);
    assert.deepEqual(look.policies, ['default']);
    assert.equal(look.expire_time, new Date(clock.now() + 3600_000).toISOString());
    await clock.advance(1800_000);
    const renewed = await api('POST', 'auth/token/renew-self', { increment: '1h' }, token);
    assert.equal(renewed.body!.auth.lease_duration, 3600);
    assert.equal(renewed.body!.data, null);
    const capped = await api('POST', 'auth/token/renew-self', { increment: 7200 }, token);
    assert.equal(capped.body!.auth.lease_duration, 3600);
    assert.match(capped.body!.warnings[0], /capped/);
    await clock.advance(3601_000);
    assert.equal((await api('GET', 'auth/token/lookup-self', undefined, token)).status, 403);
    const fixed = vault.createToken({ ttl: 60, renewable: false });
    const refused = await api('POST', 'auth/token/renew-self', {}, fixed);
    assert.equal(refused.status, 400);
    assert.match(refused.body!.errors[0], /lease is not renewable/);
    const root = (await api('GET', 'auth/token/lookup-self')).body!.data;
    assert.equal(root.ttl, 0);
    assert.equal(root.expire_time, null);
    assert.deepEqual(root.policies, ['root']);
  });

  it('logs in with AppRole and scopes namespaces by header or path prefix', async () => {
    const { roleId, secretId } = vault.createAppRole('svc', { tokenTtl: 600 });
    const login = await api('POST', 'auth/approle/login', { role_id: roleId, secret_id: secretId }, '');
    assert.equal(login.body!.auth.lease_duration, 600);
    assert.equal(login.body!.auth.renewable, true);
    assert.equal(
      (await api('POST', 'auth/approle/login', { role_id: roleId, secret_id: 'x' }, '')).status,
      400,
    );
    vault.createNamespace('ns1/child');
    await api('POST', 'secret/data/in-ns', { data: { a: 1 } }, vault.rootToken, {
      'x-vault-namespace': 'ns1/',
    });
    assert.equal((await api('GET', 'ns1/secret/data/in-ns')).status, 200);
    assert.equal((await api('GET', 'secret/data/in-ns')).status, 404);
    assert.equal(
      (
        await api('GET', 'child/secret/data/in-ns', undefined, vault.rootToken, {
          'x-vault-namespace': 'ns1',
        })
      ).status,
      404,
    );
  });

  it('seals and reports standby like Vault', async () => {
    vault.sealed = true;
    assert.deepEqual(await api('GET', 'secret/data/x'), {
      status: 503,
      body: { errors: ['Vault is sealed'] },
    });
    assert.equal((await api('GET', 'sys/health')).status, 503);
    assert.equal((await api('GET', 'sys/seal-status')).body!.sealed, true);
    vault.sealed = false;
    vault.standby = true;
    assert.equal((await api('GET', 'sys/health')).status, 429);
    assert.equal((await api('GET', 'secret/data/x')).status, 503);
    vault.standby = false;
    assert.equal((await api('GET', 'sys/health')).status, 200);
  });

  it('matches policy globs with Vault priority: + segments, * prefixes, deny', () => {
    const rules = parsePolicyHcl(`
      path "secret/data/*" { capabilities = ["read"] }
      path "secret/data/team/+/db" { capabilities = ["read", "update"] }
      path "secret/data/team/secret" { capabilities = ["deny"] }
      // comment
      path "secret/metadata/team/" { capabilities = ["list"] }`);
    assert.deepEqual([...capabilitiesFor(rules, 'secret/data/x')], ['read']);
    assert.deepEqual([...capabilitiesFor(rules, 'secret/data/team/a/db')].sort(), ['read', 'update']);
    assert.deepEqual([...capabilitiesFor(rules, 'secret/data/team/secret')], ['deny']);
    assert.deepEqual([...capabilitiesFor(rules, 'secret/metadata/team/')], ['list']);
    assert.deepEqual([...capabilitiesFor(rules, 'secret/metadata/team/x')], []);
  });
});
