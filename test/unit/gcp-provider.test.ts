import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { ManualClock } from '../../src/core/clock.js';
import { crc32c } from '../../src/core/crc32c.js';
import { EncryptionManager } from '../../src/core/crypto.js';
import type { StorageError } from '../../src/core/errors.js';
import { createMetadata } from '../../src/core/metadata.js';
import { encodeCredentialName } from '../../src/core/name-mapping.js';
import { SecretString } from '../../src/core/secret-string.js';
import { GcpSecretManagerProvider } from '../../src/providers/gcp-secret-manager.js';
import { mapGcpError } from '../../src/providers/gcp-secret-manager-errors.js';
import {
  annotationsOf,
  isLabelCompatible,
  labelsOf,
  listFilterOf,
  METADATA_ANNOTATION,
  metadataFromAnnotations,
} from '../../src/providers/gcp-secret-manager-labels.js';
import { GcpSecretManagerEmulator } from '../../src/testing/emulators/gcp.js';
import { storageErrorOf } from './local-helpers.js';

const clock = new ManualClock(Date.UTC(2026, 0, 1));
const emulator = new GcpSecretManagerEmulator({ clock });
const keys = EncryptionManager.generate();
let run = 0;

before(async () => {
  await emulator.start();
});
after(async () => {
  await emulator.stop();
});

function provider(transport: 'grpc' | 'rest' = 'grpc', extra: Record<string, unknown> = {}) {
  return new GcpSecretManagerProvider({
    ...emulator.providerOptions(transport),
    prefix: `u${++run}_`,
    clock,
    retry: { maxRetries: 0 },
    ...extra,
  });
}

describe('GCP labels and annotations', () => {
  it('label-compatible tags become labels; the annotation keeps every tag exactly', () => {
    const tags = { env: 'prod', Team: 'Billing', ünï: 'x', long: 'v'.repeat(64) };
    assert.deepEqual(labelsOf(tags), { env: 'prod', ünï: 'x' });
    assert.equal(isLabelCompatible('1env', 'x'), false);
    const metadata = createMetadata({ tags });
    const mirror = metadataFromAnnotations(annotationsOf(metadata));
    assert.deepEqual(mirror?.tags, tags);
    assert.equal(mirror?.createdAt.toISOString(), metadata.createdAt.toISOString());
    assert.equal(metadataFromAnnotations({ [METADATA_ANNOTATION]: 'not json' }), undefined);
  });

  it('list filters on labels server-side only for label-compatible tags', () => {
    assert.equal(listFilterOf({ env: 'prod', Team: 'x' }), 'labels.env="prod"');
    assert.equal(listFilterOf({ Team: 'x' }), undefined);
  });

  it('CRC32C matches the Castagnoli check value', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  });
});

describe('GCP errors from structured fields', () => {
  const cases: [number, string, boolean][] = [
    [5, 'NotFound', false],
    [7, 'PermissionDenied', false],
    [16, 'AuthenticationFailed', false],
    [6, 'Conflict', false],
    [8, 'RateLimited', true],
    [14, 'Unavailable', true],
    [4, 'Unavailable', true],
    [9, 'Conflict', false],
    [3, 'InvalidConfig', false],
  ];
  for (const [code, expected, retryable] of cases) {
    it(`gRPC status ${code} is ${expected}`, () => {
      const error = mapGcpError({ code, details: 'x' }, 'retrieve', 'api_key');
      assert.equal(error.code, expected);
      assert.equal(error.retryable, retryable);
    });
  }
  it('PERMISSION_DENIED names the permission from ErrorInfo; RESOURCE_EXHAUSTED keeps RetryInfo', () => {
    const denied = mapGcpError(
      {
        code: 7,
        reason: 'IAM_PERMISSION_DENIED',
        errorInfoMetadata: { permission: 'secretmanager.versions.access', resource: 'r' },
      },
      'retrieve',
      'k',
    );
    assert.equal(denied.details.permission, 'secretmanager.versions.access');
    const throttled = mapGcpError(
      { code: 8, statusDetails: [{ retryDelay: { seconds: 2 } }] },
      'retrieve',
      'k',
    );
    assert.equal(throttled.details.retryAfterMs, 2000);
  });
});

