import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import * as api from '../../src/index.js';
import { MemoryStorageProvider } from '../../src/providers/memory.js';

const { CredentialId, CredentialStore, EncryptionManager, SecretString, StorageError, StorageMetrics } = api;

const SENTINEL = 'SENTINEL-xyz-7c41d9';

/**
 * Runs `call` and checks the one promise of the public API for bad arguments: a StorageError (never a raw
 * TypeError) with the expected code, whose message, inspection and JSON never contain the sentinel.
 */
async function refuses(
  label: string,
  call: () => unknown,
  code: api.StorageErrorCode,
  secrets: readonly string[] = [SENTINEL],
): Promise<api.StorageError> {
  let error: unknown;
  try {
    await call();
  } catch (e) {
    error = e;
  }
  assert.ok(error !== undefined, `${label}: accepted`);
  assert.ok(error instanceof StorageError, `${label}: not a StorageError: ${inspect(error)}`);
  assert.equal(error.code, code, `${label}: ${error.code}: ${error.message}`);
  for (const text of [error.message, inspect(error), JSON.stringify(error)]) {
    for (const secret of secrets) assert.ok(!text.includes(secret), `${label} leaks a value: ${text}`);
  }
  return error;
}

const memory = () => new MemoryStorageProvider();
const openMemoryStore = () =>
  api.openCredentialStore({ storage: memory(), encryption: { key: randomBytes(32) } });

describe('openCredentialStore arguments', () => {
  it('refuses a missing or non-object options argument', async () => {
    for (const bad of [undefined, null, SENTINEL, 42, []]) {
      await refuses(`options ${inspect(bad)}`, () => api.openCredentialStore(bad as never), 'InvalidConfig');
    }
  });

  it('says which encryption sources exist for null, {} and other shapes', async () => {
    for (const bad of [null, {}, SENTINEL, 7, [], { passphraseFile: '/nope' }, { colour: SENTINEL }]) {
      const e = await refuses(
        `encryption ${inspect(bad)}`,
        () => api.openCredentialStore({ storage: memory(), encryption: bad as never }),
        'InvalidConfig',
      );
      for (const source of ['keyFile', 'key', 'passphrase', 'manager']) {
        assert.ok(e.message.includes(source), `${e.message} should name ${source}`);
      }
      assert.ok(!/undefined/.test(e.message), e.message);
    }
  });

  it('refuses a wrongly typed or ambiguous encryption source without echoing it', async () => {
    const keyHex = randomBytes(32).toString('hex');
    const cases: [string, unknown, string[]?][] = [
      ['key as a string', { key: SENTINEL }],
      ['key of 31 bytes', { key: Buffer.alloc(31) }],
      ['two sources', { key: randomBytes(32), keyFile: '/k' }],
      ['passphrase without salt', { passphrase: SENTINEL }],
      ['passphrase not a string', { passphrase: 12345, salt: randomBytes(16) }],
      ['salt not bytes', { passphrase: SENTINEL, salt: 12345 }],
      ['keyFile not a string', { keyFile: 12345 }],
      ['keyFile empty', { keyFile: '' }],
      ['keyFile holding a key', { keyFile: keyHex }, [keyHex]],
      ['manager not a manager', { manager: { keyId: SENTINEL } }],
      ['manager a string', { manager: SENTINEL }],
      ['unknown member beside a source', { key: randomBytes(32), extra: SENTINEL }],
    ];
    for (const [label, encryption, secrets] of cases) {
      await refuses(
        label,
        () => api.openCredentialStore({ storage: memory(), encryption: encryption as never }),
        'InvalidConfig',
        [SENTINEL, ...(secrets ?? [])],
      );
    }
  });

  it('refuses a bad storage member and unknown options', async () => {
    const encryption = { key: randomBytes(32) };
    for (const storage of [undefined, null, SENTINEL, 5, { store: SENTINEL }]) {
      await refuses(
        `storage ${inspect(storage)}`,
        () => api.openCredentialStore({ storage: storage as never, encryption }),
        'InvalidConfig',
      );
    }
    await refuses(
      'unknown option',
      () => api.openCredentialStore({ storage: memory(), encryption, extra: SENTINEL } as never),
      'InvalidConfig',
    );
  });
});

