import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import * as grpc from '@grpc/grpc-js';
import type { AuthClient } from 'google-auth-library';
import { ManualClock } from '../../src/core/clock.js';
import { crc32c } from '../../src/core/crc32c.js';
import { cliEmulator, GcpSecretManagerEmulator } from '../../src/testing/emulators/gcp.js';
import { grpcClient, rejection, restClient, sdkClient, serviceAccountAuth } from './gcp-helpers.js';

// The real @google-cloud/secret-manager client, authenticated by the real google-auth-library with the
// emulator's service-account key file, over both of the SDK's transports against one emulator state.

const SENTINEL = 'sentinel-9f2c1b7e-never-in-errors';

for (const transport of ['grpc', 'rest'] as const) {
  describe(`GCP Secret Manager emulator: the SDK over ${transport}`, () => {
    const clock = new ManualClock(Date.now());
    let e: GcpSecretManagerEmulator;
    let auth: AuthClient;
    let client: SecretManagerServiceClient;
    let parent: string;

    before(async () => {
      e = await new GcpSecretManagerEmulator({ clock, projectId: 'acme-prod' }).start();
      auth = await serviceAccountAuth(e, 'self-signed-jwt');
      client = sdkClient(e, auth, transport);
      parent = `projects/${e.projectId}`;
    });
    after(async () => {
      await client?.close();
      await e?.stop();
    });

    it('creates a secret, adds versions and reads latest, by number and by alias, with CRC32C', async () => {
      const [secret] = await client.createSecret({
        parent,
        secretId: 'api-key',
        secret: {
          replication: { automatic: {} },
          labels: { env: 'prod' },
          annotations: { 'nebula-credential.tags': '{"a":1}' },
        },
      });
      assert.equal(
        secret.name,
        `projects/${e.projectNumber}/secrets/api-key`,
        'names come back with the project number',
      );
      assert.match(String(secret.etag), /^"[0-9a-f]+"$/);
      assert.deepEqual(secret.labels, { env: 'prod' });
      const first = Buffer.from('one');
      const [v1] = await client.addSecretVersion({
        parent: secret.name!,
        payload: { data: first, dataCrc32c: crc32c(first) },
      });
      assert.equal(v1.name, `${secret.name!}/versions/1`);
      assert.equal(v1.state, 'ENABLED');
      assert.equal(v1.clientSpecifiedPayloadChecksum, true);
      const [v2] = await client.addSecretVersion({
        parent: `${parent}/secrets/api-key`,
        payload: { data: Buffer.from(SENTINEL) },
      });
      assert.equal(v2.clientSpecifiedPayloadChecksum, false);

      const [latest] = await client.accessSecretVersion({
        name: `${parent}/secrets/api-key/versions/latest`,
      });
      assert.equal(latest.name, `${secret.name!}/versions/2`, 'latest resolves to the version number');
      assert.equal(Buffer.from(latest.payload!.data as Uint8Array).toString(), SENTINEL);
      assert.equal(Number(latest.payload!.dataCrc32c), crc32c(Buffer.from(SENTINEL)));
      const [byNumber] = await client.accessSecretVersion({ name: `${secret.name!}/versions/1` });
      assert.equal(Buffer.from(byNumber.payload!.data as Uint8Array).toString(), 'one');

      const [aliased] = await client.updateSecret({
        secret: { name: secret.name!, versionAliases: { stable: 1 } },
        updateMask: { paths: ['version_aliases'] },
      });
      assert.notEqual(aliased.etag, secret.etag, 'every update changes the etag');
      const [byAlias] = await client.accessSecretVersion({ name: `${secret.name!}/versions/stable` });
      assert.equal(byAlias.name, `${secret.name!}/versions/1`);
    });

    it('answers NOT_FOUND, ALREADY_EXISTS and INVALID_ARGUMENT with the service messages', async () => {
      const missing = await rejection(client.getSecret({ name: `${parent}/secrets/nope` }));
      assert.equal(missing['code'], 5);
      assert.match(missing.message, /Secret \[projects\/\d+\/secrets\/nope\] not found\./);
      await client.createSecret({ parent, secretId: 'empty', secret: { replication: { automatic: {} } } });
      const noVersions = await rejection(
        client.accessSecretVersion({ name: `${parent}/secrets/empty/versions/latest` }),
      );
      assert.equal(noVersions['code'], 5);
      assert.match(noVersions.message, /not found or has no versions/);
      const noVersion = await rejection(
        client.accessSecretVersion({ name: `${parent}/secrets/empty/versions/7` }),
      );
      assert.equal(noVersion['code'], 5);
      const dup = await rejection(
        client.createSecret({ parent, secretId: 'empty', secret: { replication: { automatic: {} } } }),
      );
      assert.equal(dup['code'], 6);
      assert.match(dup.message, /already exists/);
      for (const bad of [
        { secretId: 'bad.id', secret: { replication: { automatic: {} } } },
        { secretId: 'no-replication', secret: {} },
        { secretId: 'bad-label', secret: { replication: { automatic: {} }, labels: { Env: 'x' } } },
        { secretId: 'bad-label-value', secret: { replication: { automatic: {} }, labels: { env: 'Prod' } } },
        {
          secretId: 'bad-annotation',
          secret: { replication: { automatic: {} }, annotations: { '-x': 'y' } },
        },
        {
          secretId: 'big-annotations',
          secret: { replication: { automatic: {} }, annotations: { a: 'x'.repeat(16_384) } },
        },
        {
          secretId: 'many-labels',
          secret: {
            replication: { automatic: {} },
            labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, 'v'])),
          },
        },
      ]) {
        const error = await rejection(client.createSecret({ parent, ...bad }));
        assert.equal(error['code'], 3, `${bad.secretId}: ${error.message}`);
      }
      assert.deepEqual(e.secretIds().includes('bad-label'), false);
      const regional = await rejection(client.getSecret({ name: `${parent}/locations/us-east1/secrets/x` }));
      assert.equal(regional['code'], 12, 'regional secrets are not emulated: UNIMPLEMENTED');
      const iam = await rejection(client.getIamPolicy({ resource: `${parent}/secrets/empty` }));
      assert.equal(iam['code'], 12, 'nor are the IAM policy methods');
    });

    it('verifies the payload CRC32C and the 64 KiB limit on AddSecretVersion', async () => {
      await client.createSecret({ parent, secretId: 'crc', secret: { replication: { automatic: {} } } });
      const data = Buffer.from(SENTINEL);
      const mismatch = await rejection(
        client.addSecretVersion({
          parent: `${parent}/secrets/crc`,
          payload: { data, dataCrc32c: crc32c(data) ^ 1 },
        }),
      );
      assert.equal(mismatch['code'], 3);
      assert.match(mismatch.message, /checksum/i);
      assert.ok(!mismatch.message.includes(SENTINEL), 'the payload never appears in errors');
      await client.addSecretVersion({
        parent: `${parent}/secrets/crc`,
        payload: { data: Buffer.alloc(65_536, 7) },
      });
      const tooBig = await rejection(
        client.addSecretVersion({
          parent: `${parent}/secrets/crc`,
          payload: { data: Buffer.alloc(65_537, 7) },
        }),
      );
      assert.equal(tooBig['code'], 3);
      assert.equal(e.state.find('crc')?.versions.length, 1);
    });

    it('updates labels and annotations by update_mask; a stale etag is FAILED_PRECONDITION; replication is immutable', async () => {
      const [created] = await client.createSecret({
        parent,
        secretId: 'masked',
        secret: { replication: { automatic: {} }, labels: { a: '1' }, annotations: { keep: 'me' } },
      });
      const [updated] = await client.updateSecret({
        secret: { name: created.name!, labels: { b: '2' }, annotations: { ignored: 'x' } },
        updateMask: { paths: ['labels'] },
      });
      assert.deepEqual(updated.labels, { b: '2' });
      assert.deepEqual(updated.annotations, { keep: 'me' }, 'fields outside the mask are left alone');
      const stale = await rejection(
        client.updateSecret({
          secret: { name: created.name!, labels: {}, etag: created.etag! },
          updateMask: { paths: ['labels'] },
        }),
      );
      assert.equal(stale['code'], 9);
      const [withEtag] = await client.updateSecret({
        secret: { name: created.name!, annotations: {}, etag: updated.etag! },
        updateMask: { paths: ['annotations'] },
      });
      assert.deepEqual(withEtag.annotations ?? {}, {});
      const immutable = await rejection(
        client.updateSecret({
          secret: { name: created.name!, replication: { automatic: {} } },
          updateMask: { paths: ['replication'] },
        }),
      );
      assert.equal(immutable['code'], 3);
      const noMask = await rejection(
        client.updateSecret({ secret: { name: created.name!, labels: {} }, updateMask: { paths: [] } }),
      );
      assert.equal(noMask['code'], 3);
    });

    it('deletes with the current etag only', async () => {
      const [created] = await client.createSecret({
        parent,
        secretId: 'doomed',
        secret: { replication: { automatic: {} } },
      });
      const stale = await rejection(client.deleteSecret({ name: created.name!, etag: '"0000"' }));
      assert.equal(stale['code'], 9);
      await client.deleteSecret({ name: created.name!, etag: created.etag! });
      assert.equal((await rejection(client.getSecret({ name: created.name! })))['code'], 5);
      // A deleted id can be created again at once (no soft delete in Secret Manager).
      await client.createSecret({ parent, secretId: 'doomed', secret: { replication: { automatic: {} } } });
      await client.deleteSecret({ name: `${parent}/secrets/doomed` });
    });

    it('pages ListSecrets with pageToken/nextPageToken and filters on labels server-side', async () => {
      for (let i = 0; i < 7; i++) {
        await client.createSecret({
          parent,
          secretId: `page-${i}`,
          secret: { replication: { automatic: {} }, labels: { team: i % 2 ? 'odd' : 'even', paged: 'yes' } },
        });
      }
      const ids: string[] = [];
      let pageToken: string | undefined;
      let pages = 0;
      do {
        const [secrets, , response] = await client.listSecrets(
          { parent, pageSize: 3, filter: 'labels.paged=yes', ...(pageToken ? { pageToken } : {}) },
          { autoPaginate: false },
        );
        ids.push(...secrets.map((s) => String(s.name).split('/').pop()!));
        assert.equal(response?.totalSize, 7);
        pageToken = response?.nextPageToken || undefined;
        pages++;
      } while (pageToken);
      assert.equal(pages, 3);
      assert.deepEqual(ids, ['page-0', 'page-1', 'page-2', 'page-3', 'page-4', 'page-5', 'page-6']);
      const [odd] = await client.listSecrets({ parent, filter: 'labels.team=odd AND labels.paged:*' });
      assert.deepEqual(
        odd.map((s) => String(s.name).split('/').pop()),
        ['page-1', 'page-3', 'page-5'],
      );
      const [either] = await client.listSecrets({ parent, filter: 'name:page-1 OR name:page-2' });
      assert.equal(either.length, 2);
      const [not] = await client.listSecrets({ parent, filter: 'labels.paged=yes -labels.team=even' });
      assert.equal(not.length, 3);
      const bad = await rejection(
        client.listSecrets({ parent, filter: 'labels.team=(' }, { autoPaginate: false }),
      );
      assert.equal(bad['code'], 3);
      const unknownField = await rejection(
        client.listSecrets({ parent, filter: 'colour=red' }, { autoPaginate: false }),
      );
      assert.equal(unknownField['code'], 3);
      const badToken = await rejection(
        client.listSecrets({ parent, pageToken: 'garbage' }, { autoPaginate: false }),
      );
      assert.equal(badToken['code'], 3);
    });

    it('disables, enables and destroys versions: FAILED_PRECONDITION on access, not NOT_FOUND', async () => {
      await client.createSecret({
        parent,
        secretId: 'lifecycle',
        secret: { replication: { automatic: {} } },
      });
      const name = `${parent}/secrets/lifecycle`;
      for (const value of ['a', 'b', 'c'])
        await client.addSecretVersion({ parent: name, payload: { data: Buffer.from(value) } });
      const [disabled] = await client.disableSecretVersion({ name: `${name}/versions/3` });
      assert.equal(disabled.state, 'DISABLED');
      const denied = await rejection(client.accessSecretVersion({ name: `${name}/versions/latest` }));
      assert.equal(denied['code'], 9);
      assert.match(denied.message, /versions\/3\] is in DISABLED state\./);
      const stale = await rejection(
        client.enableSecretVersion({ name: `${name}/versions/3`, etag: '"stale"' }),
      );
      assert.equal(stale['code'], 9);
      await client.enableSecretVersion({ name: `${name}/versions/3`, etag: disabled.etag! });
      const [destroyed] = await client.destroySecretVersion({ name: `${name}/versions/2` });
      assert.equal(destroyed.state, 'DESTROYED');
      assert.ok(destroyed.destroyTime, 'destroy_time is set');
      const gone = await rejection(client.accessSecretVersion({ name: `${name}/versions/2` }));
      assert.equal(gone['code'], 9);
      assert.match(gone.message, /DESTROYED state/);
      assert.equal((await rejection(client.enableSecretVersion({ name: `${name}/versions/2` })))['code'], 9);
      const [got] = await client.getSecretVersion({ name: `${name}/versions/2` });
      assert.equal(got.state, 'DESTROYED');
      const [versions] = await client.listSecretVersions({ parent: name });
      assert.deepEqual(
        versions.map((v) => [String(v.name).split('/').pop(), v.state]),
        [
          ['3', 'ENABLED'],
          ['2', 'DESTROYED'],
          ['1', 'ENABLED'],
        ],
        'newest first',
      );
      const [enabled] = await client.listSecretVersions({ parent: name, filter: 'state:ENABLED' });
      assert.equal(enabled.length, 2);
      assert.equal(e.state.find('lifecycle')?.versions[1]?.data, undefined, 'destroyed payloads are wiped');
    });

    it('destroys with a delay when the secret has version_destroy_ttl, on the emulator clock', async () => {
      await client.createSecret({
        parent,
        secretId: 'delayed',
        secret: { replication: { automatic: {} }, versionDestroyTtl: { seconds: 86_400 } },
      });
      await client.addSecretVersion({
        parent: `${parent}/secrets/delayed`,
        payload: { data: Buffer.from('x') },
      });
      const [scheduled] = await client.destroySecretVersion({ name: `${parent}/secrets/delayed/versions/1` });
      assert.equal(scheduled.state, 'DISABLED');
      assert.ok(scheduled.scheduledDestroyTime);
      // A day later the key's self-signed JWT (signed by wall-clock time) is stale for the emulator too,
      // so the state is checked directly, then time goes back.
      await clock.advance(86_401_000);
      const later = e.state.getVersion(`${parent}/secrets/delayed/versions/1`).version;
      await clock.advance(-86_401_000);
      assert.equal(later.state, 'DESTROYED');
      assert.equal(later.data, undefined);
    });

    it('refuses a principal without the permission, naming it (PERMISSION_DENIED with ErrorInfo)', async () => {
      e.seedSecret('guarded', SENTINEL);
      const reader = e.addServiceAccount(`reader-${transport}`, ['roles/secretmanager.viewer']);
      const readerClient = sdkClient(
        e,
        await serviceAccountAuth(e, 'self-signed-jwt', reader.keyFile),
        transport,
      );
      try {
        const [meta] = await readerClient.getSecret({ name: `${parent}/secrets/guarded` });
        assert.equal(meta.name, `projects/${e.projectNumber}/secrets/guarded`);
        const denied = await rejection(
          readerClient.accessSecretVersion({ name: `${parent}/secrets/guarded/versions/latest` }),
        );
        assert.equal(denied['code'], 7);
        assert.match(
          denied.message,
          /Permission 'secretmanager\.versions\.access' denied for resource 'projects\/acme-prod\/secrets\/guarded\/versions\/latest' \(or it may not exist\)\./,
        );
        assert.equal(denied['reason'], 'IAM_PERMISSION_DENIED');
        assert.equal(
          (denied['errorInfoMetadata'] as Record<string, string>)['permission'],
          'secretmanager.versions.access',
        );
        const missingToo = await rejection(
          readerClient.accessSecretVersion({ name: `${parent}/secrets/not-there/versions/1` }),
        );
        assert.equal(missingToo['code'], 7, 'permission is checked before existence');
        const create = await rejection(
          readerClient.createSecret({ parent, secretId: 'nope', secret: { replication: { automatic: {} } } }),
        );
        assert.match(create.message, /secretmanager\.secrets\.create/);
        e.iam.grant(reader.email, 'secretmanager.versions.access');
        const [ok] = await readerClient.accessSecretVersion({
          name: `${parent}/secrets/guarded/versions/latest`,
        });
        assert.equal(Buffer.from(ok.payload!.data as Uint8Array).toString(), SENTINEL);
        const foreign = await rejection(
          readerClient.listSecrets({ parent: 'projects/someone-else' }, { autoPaginate: false }),
        );
        assert.equal(foreign['code'], 7);
      } finally {
        await readerClient.close();
      }
    });

    it('injects faults, one request each with SDK retries off: UNAVAILABLE, RESOURCE_EXHAUSTED, INTERNAL, DEADLINE_EXCEEDED', async () => {
      e.seedSecret(`faulty-${transport}`, 'v');
      const name = `${parent}/secrets/faulty-${transport}/versions/latest`;
      const cases: [() => void, number][] = [
        [() => e.fail('unavailable', { rpc: 'AccessSecretVersion' }), 14],
        [() => e.throttle(1, { rpc: 'AccessSecretVersion', retryAfterSeconds: 7 }), 8],
        [() => e.fail('internal'), 13],
        [() => e.fail('deadline'), 4],
      ];
      for (const [inject, code] of cases) {
        inject();
        const before = e.count('AccessSecretVersion');
        const error = await rejection(client.accessSecretVersion({ name }));
        assert.equal(error['code'], code, error.message);
        assert.equal(e.count('AccessSecretVersion') - before, 1, 'exactly one request: no SDK retry');
        if (code === 8) {
          assert.equal(error['reason'], 'RATE_LIMIT_EXCEEDED');
          const retry = (error['statusDetails'] as { retryDelay?: { seconds?: unknown } }[]).find(
            (d) => d.retryDelay,
          );
          assert.equal(Number(retry?.retryDelay?.seconds), 7, 'RetryInfo carries the delay');
        }
      }
      const [ok] = await client.accessSecretVersion({ name });
      assert.equal(Buffer.from(ok.payload!.data as Uint8Array).toString(), 'v');
    });

    it('resets, hangs (client deadline) and loses responses', async () => {
      e.seedSecret(`net-${transport}`, 'v');
      const name = `${parent}/secrets/net-${transport}/versions/1`;
      e.fail('reset', { rpc: 'AccessSecretVersion', transport });
      const reset = await rejection(client.accessSecretVersion({ name }));
      assert.ok(
        reset['code'] === 14 || reset['code'] === 13 || reset['code'] === 'ECONNRESET',
        `reset: ${String(reset['code'])} ${reset.message}`,
      );
      e.fail('hang', { rpc: 'AccessSecretVersion' });
      if (transport === 'grpc') {
        const hung = await rejection(client.accessSecretVersion({ name }, { timeout: 300 }));
        assert.equal(hung['code'], 4, `hang: ${hung.message}`);
      } else {
        // The REST transport ignores `timeout`: the deadline has to be put on the HTTP request.
        const bounded = restClient(
          e,
          await serviceAccountAuth(e, 'self-signed-jwt', e.credentialsFile, { deadlineMs: 300 }),
        );
        try {
          const hung = await rejection(bounded.accessSecretVersion({ name }));
          assert.match(`${hung.name} ${hung.message}`, /abort|timeout/i);
        } finally {
          await bounded.close();
        }
      }
      e.loseResponse({ rpc: 'CreateSecret' });
      await rejection(
        client.createSecret({
          parent,
          secretId: `lost-${transport}`,
          secret: { replication: { automatic: {} } },
        }),
      );
      assert.ok(
        e.secretIds().includes(`lost-${transport}`),
        'the call took effect although the client saw an error',
      );
      const [ok] = await client.accessSecretVersion({ name });
      assert.equal(Buffer.from(ok.payload!.data as Uint8Array).toString(), 'v');
    });

    it('expires secrets with a ttl on the emulator clock', async () => {
      await client.createSecret({
        parent,
        secretId: 'short-lived',
        secret: { replication: { automatic: {} }, ttl: { seconds: 60 } },
      });
      const [meta] = await client.getSecret({ name: `${parent}/secrets/short-lived` });
      assert.ok(meta.expireTime);
      await clock.advance(61_000);
      assert.equal((await rejection(client.getSecret({ name: `${parent}/secrets/short-lived` })))['code'], 5);
    });

    it('replicates user-managed with a customer-managed key, reported on every version', async () => {
      const kmsKeyName = 'projects/acme-prod/locations/europe-west1/keyRings/ring/cryptoKeys/key';
      const [s] = await client.createSecret({
        parent,
        secretId: 'cmek',
        secret: {
          replication: {
            userManaged: {
              replicas: [{ location: 'europe-west1', customerManagedEncryption: { kmsKeyName } }],
            },
          },
        },
      });
      assert.equal(
        s.replication?.userManaged?.replicas?.[0]?.customerManagedEncryption?.kmsKeyName,
        kmsKeyName,
      );
      const [v] = await client.addSecretVersion({ parent: s.name!, payload: { data: Buffer.from('k') } });
      assert.equal(
        v.replicationStatus?.userManaged?.replicas?.[0]?.customerManagedEncryption?.kmsKeyVersionName,
        `${kmsKeyName}/cryptoKeyVersions/1`,
      );
      const empty = await rejection(
        client.createSecret({
          parent,
          secretId: 'no-replicas',
          secret: { replication: { userManaged: { replicas: [] } } },
        }),
      );
      assert.equal(empty['code'], 3);
    });
  });
}