for (const transport of ['grpc', 'rest'] as const) {
  describe(`GCP provider against the emulator (${transport})`, () => {
    it('store is one request over a secret it knows, three when new; retrieve is one', async () => {
      const p = provider(transport);
      await p.connect();
      const data = keys.encrypt(Buffer.from('v1'));
      const metadata = createMetadata({ tags: { env: 'prod' } });
      let before = emulator.count();
      await p.store('api_key', data, metadata);
      assert.equal(
        emulator.count() - before,
        3,
        'AccessSecretVersion (NOT_FOUND: the overwrite rule), CreateSecret, AddSecretVersion',
      );
      assert.equal(p.writtenVersion('api_key'), '1');
      before = emulator.count();
      await p.store('api_key', keys.encrypt(Buffer.from('v1b')), metadata);
      assert.equal(
        emulator.count() - before,
        1,
        'AddSecretVersion (metadata remembered from the last write)',
      );
      before = emulator.count();
      await p.store('api_key', keys.encrypt(Buffer.from('v2')), metadata, undefined, { exactMetadata: true });
      assert.equal(emulator.count() - before, 1, 'exact metadata: AddSecretVersion only');
      assert.equal(p.writtenVersion('api_key'), '3');
      before = emulator.count();
      const got = await p.retrieve('api_key');
      assert.equal(emulator.count() - before, 1);
      assert.equal(got.version, '3');
      assert.equal(keys.decrypt(got.data).toString(), 'v2');
      const secret = emulator.state.find(p.secretId('api_key'))!;
      assert.deepEqual({ ...secret.labels }, { env: 'prod' });
      await p.close();
    });

    it('versions: history, an older version, and disabled/destroyed ones are Conflict, not NotFound', async () => {
      const p = provider(transport);
      for (const v of ['a', 'b', 'c']) await p.store('rot', keys.encrypt(Buffer.from(v)), createMetadata());
      const history = await p.versionHistory('rot');
      assert.deepEqual(
        history.versions.map((v) => v.version),
        [1, 2, 3],
      );
      assert.equal(keys.decrypt((await p.retrieveVersion('rot', 1)).data).toString(), 'a');
      const name = `projects/${emulator.projectId}/secrets/${p.secretId('rot')}/versions/`;
      emulator.state.changeVersion(`${name}3`, 'disable', undefined);
      emulator.state.changeVersion(`${name}2`, 'destroy', undefined);
      const disabled = await storageErrorOf(p.retrieve('rot'));
      assert.equal(disabled.code, 'Conflict');
      assert.equal(disabled.details.versionState, 'DISABLED');
      const destroyed = await storageErrorOf(p.retrieveVersion('rot', 2));
      assert.equal(destroyed.details.versionState, 'DESTROYED');
      assert.equal((await p.versionHistory('rot')).versions[1]!.state, 'DESTROYED');
      await p.close();
    });

    it('a payload that does not match its CRC32C is Corrupted', async () => {
      const p = provider(transport);
      await p.store('crc', keys.encrypt(Buffer.from('x')), createMetadata());
      const version = emulator.state.find(p.secretId('crc'))!.versions.at(-1)!;
      version.data = Buffer.concat([version.data!, Buffer.from(' ')]);
      const error = await storageErrorOf(p.retrieve('crc'));
      assert.equal(error.code, 'Corrupted');
      await p.close();
    });

    it('PERMISSION_DENIED names secretmanager.versions.access; RESOURCE_EXHAUSTED is RateLimited', async () => {
      const account = emulator.addServiceAccount(`reader-${transport}`, ['roles/secretmanager.viewer']);
      const p = provider(transport, { credentialsFile: account.keyFile });
      const denied = await storageErrorOf(p.retrieve('nope'));
      assert.equal(denied.code, 'PermissionDenied');
      assert.equal(denied.details.permission, 'secretmanager.versions.access');
      await p.close();
      const q = provider(transport);
      await q.connect();
      emulator.throttle(1, { rpc: 'AccessSecretVersion', transport });
      const throttled = await storageErrorOf(q.retrieve('nope'));
      assert.equal(throttled.code, 'RateLimited');
      assert.equal(throttled.retryable, true);
      await q.close();
    });

    it('tokens are refreshed before they expire on the emulator clock, never during a call', async () => {
      const p = provider(transport);
      await p.connect();
      assert.equal(p.tokenRequests, 1);
      await p.exists('t');
      assert.equal(p.tokenRequests, 1);
      clock.advance(56 * 60_000); // 4 minutes left: within the refresh margin
      assert.equal(await p.exists('t'), false);
      assert.equal(p.tokenRequests, 2);
      assert.equal(p.tokenState?.source, 'service-account');
      await p.close();
    });

    it('the metadata server gives tokens (GCE_METADATA_HOST) when no key is configured', async () => {
      const saved = { ...process.env };
      Object.assign(process.env, emulator.metadataEnvironment(), { CLOUDSDK_CONFIG: '/nonexistent' });
      delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      try {
        const { credentialsFile: _none, ...options } = emulator.providerOptions(transport);
        const p = new GcpSecretManagerProvider({ ...options, prefix: `m${++run}_`, clock });
        await p.store('meta', keys.encrypt(Buffer.from('m')), createMetadata());
        assert.equal(p.tokenState?.source, 'metadata-server');
        await p.close();
      } finally {
        process.env = saved;
      }
    });
  });
}