describe('CredentialStore arguments', () => {
  it('refuses values that are not a string, bytes or a SecretString, naming the type only', async () => {
    const store = await openMemoryStore();
    for (const bad of [12345, null, undefined, { value: SENTINEL }, [SENTINEL], true]) {
      const e = await refuses(`value ${inspect(bad)}`, () => store.put('n', bad as never), 'InvalidConfig');
      assert.ok(!e.message.includes('12345'), e.message);
    }
    assert.equal(await store.exists('n'), false);
    await store.close();
  });

  it('refuses bad ids with InvalidId and never echoes them', async () => {
    const store = await openMemoryStore();
    for (const bad of [`${SENTINEL} x`, `../${SENTINEL}`, 12345, null, {}, [], '']) {
      await refuses(`id ${inspect(bad)}`, () => store.put(bad as never, 'v'), 'InvalidId');
      await refuses(`get ${inspect(bad)}`, () => store.get(bad as never), 'InvalidId');
      await refuses(`describe ${inspect(bad)}`, () => store.describe(bad as never), 'InvalidId');
      await refuses(`delete ${inspect(bad)}`, () => store.delete(bad as never), 'InvalidId');
      await refuses(`exists ${inspect(bad)}`, () => store.exists(bad as never), 'InvalidId');
    }
    await store.close();
  });

  it('refuses bad put options, tags and rotation policies', async () => {
    const store = await openMemoryStore();
    const put = (options: unknown) => () => store.put('n', 'v', options as never);
    await refuses('options string', put(SENTINEL), 'InvalidConfig');
    await refuses('options number', put(5), 'InvalidConfig');
    await refuses('unknown put option', put({ tag: { a: SENTINEL } }), 'InvalidConfig');
    await refuses('tags string', put({ tags: SENTINEL }), 'InvalidMetadata');
    await refuses('tags null', put({ tags: null }), 'InvalidMetadata');
    await refuses('tags array', put({ tags: [SENTINEL] }), 'InvalidMetadata');
    await refuses('tag value number', put({ tags: { k: 12345 } }), 'InvalidMetadata');
    await refuses('tag value object', put({ tags: { k: { v: SENTINEL } } }), 'InvalidMetadata');
    await refuses('rotation string', put({ rotationPolicy: SENTINEL }), 'InvalidMetadata');
    await refuses('rotation null', put({ rotationPolicy: null }), 'InvalidMetadata');
    await refuses(
      'rotation days string',
      put({ rotationPolicy: { intervalDays: SENTINEL } }),
      'InvalidMetadata',
    );
    await refuses(
      'rotation days fraction',
      put({ rotationPolicy: { intervalDays: 1.5 } }),
      'InvalidMetadata',
    );
    await refuses('context string', put({ context: SENTINEL }), 'InvalidConfig');
    await refuses('context without owner', put({ context: { traceId: SENTINEL } }), 'InvalidConfig');
    assert.equal(await store.exists('n'), false);
    await store.close();
  });

  it('refuses bad contexts and filters on every method', async () => {
    const store = await openMemoryStore();
    await store.put('n', 'v');
    for (const context of [SENTINEL, 5, { ownerId: 12345, traceId: 't' }, { ownerId: 'o', traceId: 7 }]) {
      const c = context as never;
      await refuses(`get context ${inspect(context)}`, () => store.get('n', c), 'InvalidConfig');
      await refuses(`describe context`, () => store.describe('n', c), 'InvalidConfig');
      await refuses(`exists context`, () => store.exists('n', c), 'InvalidConfig');
      await refuses(`delete context`, () => store.delete('n', c), 'InvalidConfig');
      await refuses(`list context`, () => store.list(undefined, c), 'InvalidConfig');
    }
    for (const filter of [SENTINEL, 5, [], { tags: SENTINEL }, { createdAfter: SENTINEL }]) {
      await refuses(`filter ${inspect(filter)}`, () => store.list(filter as never), 'InvalidMetadata');
    }
    assert.equal(await store.exists('n'), true);
    await store.close();
  });

  it('refuses a constructor given something other than a provider and a manager', async () => {
    await refuses(
      'provider null',
      () => new CredentialStore(null as never, EncryptionManager.generate()),
      'InvalidConfig',
    );
    await refuses('manager string', () => new CredentialStore(memory(), SENTINEL as never), 'InvalidConfig');
    await refuses(
      'store options',
      () => new CredentialStore(memory(), EncryptionManager.generate(), SENTINEL as never),
      'InvalidConfig',
    );
  });
});