describe('GCP Secret Manager emulator: authentication', () => {
  const clock = new ManualClock(Date.now());
  let e: GcpSecretManagerEmulator;
  before(async () => {
    e = await new GcpSecretManagerEmulator({ clock }).start();
    e.seedSecret('shared', 'from-seed');
  });
  after(() => e?.stop());
  const name = () => `projects/${e.projectId}/secrets/shared/versions/latest`;

  it('exchanges a JWT-bearer assertion at the token endpoint; the token expires on the emulator clock', async () => {
    const auth = await serviceAccountAuth(e, 'token-endpoint');
    const client = grpcClient(e, auth);
    try {
      const issued = e.auth.issued;
      const [ok] = await client.accessSecretVersion({ name: name() });
      assert.equal(Buffer.from(ok.payload!.data as Uint8Array).toString(), 'from-seed');
      assert.equal(e.auth.issued, issued + 1, 'one token from the token endpoint');
      assert.ok(e.rest.count((r) => r.path === '/token') >= 1);
      assert.match(String(e.requests.at(-1)?.headers['authorization']), /^Bearer ya29\./);
      await clock.advance(7200_000);
      const expired = await rejection(client.accessSecretVersion({ name: name() }));
      assert.equal(expired['code'], 16);
      assert.equal(expired['reason'], 'ACCESS_TOKEN_EXPIRED');
    } finally {
      await client.close();
      await clock.advance(-7200_000);
    }
  });

  it('accepts the self-signed JWT the SDK sends for a key file (no token endpoint), and expires it on the clock', async () => {
    const auth = await serviceAccountAuth(e, 'self-signed-jwt');
    const client = restClient(e, auth);
    try {
      const tokens = e.rest.count((r) => r.path === '/token');
      await client.accessSecretVersion({ name: name() });
      assert.equal(
        e.rest.count((r) => r.path === '/token'),
        tokens,
      );
      const header = String(e.requests.at(-1)?.headers['authorization']);
      const claims = JSON.parse(Buffer.from(header.split('.')[1]!, 'base64url').toString()) as Record<
        string,
        unknown
      >;
      assert.equal(claims['iss'], e.serviceAccount.email);
      assert.equal(claims['scope'], 'https://www.googleapis.com/auth/cloud-platform');
      const kid = JSON.parse(Buffer.from(header.slice(7).split('.')[0]!, 'base64url').toString()) as Record<
        string,
        unknown
      >;
      assert.equal(kid['kid'], e.serviceAccount.privateKeyId);
      await clock.advance(7200_000);
      assert.equal((await rejection(client.accessSecretVersion({ name: name() })))['code'], 16);
    } finally {
      await client.close();
      await clock.advance(-7200_000);
    }
  });

  it('refuses a call without credentials: grpc-js createFromGoogleCredential sends none with google-auth-library 10', async () => {
    const auth = await serviceAccountAuth(e, 'self-signed-jwt');
    const naive = grpcClient(e, auth, grpc.credentials.createFromGoogleCredential(auth as never));
    try {
      const error = await rejection(naive.accessSecretVersion({ name: name() }));
      assert.equal(error['code'], 16);
      assert.equal(error['reason'], 'CREDENTIALS_MISSING');
      assert.match(error.message, /missing required authentication credential/);
    } finally {
      await naive.close();
    }
  });

  it('refuses a token without the cloud-platform scope, and an unknown token', async () => {
    const auth = await serviceAccountAuth(e, 'self-signed-jwt');
    const scoped = e.issueAccessToken(e.serviceAccount.email, [
      'https://www.googleapis.com/auth/userinfo.email',
    ]);
    const fixed = (token: string) =>
      grpc.credentials.createFromMetadataGenerator((_p, cb) => {
        const m = new grpc.Metadata();
        m.add('authorization', `Bearer ${token}`);
        cb(null, m);
      });
    for (const [token, code, reason] of [
      [scoped, 7, 'ACCESS_TOKEN_SCOPE_INSUFFICIENT'],
      ['ya29.not-issued-here', 16, 'ACCESS_TOKEN_TYPE_UNSUPPORTED'],
    ] as const) {
      const client = grpcClient(e, auth, fixed(token));
      try {
        const error = await rejection(client.accessSecretVersion({ name: name() }));
        assert.equal(error['code'], code);
        assert.equal(error['reason'], reason);
      } finally {
        await client.close();
      }
    }
  });

  it('shares one state between the transports and counts requests per transport', async () => {
    const auth = await serviceAccountAuth(e, 'self-signed-jwt');
    const viaGrpc = grpcClient(e, auth);
    const viaRest = restClient(e, auth);
    try {
      const before = { grpc: e.count(undefined, 'grpc'), rest: e.count(undefined, 'rest') };
      const [s] = await viaGrpc.createSecret({
        parent: `projects/${e.projectNumber}`,
        secretId: 'both',
        secret: { replication: { automatic: {} } },
      });
      await viaRest.addSecretVersion({
        parent: s.name!,
        payload: { data: Buffer.from('written over REST') },
      });
      const [read] = await viaGrpc.accessSecretVersion({ name: `${s.name!}/versions/latest` });
      assert.equal(Buffer.from(read.payload!.data as Uint8Array).toString(), 'written over REST');
      assert.deepEqual(
        { grpc: e.count(undefined, 'grpc') - before.grpc, rest: e.count(undefined, 'rest') - before.rest },
        { grpc: 2, rest: 1 },
      );
      assert.ok(e.connections.grpc >= 1 && e.connections.rest >= 1, 'both protocols on the one port');
    } finally {
      await viaGrpc.close();
      await viaRest.close();
    }
  });
});