describe('GCP provider options', () => {
  it('refuses bad options at once, and explicit credentials never show', () => {
    const error = (() => {
      try {
        new GcpSecretManagerProvider({ projectId: 'Bad Project', prefix: 'a/b', transport: 'http' as never });
      } catch (e) {
        return e as StorageError;
      }
    })();
    assert.equal(error?.code, 'InvalidConfig');
    assert.equal((error?.details.issues as unknown[] | undefined)?.length, 3);
    const sentinel = 'SENTINEL-PRIVATE-KEY-6b1f';
    const p = new GcpSecretManagerProvider({
      projectId: 'acme-prod',
      credentials: JSON.stringify({ type: 'service_account', private_key: sentinel }),
    });
    assert.ok(!inspect(p, { depth: 10 }).includes(sentinel));
    assert.ok(!JSON.stringify(p).includes(sentinel));
  });
});

describe('GCP provider: credentials, paging and limits', () => {
  it('explicit credentials (object, text or SecretString) authenticate; the caller keeps its own', async () => {
    const key = JSON.parse(readFileSync(emulator.credentialsFile, 'utf8')) as Record<string, string> & {
      type: string;
    };
    const { credentialsFile: _file, ...options } = emulator.providerOptions('grpc');
    const mine = new SecretString(JSON.stringify(key));
    for (const credentials of [key, JSON.stringify(key), mine]) {
      const p = new GcpSecretManagerProvider({ ...options, credentials, prefix: `k${++run}_`, clock });
      await p.store('k', keys.encrypt(Buffer.from('k')), createMetadata());
      assert.ok(!inspect(p, { depth: 10 }).includes(key.private_key!.slice(40, 80)));
      await p.close();
    }
    assert.equal(mine.disposed, false, "close() disposes only the provider's copy");
    const broken = new GcpSecretManagerProvider({ ...options, credentials: 'SENTINEL-not-json', clock });
    const error = await storageErrorOf(broken.connect());
    assert.equal(error.code, 'InvalidConfig');
    assert.ok(!error.message.includes('SENTINEL'));
    await broken.close();
  });

  it('GOOGLE_APPLICATION_CREDENTIALS names the key file when no option does', async () => {
    const saved = process.env.GOOGLE_APPLICATION_CREDENTIALS;
    process.env.GOOGLE_APPLICATION_CREDENTIALS = emulator.credentialsFile;
    try {
      const { credentialsFile: _file, ...options } = emulator.providerOptions('rest');
      const p = new GcpSecretManagerProvider({ ...options, prefix: `e${++run}_`, clock });
      assert.equal(await p.exists('none'), false);
      assert.equal(p.tokenState?.source, 'service-account');
      await p.close();
    } finally {
      if (saved === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      else process.env.GOOGLE_APPLICATION_CREDENTIALS = saved;
    }
  });

  it('list pages with pageToken and filters on labels server-side', async () => {
    const p = provider('grpc');
    const prefix = `u${run}_`;
    const annotations = annotationsOf(createMetadata({ tags: { env: 'paged' } }));
    for (let i = 0; i < 260; i++) {
      emulator.seedSecret(encodeCredentialName(`id_${i}`, 'lowercase-dns', { prefix }), 'x', {
        labels: { env: i % 2 ? 'paged' : 'other' },
        annotations: i % 2 ? annotations : annotationsOf(createMetadata({ tags: { env: 'other' } })),
      });
    }
    await p.connect();
    let before = emulator.count('ListSecrets');
    assert.equal((await p.list()).filter((id) => id.startsWith('id_')).length, 260);
    assert.ok(emulator.count('ListSecrets') - before >= 2, 'more than one page');
    before = emulator.count('ListSecrets');
    const paged = await p.list({ tags: { env: 'paged' } });
    assert.equal(paged.length, 130);
    assert.equal(emulator.count('ListSecrets') - before, 1, 'the label filter ran in the service');
    await p.close();
  });

  it('annotations over 16 KiB and payloads over 64 KiB are refused before any request', async () => {
    const p = provider('grpc');
    await p.connect();
    const before = emulator.count();
    const tags: Record<string, string> = {};
    for (let i = 0; i < 60; i++) tags[`Tag${i}`] = 'v'.repeat(300);
    const error = await storageErrorOf(
      p.store('big', keys.encrypt(Buffer.from('x')), createMetadata({ tags })),
    );
    assert.equal(error.code, 'InvalidMetadata');
    assert.match(error.message, /annotations/);
    const tooBig = await storageErrorOf(p.store('big', keys.encrypt(Buffer.alloc(46_000)), createMetadata()));
    assert.equal(tooBig.code, 'SizeLimitExceeded');
    assert.equal(emulator.count(), before);
    await p.close();
  });
});