describe('createStorageProvider arguments', () => {
  it('refuses non-object configs and options', async () => {
    for (const bad of [undefined, null, SENTINEL, 5, []]) {
      await refuses(`config ${inspect(bad)}`, () => api.createStorageProvider(bad as never), 'InvalidConfig');
    }
    for (const bad of [null, SENTINEL, 5, { connect: SENTINEL }, { signal: SENTINEL }, { colour: 1 }]) {
      await refuses(
        `options ${inspect(bad)}`,
        () => api.createStorageProvider({ provider: 'memory' }, bad as never),
        'InvalidConfig',
      );
    }
  });

  it('refuses bad common options of memory and local without a raw TypeError or the value', async () => {
    const configs: unknown[] = [
      { provider: 'memory', logger: null },
      { provider: 'memory', logger: SENTINEL },
      { provider: 'memory', clock: null },
      { provider: 'memory', clock: SENTINEL },
      { provider: 'memory', retry: SENTINEL },
      { provider: 'memory', retry: null },
      { provider: 'memory', retry: { maxRetries: SENTINEL } },
      { provider: 'memory', timeouts: SENTINEL },
      { provider: 'memory', timeouts: { readMs: SENTINEL } },
      { provider: 'memory', metrics: SENTINEL },
      { provider: 'memory', maxCredentialSize: SENTINEL },
      { provider: 'local', directory: 12345 },
      { provider: 'local', insecurePermissions: SENTINEL },
      { provider: 'local', createDirectory: SENTINEL },
    ];
    for (const config of configs) {
      await refuses(
        inspect(config),
        () => api.createStorageProvider(config as never, { connect: false }),
        'InvalidConfig',
      );
    }
  });
});

describe('provider arguments', () => {
  it('refuses malformed encrypted data and metadata before any I/O', async () => {
    const provider = memory();
    const data = EncryptionManager.generate().encrypt(Buffer.from('v'));
    const metadata = api.createMetadata();
    const badData = [null, SENTINEL, {}, { ...data, ciphertext: SENTINEL }, { ...data, nonce: 5 }];
    for (const d of badData) {
      await refuses(`data ${inspect(d)}`, () => provider.store('a', d as never, metadata), 'InvalidConfig');
    }
    for (const m of [null, SENTINEL, {}, { ...metadata, tags: SENTINEL }]) {
      await refuses(`metadata ${inspect(m)}`, () => provider.store('a', data, m as never), 'InvalidMetadata');
    }
    assert.equal(provider.calls.store ?? 0, 0);
    await provider.close();
  });
});

describe('EncryptionManager arguments', () => {
  it('refuses bad keys, passphrases, salts, plaintexts and encrypted data', async () => {
    await refuses('fromKey string', () => EncryptionManager.fromKey(SENTINEL as never), 'InvalidConfig');
    await refuses('fromKey null', () => EncryptionManager.fromKey(null as never), 'InvalidConfig');
    await refuses(
      'fromPassphrase number',
      () => EncryptionManager.fromPassphrase(12345 as never, randomBytes(16)),
      'InvalidConfig',
    );
    await refuses(
      'fromPassphrase salt string',
      () => EncryptionManager.fromPassphrase(SENTINEL, SENTINEL as never),
      'InvalidConfig',
    );
    const manager = EncryptionManager.generate();
    for (const plaintext of [SENTINEL, 12345, null, { a: SENTINEL }]) {
      await refuses(
        `encrypt ${inspect(plaintext)}`,
        () => manager.encrypt(plaintext as never),
        'InvalidConfig',
      );
    }
    await refuses(
      'encrypt associated data string',
      () => manager.encrypt(Buffer.from('x'), SENTINEL as never),
      'InvalidConfig',
    );
    const good = manager.encrypt(Buffer.from('x'));
    for (const data of [null, SENTINEL, {}, { ...good, ciphertext: SENTINEL }, { ...good, keyId: 5 }]) {
      await refuses(`decrypt ${inspect(data)}`, () => manager.decrypt(data as never), 'InvalidConfig');
    }
    await refuses('encryptedDataToJson null', () => api.encryptedDataToJson(null as never), 'InvalidConfig');
    await refuses('resolveEncryption null', () => api.resolveEncryption(null as never), 'InvalidConfig');
    await refuses('readKeyFile number', () => api.readKeyFile(12345 as never), 'InvalidConfig');
  });
});

