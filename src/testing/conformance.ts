import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { type EncryptedData, EncryptionManager } from '../core/crypto.js';
import { StorageError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { type CredentialMetadata, createMetadata } from '../core/metadata.js';
import type { StorageProvider } from '../core/provider.js';
import { CredentialStore } from '../core/store.js';
import { type CapturedLogger, capturingLogger, rejectsWithCode } from './assertions.js';

/**
 * The parts of a test runner the suite uses: `node:test`'s `describe`/`it` fit, as do vitest's and mocha's.
 */
export interface ConformanceTestApi {
  /** Declares a group of tests (`node:test`'s `describe`, or vitest's, jest's, mocha's). */
  describe(name: string, fn: () => void): unknown;
  /** Declares one test; `fn` may return a promise. */
  it(name: string, fn: () => Promise<void> | void): unknown;
}

/** What the suite hands the factory for each test. */
export interface ConformanceFactoryContext {
  /** A logger that records every line; pass it to the provider so the suite can check logs for secrets. */
  logger: Logger;
}

/** Options of {@link runStorageProviderConformance}. */
export interface ConformanceOptions {
  /** Name shown in the test titles. */
  name: string;
  /**
   * Returns a fresh, connected provider whose store is empty (a new emulator, directory or prefix). The
   * suite closes it after the test.
   */
  createProvider(context: ConformanceFactoryContext): Promise<StorageProvider>;
  /**
   * Backend requests made so far (emulator request log, memory provider calls). Lets the suite check that
   * invalid ids and oversize values are refused before any request.
   */
  requestCount?: () => number;
  /** Secrets from the provider's configuration (tokens, keys) that must never show in errors or logs. */
  configSecrets?: readonly string[];
  /** Number of ids stored for the pagination test. Default 120. */
  manyIds?: number;
  /** Concurrent writers in the same-id race. Default 8. */
  concurrentWriters?: number;
  /**
   * The exact backend requests (by {@link requestCount}) each facade call makes, asserted when given: a `put`
   * of a new id, a `put` over an existing one (no tags given: the overwrite rule keeps them), and a `get`.
   */
  facadeRequests?: {
    putNew: number;
    putOverwrite: number;
    get: number;
    /** A `put` of an id a `get` just found missing (the provider remembers the miss): asserted when given. */
    putAfterMiss?: number | undefined;
    /** A `create` of a new id in a fresh process (nothing remembered): asserted when given. */
    create?: number | undefined;
  };
}

function uniqueTag(): string {
  return `run${randomBytes(6).toString('hex')}`;
}

function encrypted(bytes: Uint8Array, keyId = 'conformance0000'): EncryptedData {
  return { version: 1, keyId, nonce: randomBytes(12), ciphertext: bytes, tag: randomBytes(16) };
}

function assertSameData(actual: EncryptedData, expected: EncryptedData): void {
  assert.equal(actual.version, expected.version);
  assert.equal(actual.keyId, expected.keyId);
  assert.deepEqual(Buffer.from(actual.nonce), Buffer.from(expected.nonce));
  assert.deepEqual(Buffer.from(actual.tag), Buffer.from(expected.tag));
  assert.ok(Buffer.from(actual.ciphertext).equals(Buffer.from(expected.ciphertext)), 'ciphertext differs');
}

function assertSameMetadata(actual: CredentialMetadata, expected: CredentialMetadata): void {
  assert.equal(actual.createdAt.toISOString(), expected.createdAt.toISOString());
  assert.equal(actual.lastModified.toISOString(), expected.lastModified.toISOString());
  assert.equal(actual.lastAccessed?.toISOString(), expected.lastAccessed?.toISOString());
  assert.deepEqual(actual.rotationPolicy, expected.rotationPolicy);
  assert.deepEqual(actual.tags, expected.tags);
}

const rejectsWith = rejectsWithCode;

async function inBatches<T>(
  items: readonly T[],
  size: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/**
 * Registers the storage contract as tests on the given runner, so every provider (and third-party ones)
 * is held to the same behaviour: byte-exact round trips, overwrite, `NotFound`, idempotent delete, list
 * filters and pagination, `exists`, concurrent writers, edge ids, exact metadata, size limits checked before
 * any request, and no secret in any error or log line.
 *
 * @example
 * ```ts
 * import { describe, it } from 'node:test';
 * import { runStorageProviderConformance } from 'nebula-credential/testing';
 * import { MemoryStorageProvider } from 'nebula-credential/memory';
 *
 * runStorageProviderConformance({ describe, it }, {
 *   name: 'memory',
 *   createProvider: async ({ logger }) => new MemoryStorageProvider({ logger }),
 * });
 * ```
 */
export function runStorageProviderConformance(api: ConformanceTestApi, options: ConformanceOptions): void {
  const { describe, it } = api;
  const requests = options.requestCount ?? (() => 0);

  const withProvider =
    (fn: (provider: StorageProvider, logger: CapturedLogger) => Promise<void>) => async (): Promise<void> => {
      const logger = capturingLogger();
      const provider = await options.createProvider({ logger });
      try {
        await fn(provider, logger);
      } finally {
        await provider.close();
      }
    };

  describe(`StorageProvider conformance: ${options.name}`, () => {
    it(
      'round-trips every byte value, the envelope fields and the metadata exactly',
      withProvider(async (p) => {
        const bytes = Buffer.alloc(512);
        for (let i = 0; i < bytes.length; i++) bytes[i] = i % 256;
        const data = encrypted(bytes);
        const metadata = createMetadata({ tags: { kind: 'binary' }, rotationPolicy: { intervalDays: 30 } });
        metadata.lastAccessed = new Date(metadata.createdAt.getTime() + 1234);
        await p.store('binary_roundtrip', data, metadata);
        const back = await p.retrieve('binary_roundtrip');
        assertSameData(back.data, data);
        assertSameMetadata(back.metadata, metadata);
      }),
    );

    it(
      'round-trips an empty ciphertext',
      withProvider(async (p) => {
        const data = encrypted(new Uint8Array(0));
        await p.store('empty_value', data, createMetadata());
        assertSameData((await p.retrieve('empty_value')).data, data);
      }),
    );

    it(
      'overwrites an existing credential with the latest value',
      withProvider(async (p) => {
        const first = encrypted(Buffer.from('first'));
        const second = encrypted(Buffer.from('second value'));
        await p.store('overwrite_me', first, createMetadata({ tags: { v: '1' } }));
        const m2 = createMetadata({ tags: { v: '2' } });
        await p.store('overwrite_me', second, m2);
        const back = await p.retrieve('overwrite_me');
        assertSameData(back.data, second);
        assert.deepEqual(back.metadata.tags, { v: '2' });
        assert.deepEqual(await p.list(), ['overwrite_me']);
      }),
    );

    it(
      'throws NotFound, naming the id, for a credential that was never stored',
      withProvider(async (p) => {
        const error = await rejectsWith(p.retrieve('never_stored'), 'NotFound');
        assert.equal(error.credentialId, 'never_stored');
        assert.equal(error.retryable, false);
      }),
    );

    it(
      'deletes idempotently, after which retrieve is NotFound and exists is false',
      withProvider(async (p) => {
        await p.delete('not_there');
        await p.store('delete_me', encrypted(Buffer.from('x')), createMetadata());
        await p.delete('delete_me');
        await p.delete('delete_me');
        await rejectsWith(p.retrieve('delete_me'), 'NotFound');
        assert.equal(await p.exists('delete_me'), false);
        assert.deepEqual(await p.list(), []);
      }),
    );

    it(
      'follows the exists lifecycle: false, true after store, false after delete',
      withProvider(async (p) => {
        assert.equal(await p.exists('lifecycle'), false);
        await p.store('lifecycle', encrypted(Buffer.from('v')), createMetadata());
        assert.equal(await p.exists('lifecycle'), true);
        await p.delete('lifecycle');
        assert.equal(await p.exists('lifecycle'), false);
      }),
    );

    it(
      'lists exactly the stored ids, and filters by tags (all must match) and inclusive creation dates',
      withProvider(async (p) => {
        const run = uniqueTag();
        const t0 = new Date(Date.UTC(2026, 0, 10, 12, 0, 0, 0));
        const at = (days: number) => new Date(t0.getTime() + days * 86_400_000);
        const put = (id: string, days: number, tags: Record<string, string>) =>
          p.store(id, encrypted(Buffer.from(id)), createMetadata({ tags: { run, ...tags }, now: at(days) }));
        await put('prod_db', 0, { env: 'prod', team: 'data' });
        await put('prod_api', 1, { env: 'prod', team: 'web' });
        await put('dev_api', 2, { env: 'dev', team: 'web' });
        assert.deepEqual(await p.list(), ['dev_api', 'prod_api', 'prod_db']);
        assert.deepEqual(await p.list({ tags: { run, env: 'prod' } }), ['prod_api', 'prod_db']);
        assert.deepEqual(await p.list({ tags: { run, env: 'prod', team: 'web' } }), ['prod_api']);
        assert.deepEqual(await p.list({ tags: { run, env: 'staging' } }), []);
        assert.deepEqual(await p.list({ tags: { run }, createdAfter: at(1) }), ['dev_api', 'prod_api']);
        assert.deepEqual(await p.list({ tags: { run }, createdBefore: at(1) }), ['prod_api', 'prod_db']);
        assert.deepEqual(await p.list({ createdAfter: at(1), createdBefore: at(1) }), ['prod_api']);
        assert.deepEqual(await p.list({ tags: { run, env: 'dev' }, createdBefore: at(1) }), []);
      }),
    );

    it(
      'lists more ids than one page holds',
      withProvider(async (p) => {
        const count = options.manyIds ?? 120;
        const ids = Array.from({ length: count }, (_, i) => `page_${String(i).padStart(4, '0')}`);
        await inBatches(ids, 8, (id) =>
          p.store(id, encrypted(Buffer.from(id)), createMetadata({ tags: { bulk: 'yes' } })),
        );
        assert.deepEqual(await p.list(), ids);
        assert.deepEqual(await p.list({ tags: { bulk: 'yes' } }), ids);
      }),
    );

    it(
      'survives concurrent stores to one id: the result is exactly one of the written values',
      withProvider(async (p) => {
        const writers = options.concurrentWriters ?? 8;
        const values = Array.from({ length: writers }, (_, i) => encrypted(randomBytes(256 + i)));
        const results = await Promise.allSettled(
          values.map((v, i) => p.store('contended', v, createMetadata({ tags: { writer: String(i) } }))),
        );
        for (const r of results) {
          if (r.status === 'rejected') {
            // A backend may refuse a lost optimistic-concurrency race, but only with Conflict.
            assert.ok(r.reason instanceof StorageError && r.reason.code === 'Conflict', inspect(r.reason));
          }
        }
        assert.ok(
          results.some((r) => r.status === 'fulfilled'),
          'no writer succeeded',
        );
        const back = await p.retrieve('contended');
        const index = values.findIndex((v) =>
          Buffer.from(v.ciphertext).equals(Buffer.from(back.data.ciphertext)),
        );
        assert.ok(index >= 0, 'stored value is none of the written ones');
        assertSameData(back.data, values[index]!);
        assert.equal(back.metadata.tags['writer'], String(index), 'metadata belongs to another writer');
      }),
    );

    it(
      'keeps edge ids distinct and exact: longest id, Unicode, case, leading and trailing - and _',
      withProvider(async (p) => {
        const longest = 'a'.repeat(p.capabilities.maxIdBytes);
        const ids = [longest, 'Token', 'token', 'TOKEN', 'пароль_é_東京', '-_edge_-', '_', '-', 'x1'];
        for (const id of ids) await p.store(id, encrypted(Buffer.from(`value of ${id}`)), createMetadata());
        assert.deepEqual(await p.list(), [...ids].sort());
        for (const id of ids) {
          const back = await p.retrieve(id);
          assert.equal(
            Buffer.from(back.data.ciphertext).toString(),
            `value of ${id}`,
            `wrong value for ${id}`,
          );
        }
        await p.delete('Token');
        assert.equal(await p.exists('token'), true);
        assert.equal(await p.exists('TOKEN'), true);
        assert.equal(await p.exists('Token'), false);
      }),
    );

    it(
      'refuses invalid ids with InvalidId before any request',
      withProvider(async (p) => {
        const before = requests();
        const tooLong = 'a'.repeat(p.capabilities.maxIdBytes + 1);
        for (const bad of [
          '',
          '.',
          '..',
          'a/b',
          '../etc/passwd',
          'a\\b',
          'a\0b',
          'a b',
          'a.b',
          'é'.repeat(128),
          tooLong,
        ]) {
          await rejectsWith(p.store(bad, encrypted(Buffer.from('x')), createMetadata()), 'InvalidId');
          await rejectsWith(p.retrieve(bad), 'InvalidId');
          await rejectsWith(p.exists(bad), 'InvalidId');
          await rejectsWith(p.delete(bad), 'InvalidId');
        }
        assert.equal(requests(), before, 'an invalid id reached the backend');
      }),
    );

    it(
      'round-trips metadata with Unicode tags exactly',
      withProvider(async (p) => {
        const metadata = createMetadata({
          tags: {
            équipe: 'Plateforme-東京',
            owner: 'Zoë Ångström',
            env: 'prod',
            'app.kubernetes/part': 'a=b:c@d+e',
          },
          rotationPolicy: { intervalDays: 90 },
        });
        await p.store('unicode_tags', encrypted(Buffer.from('v')), metadata);
        assertSameMetadata((await p.retrieve('unicode_tags')).metadata, metadata);
        assert.deepEqual(await p.list({ tags: { équipe: 'Plateforme-東京' } }), ['unicode_tags']);
      }),
    );

    it(
      'accepts a value of exactly the size limit and refuses one byte more before any request',
      withProvider(async (p) => {
        const limit = p.capabilities.maxCredentialSize;
        const atLimit = encrypted(randomBytes(limit));
        await p.store('at_limit', atLimit, createMetadata());
        assertSameData((await p.retrieve('at_limit')).data, atLimit);
        const before = requests();
        const error = await rejectsWith(
          p.store('over_limit', encrypted(randomBytes(limit + 1)), createMetadata()),
          'SizeLimitExceeded',
        );
        assert.equal(error.details.limit, limit);
        assert.equal(error.details.size, limit + 1);
        assert.equal(error.provider, p.name);
        assert.equal(requests(), before, 'the oversize value reached the backend');
        assert.equal(await p.exists('over_limit'), false);
      }),
    );

    it(
      'never shows a secret in errors, inspection, JSON or log lines',
      withProvider(async (p, logger) => {
        const sentinel = `SENTINEL-${randomBytes(12).toString('hex')}`;
        const store = new CredentialStore(p, EncryptionManager.generate());
        await store.put('sentinel_id', sentinel);
        const { secret } = await store.get('sentinel_id');
        assert.equal(secret.expose(), sentinel);
        const rendered = [String(secret), `${secret}`, JSON.stringify({ secret }), inspect(secret)];
        const errors: unknown[] = [];
        const capture = (promise: Promise<unknown>) =>
          promise.then(
            () => assert.fail('expected failure'),
            (e) => errors.push(e),
          );
        await capture(store.get('missing_one'));
        await capture(
          store.put(
            'big_one',
            sentinel.repeat(Math.ceil((p.capabilities.maxCredentialSize + 1) / sentinel.length)),
          ),
        );
        await capture(new CredentialStore(p, EncryptionManager.generate()).get('sentinel_id'));
        await capture(store.put('bad id', sentinel));
        await capture(store.create('sentinel_id', sentinel));
        for (const e of errors) {
          assert.ok(e instanceof StorageError);
          rendered.push(e.message, JSON.stringify(e), inspect(e, { depth: 10 }), String(e.stack));
        }
        let providerJson = '';
        try {
          providerJson = JSON.stringify(p) ?? '';
        } catch {
          providerJson = '';
        }
        rendered.push(inspect(p, { depth: 6 }), providerJson, ...logger.lines);
        const forbidden = [
          sentinel,
          Buffer.from(sentinel).toString('base64'),
          ...(options.configSecrets ?? []),
        ];
        for (const text of rendered) {
          for (const f of forbidden)
            assert.ok(!text.includes(f), `a secret leaked into: ${text.slice(0, 200)}`);
        }
        secret.dispose();
      }),
    );

    it(
      'follows the overwrite rule: createdAt kept; tags and rotation policy replaced, or kept when asked',
      withProvider(async (p) => {
        const first = createMetadata({
          tags: { team: 'a', env: 'prod' },
          rotationPolicy: { intervalDays: 30 },
          now: new Date('2026-01-02T03:04:05.678Z'),
        });
        await p.store('rule_id', encrypted(Buffer.from('one')), first);
        const kept = createMetadata({ now: new Date('2026-02-01T00:00:00.001Z') });
        await p.store('rule_id', encrypted(Buffer.from('two')), kept, undefined, {
          keepTags: true,
          keepRotationPolicy: true,
        });
        let back = (await p.retrieve('rule_id')).metadata;
        assert.equal(back.createdAt.toISOString(), first.createdAt.toISOString());
        assert.equal(back.lastModified.toISOString(), kept.lastModified.toISOString());
        assert.deepEqual(back.tags, first.tags);
        assert.deepEqual(back.rotationPolicy, { intervalDays: 30 });
        const replaced = createMetadata({ tags: { team: 'b' }, now: new Date('2026-03-01T00:00:00.002Z') });
        await p.store('rule_id', encrypted(Buffer.from('three')), replaced, undefined, { keepTags: false });
        back = (await p.retrieve('rule_id')).metadata;
        assert.equal(back.createdAt.toISOString(), first.createdAt.toISOString());
        assert.deepEqual(back.tags, { team: 'b' }, 'given tags replace the old ones');
        assert.equal(back.rotationPolicy, undefined, 'a rotation policy not kept is replaced by none');
        await p.store('rule_id', encrypted(Buffer.from('four')), createMetadata(), undefined, {
          keepRotationPolicy: true,
        });
        back = (await p.retrieve('rule_id')).metadata;
        assert.deepEqual(back.tags, {}, 'tags not kept are replaced by the (empty) given ones');
        assert.equal(back.createdAt.toISOString(), first.createdAt.toISOString());
        // A copy or migration writes its metadata exactly, creation time included.
        const exact = createMetadata({ tags: { copied: 'yes' }, now: new Date('2025-05-05T05:05:05.505Z') });
        await p.store('rule_id', encrypted(Buffer.from('five')), exact, undefined, { exactMetadata: true });
        assertSameMetadata((await p.retrieve('rule_id')).metadata, exact);
      }),
    );

    it(
      'put through the facade keeps tags and rotation policy unless given, in the stated number of requests',
      withProvider(async (p) => {
        const store = new CredentialStore(p, EncryptionManager.generate());
        const counted = async <T>(call: () => Promise<T>): Promise<[T, number]> => {
          const before = requests();
          const result = await call();
          return [result, requests() - before];
        };
        const [created, putNew] = await counted(() =>
          store.put('facade_rule', 'v1', { tags: { team: 'a' }, rotationPolicy: { intervalDays: 7 } }),
        );
        const [returned, putOverwrite] = await counted(() => store.put('facade_rule', 'v2'));
        assert.equal(returned.createdAt.toISOString(), created.createdAt.toISOString());
        assert.deepEqual(returned.tags, { team: 'a' }, 'put resolves to the metadata written');
        const [got, get] = await counted(() => store.get('facade_rule'));
        assert.equal(got.secret.expose(), 'v2');
        got.secret.dispose();
        assert.equal(got.metadata.createdAt.toISOString(), created.createdAt.toISOString());
        assert.deepEqual(got.metadata.tags, { team: 'a' });
        assert.deepEqual(got.metadata.rotationPolicy, { intervalDays: 7 });
        if (options.facadeRequests) {
          const {
            putAfterMiss: _checkedBelow,
            create: _checkedInCreate,
            ...perCall
          } = options.facadeRequests;
          assert.deepEqual({ putNew, putOverwrite, get }, perCall, 'backend requests per call');
        }
        if (options.facadeRequests?.putAfterMiss !== undefined) {
          await rejectsWith(store.get('facade_missing'), 'NotFound');
          const [, putAfterMiss] = await counted(() => store.put('facade_missing', 'v1'));
          assert.equal(putAfterMiss, options.facadeRequests.putAfterMiss, 'requests of a put after a miss');
          const back = await store.get('facade_missing');
          assert.equal(back.secret.expose(), 'v1');
          back.secret.dispose();
        }
        await store.put('facade_rule', 'v3', { tags: { team: 'b' } });
        const third = await store.get('facade_rule');
        third.secret.dispose();
        assert.deepEqual(third.metadata.tags, { team: 'b' });
        assert.deepEqual(third.metadata.rotationPolicy, { intervalDays: 7 });
        assert.equal(third.metadata.createdAt.toISOString(), created.createdAt.toISOString());
      }),
    );

    it(
      'create writes only a new credential: over an existing one it is Conflict and changes nothing',
      withProvider(async (p) => {
        if (!p.capabilities.createOnly) {
          const store = new CredentialStore(p, EncryptionManager.generate());
          await rejectsWith(store.create('create_once', 'v1'), 'Unsupported');
          return;
        }
        const store = new CredentialStore(p, EncryptionManager.generate());
        const before = requests();
        const created = await store.create('create_once', 'first', {
          tags: { team: 'a' },
          rotationPolicy: { intervalDays: 3 },
        });
        const createNew = requests() - before;
        assert.deepEqual(created.tags, { team: 'a' });
        assert.deepEqual(created.rotationPolicy, { intervalDays: 3 });
        if (options.facadeRequests?.create !== undefined)
          assert.equal(createNew, options.facadeRequests.create, 'requests of a create of a new id');
        const refused = await rejectsWith(
          store.create('create_once', 'second', { tags: { team: 'b' } }),
          'Conflict',
        );
        assert.equal(refused.credentialId, 'create_once');
        assert.match(refused.message, /already exists/);
        await rejectsWith(
          p.store('create_once', encrypted(Buffer.from('third')), createMetadata(), undefined, {
            createOnly: true,
          }),
          'Conflict',
        );
        const back = await store.get('create_once');
        assert.equal(back.secret.expose(), 'first');
        back.secret.dispose();
        assert.equal(back.metadata.createdAt.toISOString(), created.createdAt.toISOString());
        assert.deepEqual(back.metadata.tags, { team: 'a' });
        assert.deepEqual(back.metadata.rotationPolicy, { intervalDays: 3 });
        // After a delete, create does what put does: writes the id again, or (a name held by a soft
        // delete, as on AWS without forceDelete) refuses both the same way.
        await store.delete('create_once');
        const recreated = await store.create('create_once', 'again').then(
          () => undefined,
          (error: unknown) => error,
        );
        if (recreated === undefined) {
          const again = await store.get('create_once');
          assert.equal(again.secret.expose(), 'again');
          again.secret.dispose();
        } else {
          assert.ok(
            recreated instanceof StorageError && recreated.details['scheduledForDeletion'] === true,
            String(recreated),
          );
          const put = await rejectsWith(store.put('create_once', 'again'), recreated.code);
          assert.equal(put.details['scheduledForDeletion'], true);
        }
        if (p.capabilities.createOnly === 'atomic') {
          // The backend refuses the second of two racing creates: exactly one wins, and its value stays.
          const values = ['racer-a', 'racer-b', 'racer-c'];
          const outcomes = await Promise.allSettled(values.map((v) => store.create('create_race', v)));
          const won = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [values[i]] : []));
          assert.equal(won.length, 1, 'exactly one racing create succeeds');
          for (const o of outcomes) {
            if (o.status === 'rejected') {
              assert.ok(o.reason instanceof StorageError);
              assert.equal(o.reason.code, 'Conflict');
            }
          }
          const raced = await store.get('create_race');
          assert.equal(raced.secret.expose(), won[0]);
          raced.secret.dispose();
        }
      }),
    );

    it(
      'rejects operations after close',
      withProvider(async (p) => {
        await p.close();
        await assert.rejects(p.exists('anything'), StorageError);
      }),
    );
  });
}