describe('nebula-credential emulator gcp (the CLI entry)', () => {
  it('describes endpoints, key file, an hour-long access token and a provider config', async () => {
    const running = await cliEmulator.start({ port: 0 });
    try {
      const info = running.info as Record<string, unknown> & { config: Record<string, unknown> };
      assert.equal(info.service, 'gcp');
      assert.match(String(info['restEndpoint']), /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.match(String(info['grpcEndpoint']), /^127\.0\.0\.1:\d+$/);
      assert.equal(info.config['provider'], 'gcp-secret-manager');
      assert.equal(info.config['projectId'], info['projectId']);
      assert.equal(info.config['apiEndpoint'], info['grpcEndpoint']);
      assert.equal(info.config['credentialsFile'], info['credentialsFile']);
      assert.deepEqual(info.config['tls'], { caFile: info['caCertPath'] });
      assert.equal(info.config['transport'], 'grpc');
      const keyFile = JSON.parse(
        await (await import('node:fs/promises')).readFile(String(info['credentialsFile']), 'utf8'),
      ) as Record<string, string>;
      assert.equal(keyFile['type'], 'service_account');
      assert.equal(keyFile['token_uri'], `${String(info['restEndpoint'])}/token`);
      assert.equal(keyFile['client_email'], info['serviceAccountEmail']);
      assert.match(String(keyFile['private_key']), /BEGIN PRIVATE KEY/);
      assert.equal(
        JSON.parse(JSON.stringify(info)).accessToken,
        info['accessToken'],
        'the line is plain JSON',
      );
    } finally {
      await running.stop();
    }
  });
});