describe('SecretString, CredentialId, metadata and helper arguments', () => {
  it('SecretString refuses what is not a string or bytes', async () => {
    for (const bad of [12345, null, undefined, { v: SENTINEL }]) {
      await refuses(
        `new SecretString(${inspect(bad)})`,
        () => new SecretString(bad as never),
        'InvalidConfig',
      );
    }
    await refuses('fromOwnedBuffer', () => SecretString.fromOwnedBuffer(SENTINEL as never), 'InvalidConfig');
    const s = new SecretString('x');
    assert.equal(s.equals(12345 as never), false);
    await refuses('use string', () => s.use(SENTINEL as never), 'InvalidConfig');
    await refuses('useBytes null', () => s.useBytes(null as never), 'InvalidConfig');
  });

  it('CredentialId refuses non-strings and never echoes the id', async () => {
    for (const bad of [12345, null, undefined, {}, `${SENTINEL}/x`]) {
      await refuses(`parse ${inspect(bad)}`, () => CredentialId.parse(bad), 'InvalidId');
      await refuses(`from ${inspect(bad)}`, () => CredentialId.from(bad as never), 'InvalidId');
    }
    assert.equal(CredentialId.parse('a').equals(5 as never), false);
  });

  it('createMetadata, validateMetadata, metadataToJson, createContext, name mapping, metrics and bounded reads refuse bad arguments', async () => {
    const metrics = new StorageMetrics();
    const file = { maxBytes: 10, what: 'the file' };
    const cases: [string, () => unknown, api.StorageErrorCode][] = [
      ['createMetadata string', () => api.createMetadata(SENTINEL as never), 'InvalidMetadata'],
      ['createMetadata null', () => api.createMetadata(null as never), 'InvalidMetadata'],
      ['createMetadata tags', () => api.createMetadata({ tags: SENTINEL as never }), 'InvalidMetadata'],
      ['createMetadata now', () => api.createMetadata({ now: SENTINEL as never }), 'InvalidMetadata'],
      [
        'createMetadata date string',
        () => api.createMetadata({ now: '2020-01-01' as never }),
        'InvalidMetadata',
      ],
      ['validateMetadata null', () => api.validateMetadata(null as never), 'InvalidMetadata'],
      ['validateMetadata string', () => api.validateMetadata(SENTINEL as never), 'InvalidMetadata'],
      ['metadataToJson null', () => api.metadataToJson(null as never), 'InvalidMetadata'],
      ['createContext owner', () => api.createContext(12345 as never), 'InvalidConfig'],
      ['createContext options', () => api.createContext('svc', SENTINEL as never), 'InvalidConfig'],
      ['createContext trace', () => api.createContext('svc', { traceId: 5 as never }), 'InvalidConfig'],
      ['encode profile', () => api.encodeCredentialName('a', SENTINEL as never), 'InvalidConfig'],
      ['decode name', () => api.decodeCredentialName(12345 as never, 'filesystem'), 'InvalidConfig'],
      ['decode profile', () => api.decodeCredentialName('a', SENTINEL as never), 'InvalidConfig'],
      ['bridge meter', () => api.bridgeMetricsToOpenTelemetry(metrics, SENTINEL as never), 'InvalidConfig'],
      ['readBoundedFile path', () => api.readBoundedFile(12345 as never, file), 'InvalidConfig'],
      ['readBoundedFile options', () => api.readBoundedFile('/etc/hostname', null as never), 'InvalidConfig'],
      [
        'readBoundedFile maxBytes',
        () => api.readBoundedFile('/etc/hostname', { ...file, maxBytes: Number.NaN }),
        'InvalidConfig',
      ],
      ...[null, SENTINEL, 5, { operation: SENTINEL }, { retry: 5 }].map(
        (bad): [string, () => unknown, api.StorageErrorCode] => [
          `subscribe ${inspect(bad)}`,
          () => metrics.subscribe(bad as never),
          'InvalidConfig',
        ],
      ),
    ];
    for (const [label, call, code] of cases) await refuses(label, call, code);
  });

  it('a metrics listener that throws never fails the operation it observes', async () => {
    const metrics = new StorageMetrics();
    metrics.subscribe({
      operation() {
        throw new Error(SENTINEL);
      },
    });
    const provider = await api.createStorageProvider({ provider: 'memory', metrics });
    assert.equal(await provider.exists('a'), false);
    assert.equal(metrics.snapshot().find((s) => s.operation === 'exists')?.count, 1);
    await provider.close();
  });
});
