import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { ManualClock } from '../core/clock.js';
import { EncryptionManager } from '../core/crypto.js';
import type { Logger } from '../core/logger.js';
import { StorageMetrics } from '../core/metrics.js';
import type { StorageProvider } from '../core/provider.js';
import { CredentialStore, type CredentialStoreReadPathOptions } from '../core/store.js';
import type { CredentialChange } from '../core/watch.js';
import { type CapturedLogger, capturingLogger, rejectsWithCode } from './assertions.js';
import type { ConformanceTestApi } from './conformance.js';

/** What the read-path suite hands the factory. */
export interface ReadPathFactoryContext {
  logger: Logger;
}

/** Options of {@link runReadPathConformance}. */
export interface ReadPathConformanceOptions {
  /** Name shown in the test titles. */
  name: string;
  /** A fresh, connected provider on an empty store; the suite closes it. Turn the provider's retries off. */
  createProvider(context: ReadPathFactoryContext): Promise<StorageProvider>;
  /** Backend requests made so far (the emulator's request log, or the provider's operation count). */
  requestCount(): number;
  /**
   * Makes every backend request fail as unavailable (an emulator fault) until the returned function is
   * called. Without it the stale-if-error, circuit breaker and backoff tests are skipped.
   */
  injectUnavailable?: (() => () => void) | undefined;
  /** Backend requests `getMany` makes for `n` distinct uncached ids. Default: `n` (one read per id). */
  bulkRequests?: ((n: number) => number) | undefined;
  /** Requests one poll of a single id's change signal makes. Default 1. */
  pollRequests?: number | undefined;
  /** The provider pushes changes itself (a complete native feed such as the Kubernetes watch API). */
  nativeFeed?: boolean | undefined;
  /** Secrets from the provider's configuration that must never show in health output or logs. */
  configSecrets?: readonly string[] | undefined;
}

/** Collects watch events; `next()` resolves at the next one. */
class EventLog {
  readonly events: CredentialChange[] = [];
  #waiters: (() => void)[] = [];

  readonly listener = (change: CredentialChange): void => {
    this.events.push(change);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  };

  next(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** Fails a test that would otherwise hang: a guard on a broken expectation, not a timing assertion. */
function guard<T>(promise: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const rejectsWith = rejectsWithCode;

/**
 * Registers the read-path contract as tests: the cache (single flight, TTL, negative caching, LRU bound,
 * write-through, stale-if-error), the circuit breaker, change watches (one id and a tag filter, cache
 * refresh, close), bulk reads (per-id results, native batch request counts) and health, with a
 * {@link ManualClock} and exact backend request counts.
 *
 * @example
 * ```ts
 * import { describe, it } from 'node:test';
 * import { runReadPathConformance } from 'nebula-credential/testing';
 * import { MemoryStorageProvider } from 'nebula-credential/memory';
 * let provider: MemoryStorageProvider;
 * runReadPathConformance({ describe, it }, {
 *   name: 'memory',
 *   createProvider: async ({ logger }) => (provider = new MemoryStorageProvider({ logger, retry: { maxRetries: 0 } })),
 *   requestCount: () => Object.values(provider.calls).reduce((a, b) => a + b, 0),
 * });
 * ```
 */
export function runReadPathConformance(api: ConformanceTestApi, options: ReadPathConformanceOptions): void {
  const { describe, it } = api;
  const requests = () => options.requestCount();
  const bulkRequests = options.bulkRequests ?? ((n: number) => n);
  const pollRequests = options.pollRequests ?? 1;

  interface Fixture {
    provider: StorageProvider;
    clock: ManualClock;
    key: EncryptionManager;
    logger: CapturedLogger;
    metrics: StorageMetrics;
    /** A store without cache over the same provider: writes "by another process". */
    writer: CredentialStore;
    reader(readPath?: CredentialStoreReadPathOptions): CredentialStore;
  }

  const withFixture = (fn: (f: Fixture) => Promise<void>) => async (): Promise<void> => {
    const logger = capturingLogger();
    const provider = await options.createProvider({ logger });
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const key = EncryptionManager.generate();
    const metrics = new StorageMetrics();
    const fixture: Fixture = {
      provider,
      clock,
      key,
      logger,
      metrics,
      writer: new CredentialStore(provider, key),
      reader: (readPath = {}) => new CredentialStore(provider, key, { clock, metrics, logger, ...readPath }),
    };
    try {
      await fn(fixture);
    } finally {
      await provider.close();
    }
  };

  /** Moves the clock interval by interval until `done()`, waiting for each poll (or feed event). */
  const waitUntil = async (
    f: Fixture,
    log: EventLog,
    intervalMs: number,
    done: () => boolean,
    what: string,
  ) => {
    for (let round = 0; round < 50 && !done(); round++) {
      const slept = f.clock.nextSleep();
      const event = log.next();
      if (!options.nativeFeed) await f.clock.advance(intervalMs);
      await guard(Promise.race([slept, event]), what);
    }
    assert.ok(done(), `never saw ${what}`);
  };

  describe(`read path: ${options.name}`, () => {
    it(
      'answers 1,000 concurrent gets of one cold id with exactly one backend request',
      withFixture(async (f) => {
        await f.writer.put('hot_id', 'hot value');
        const store = f.reader({ cache: { ttlMs: 60_000 } });
        const before = requests();
        const results = await Promise.all(Array.from({ length: 1000 }, () => store.get('hot_id')));
        assert.equal(requests() - before, 1, 'backend requests for 1,000 concurrent cold gets');
        for (const r of results) {
          assert.equal(r.secret.expose(), 'hot value');
          assert.equal(r.stale, false);
          r.secret.dispose();
        }
        const [figures] = f.metrics.readPathSnapshot();
        assert.equal(figures?.logicalRead, 1000);
        assert.equal(figures?.miss, 1);
        assert.equal(figures?.singleFlightJoin, 999);
        assert.equal(figures?.backendRequest, 1);
      }),
    );

    it(
      'serves from the cache until the TTL passes, then asks the backend once',
      withFixture(async (f) => {
        await f.writer.put('ttl_id', 'v1');
        const store = f.reader({ cache: { ttlMs: 10_000, jitter: 0 } });
        const start = requests();
        assert.equal((await store.get('ttl_id')).secret.expose(), 'v1');
        assert.equal(requests() - start, 1);
        for (let i = 0; i < 5; i++) await store.get('ttl_id');
        await f.clock.advance(9_999);
        await store.describe('ttl_id');
        assert.equal(requests() - start, 1, 'a fresh entry went to the backend');
        await f.clock.advance(2);
        await store.get('ttl_id');
        assert.equal(requests() - start, 2, 'an expired entry was not refreshed exactly once');
        const [figures] = f.metrics.readPathSnapshot();
        assert.equal(figures?.hit, 6);
        assert.equal(figures?.miss, 2);
      }),
    );

    it(
      'remembers NotFound for negativeTtlMs',
      withFixture(async (f) => {
        const store = f.reader({ cache: { negativeTtlMs: 5_000, jitter: 0 } });
        const start = requests();
        await rejectsWith(store.get('never_there'), 'NotFound');
        const one = requests() - start;
        assert.ok(one >= 1, 'the first lookup reached the backend');
        const error = await rejectsWith(store.get('never_there'), 'NotFound');
        assert.equal(error.credentialId, 'never_there');
        assert.equal(requests() - start, one, 'a remembered NotFound reached the backend');
        await f.clock.advance(5_001);
        await rejectsWith(store.get('never_there'), 'NotFound');
        assert.equal(requests() - start, 2 * one);
        assert.equal(f.metrics.readPathSnapshot()[0]?.negativeHit, 1);
      }),
    );

    it(
      'updates the cache at once on put and delete through the store',
      withFixture(async (f) => {
        const store = f.reader({ cache: { ttlMs: 60_000 } });
        await store.put('written', 'first');
        let mark = requests();
        assert.equal((await store.get('written')).secret.expose(), 'first');
        assert.equal(requests(), mark, 'a value just written was read again');
        await store.put('written', 'second');
        mark = requests();
        assert.equal((await store.get('written')).secret.expose(), 'second');
        assert.equal(requests(), mark);
        await store.delete('written');
        mark = requests();
        await rejectsWith(store.get('written'), 'NotFound');
        assert.equal(requests(), mark, 'a credential just deleted was looked up');
      }),
    );

    it(
      'asks the backend again after invalidate(id) and clear()',
      withFixture(async (f) => {
        await f.writer.put('inv_a', 'a');
        await f.writer.put('inv_b', 'b');
        const store = f.reader({ cache: { ttlMs: 60_000 } });
        await store.get('inv_a');
        await store.get('inv_b');
        const mark = requests();
        await f.writer.put('inv_a', 'a2');
        const written = requests() - mark;
        assert.equal(
          (await store.get('inv_a')).secret.expose(),
          'a',
          'the cache should still hold the old value',
        );
        store.invalidate('inv_a');
        assert.equal((await store.get('inv_a')).secret.expose(), 'a2');
        assert.equal(requests() - mark, written + 1);
        store.clear();
        await store.get('inv_a');
        await store.get('inv_b');
        assert.equal(requests() - mark, written + 3);
      }),
    );

    it(
      'evicts the least recently used entry beyond maxEntries',
      withFixture(async (f) => {
        for (const id of ['lru_a', 'lru_b', 'lru_c']) await f.writer.put(id, id);
        const store = f.reader({ cache: { ttlMs: 60_000, maxEntries: 2 } });
        const mark = requests();
        for (const id of ['lru_a', 'lru_b', 'lru_c']) await store.get(id);
        assert.equal(requests() - mark, 3);
        await store.get('lru_c');
        await store.get('lru_b');
        assert.equal(requests() - mark, 3, 'recent entries were evicted');
        await store.get('lru_a');
        assert.equal(requests() - mark, 4, 'the least recently used entry was kept');
        assert.equal(f.metrics.readPathSnapshot()[0]?.eviction, 2);
      }),
    );

    it(
      'caches ciphertext only: every get decrypts anew, and no value shows in inspection, JSON or logs',
      withFixture(async (f) => {
        const sentinel = `SENTINEL-${randomBytes(12).toString('hex')}`;
        await f.writer.put('sentinel_id', sentinel);
        const store = f.reader({ cache: { ttlMs: 60_000 } });
        const first = await store.get('sentinel_id');
        first.secret.dispose();
        const second = await store.get('sentinel_id');
        assert.equal(second.secret.expose(), sentinel, 'a disposed result emptied the cached value');
        second.metadata.tags['tampered'] = 'yes';
        assert.equal((await store.get('sentinel_id')).metadata.tags['tampered'], undefined);
        const rendered = [
          inspect(store, { depth: 10 }),
          JSON.stringify(store),
          JSON.stringify(store.health()),
          JSON.stringify(f.metrics.readPathSnapshot()),
          ...f.logger.lines,
        ];
        for (const text of rendered) {
          assert.ok(!text.includes(sentinel), `the value leaked into: ${text.slice(0, 200)}`);
          for (const secret of options.configSecrets ?? [])
            assert.ok(!text.includes(secret), 'a config secret leaked');
        }
      }),
    );

    it(
      'getMany returns one result per id in order, with typed per-id errors, natively batched',
      withFixture(async (f) => {
        const ids = Array.from({ length: 25 }, (_, i) => `bulk_${String(i).padStart(2, '0')}`);
        for (const id of ids) await f.writer.put(id, `value of ${id}`);
        const store = f.reader({ cache: { ttlMs: 60_000 } });
        const asked = [...ids, 'missing_one', 'bad id', ids[0]!];
        const mark = requests();
        const results = await store.getMany(asked);
        assert.equal(requests() - mark, bulkRequests(26), 'backend requests of getMany for 26 distinct ids');
        assert.deepEqual(
          results.map((r) => r.id),
          asked,
        );
        for (const [i, r] of results.entries()) {
          if (i < 25 || i === 27) {
            assert.ok(r.ok, `${r.id} failed: ${r.ok ? '' : r.error.code}`);
            assert.equal(r.secret.expose(), `value of ${r.id}`);
            assert.equal(r.stale, false);
            r.secret.dispose();
          }
        }
        const missing = results[25]!;
        assert.ok(
          !missing.ok && missing.error.code === 'NotFound' && missing.error.credentialId === 'missing_one',
        );
        const invalid = results[26]!;
        assert.ok(!invalid.ok && invalid.error.code === 'InvalidId');
        const again = requests();
        const cached = await store.getMany([ids[3]!, 'missing_one']);
        assert.equal(requests(), again, 'a second getMany of cached ids reached the backend');
        assert.ok(cached[0]!.ok && !cached[1]!.ok);
        // A get already in flight is joined, not repeated.
        const joinMark = requests();
        store.invalidate(ids[5]!);
        store.invalidate(ids[6]!);
        const pending = store.get(ids[5]!);
        const both = await store.getMany([ids[5]!, ids[6]!]);
        await pending;
        assert.ok(both.every((r) => r.ok));
        assert.equal(requests() - joinMark, 1 + bulkRequests(1), 'getMany repeated a read in flight');
      }),
    );

    it(
      'watches one id: reports changed and deleted with versions, refreshes the cache, stops on close',
      withFixture(async (f) => {
        await f.writer.put('watched', 'v1');
        const store = f.reader({ cache: { ttlMs: 3_600_000 } });
        const initial = (await store.describe('watched')).version;
        const log = new EventLog();
        const interval = 1_000;
        const watch = store.watch('watched', log.listener, { intervalMs: interval, jitter: 0 });
        await guard(watch.ready, 'the watch to learn the current state');
        if (!options.nativeFeed) {
          const mark = requests();
          const slept = f.clock.nextSleep();
          await f.clock.advance(interval);
          await guard(slept, 'one poll');
          assert.equal(requests() - mark, pollRequests, 'requests of one poll without a change');
          assert.equal(log.events.length, 0, 'a poll without a change reported one');
        }
        await f.writer.put('watched', 'v2');
        await waitUntil(f, log, interval, () => log.events.length >= 1, 'the change event');
        const changed = log.events[0]!;
        assert.equal(changed.id, 'watched');
        assert.equal(changed.kind, 'changed');
        assert.ok(changed.version !== undefined && changed.version !== initial, 'the version did not move');
        const mark = requests();
        const fresh = await store.get('watched');
        assert.equal(fresh.secret.expose(), 'v2', 'the change did not refresh the cache');
        assert.equal(requests(), mark, 'the refreshed value was read again');
        await f.writer.delete('watched');
        await waitUntil(f, log, interval, () => log.events.length >= 2, 'the delete event');
        assert.deepEqual(log.events[1], { id: 'watched', kind: 'deleted' });
        const afterDelete = requests();
        await rejectsWith(store.get('watched'), 'NotFound');
        assert.equal(requests(), afterDelete, 'the delete did not reach the cache');
        await watch.close();
        assert.equal(watch.closed, true);
        const closedAt = requests();
        await f.clock.advance(interval * 5);
        await f.writer.put('watched_other', 'v3');
        const wrote = requests() - closedAt;
        await f.clock.advance(interval * 5);
        assert.equal(requests() - closedAt, wrote, 'a closed watch still polls');
        assert.equal(log.events.length, 2, 'a closed watch still reports');
      }),
    );

    it(
      'watches a tag filter: new, changed, deleted and no-longer-matching credentials',
      withFixture(async (f) => {
        await f.writer.put('team_a', 'a', { tags: { team: 'blue' } });
        await f.writer.put('team_b', 'b', { tags: { team: 'blue' } });
        await f.writer.put('team_c', 'c', { tags: { team: 'red' } });
        const store = f.reader({ cache: { ttlMs: 60_000 } });
        const log = new EventLog();
        const interval = 1_000;
        const watch = store.watch({ tags: { team: 'blue' } }, log.listener, {
          intervalMs: interval,
          jitter: 0,
        });
        await guard(watch.ready, 'the filter watch to learn the current state');
        const expect = async (count: number, what: string) =>
          waitUntil(f, log, interval, () => log.events.length >= count, what);
        await f.writer.put('team_b', 'b2', { tags: { team: 'blue' } });
        await expect(1, 'the change of team_b');
        assert.equal(log.events[0]?.id, 'team_b');
        assert.equal(log.events[0]?.kind, 'changed');
        await f.writer.put('team_d', 'd', { tags: { team: 'blue' } });
        await expect(2, 'the new team_d');
        assert.deepEqual([log.events[1]?.id, log.events[1]?.kind], ['team_d', 'changed']);
        await f.writer.delete('team_a');
        await expect(3, 'the delete of team_a');
        assert.deepEqual(log.events[2], { id: 'team_a', kind: 'deleted' });
        await f.writer.put('team_b', 'b3', { tags: { team: 'red' } });
        await expect(4, 'team_b leaving the filter');
        assert.deepEqual(log.events[3], { id: 'team_b', kind: 'deleted' });
        await f.writer.put('team_c', 'c2', { tags: { team: 'red' } });
        await watch.close();
        assert.ok(
          log.events.every((e) => e.id !== 'team_c'),
          'a credential outside the filter was reported',
        );
      }),
    );

    it(
      'reports health: provider, connection, credential source, auth state and circuit, without secrets',
      withFixture(async (f) => {
        const store = f.reader({ circuitBreaker: { failureThreshold: 3 } });
        await store.put('health_probe', 'x');
        const h = store.health();
        assert.equal(h.provider, f.provider.name);
        assert.equal(h.connected, true);
        assert.equal(typeof h.credentialSource, 'string');
        assert.ok(h.credentialSource.length > 0);
        assert.equal(typeof h.auth.kind, 'string');
        assert.equal(h.circuit.enabled, true);
        assert.equal(h.circuit.state, 'closed');
        assert.equal(h.lastError, undefined);
        await rejectsWith(store.get('health_missing'), 'NotFound');
        assert.equal(store.health().lastError, undefined, 'NotFound is an answer, not a health problem');
        const text = JSON.stringify(store.health());
        for (const secret of options.configSecrets ?? [])
          assert.ok(!text.includes(secret), 'a secret in health()');
      }),
    );

    const inject = options.injectUnavailable;
    if (!inject) return;

    it(
      'serves the last good value, marked stale, while the backend is unavailable, up to staleIfErrorMs',
      withFixture(async (f) => {
        await f.writer.put('stale_id', 'good value');
        const store = f.reader({ cache: { ttlMs: 1_000, staleIfErrorMs: 5_000, jitter: 0 } });
        assert.equal((await store.get('stale_id')).stale, false);
        await f.clock.advance(1_001);
        const heal = inject();
        try {
          const stale = await store.get('stale_id');
          assert.equal(stale.stale, true);
          assert.equal(stale.secret.expose(), 'good value');
          const staleLine = f.logger.lines.find((l) => l.includes('stale'));
          assert.ok(staleLine, 'serving a stale value was not logged');
          assert.ok(!staleLine.includes('good value'), 'the stale log line holds the value');
          assert.equal(f.metrics.readPathSnapshot()[0]?.staleServed, 1);
          await f.clock.advance(5_000);
          await rejectsWith(store.get('stale_id'), 'Unavailable');
          assert.equal(store.health().lastError?.code, 'Unavailable');
        } finally {
          heal();
        }
        assert.equal((await store.get('stale_id')).stale, false);
      }),
    );

    it(
      'opens the circuit after N outages, fails fast (or serves stale), then probes once after the cool-down',
      withFixture(async (f) => {
        await f.writer.put('circuit_id', 'value');
        const store = f.reader({
          circuitBreaker: { failureThreshold: 2, coolDownMs: 10_000 },
          cache: { ttlMs: 1_000, staleIfErrorMs: 60_000, jitter: 0 },
        });
        await store.get('circuit_id');
        await f.clock.advance(1_001);
        const heal = inject();
        let healed = false;
        try {
          await rejectsWith(store.get('circuit_missing'), 'Unavailable');
          assert.equal(store.health().circuit.state, 'closed');
          await rejectsWith(store.get('circuit_missing'), 'Unavailable');
          assert.equal(store.health().circuit.state, 'open');
          const mark = requests();
          const fast = await rejectsWith(store.get('circuit_missing'), 'Unavailable');
          assert.equal(fast.details['circuit'], 'open');
          const stale = await store.get('circuit_id');
          assert.equal(stale.stale, true, 'an open circuit did not serve the cached value');
          assert.equal(requests(), mark, 'an open circuit let requests through');
          heal();
          healed = true;
          await f.clock.advance(10_000);
          const probe = await store.get('circuit_id');
          assert.equal(probe.stale, false);
          assert.equal(requests() - mark, 1, 'the probe was not exactly one request');
          assert.equal(store.health().circuit.state, 'closed');
          assert.ok((f.metrics.readPathSnapshot()[0]?.circuitRejected ?? 0) >= 2);
        } finally {
          if (!healed) heal();
        }
      }),
    );

    it(
      'backs off while the backend fails, then resumes the normal interval',
      withFixture(async (f) => {
        await f.writer.put('backoff_id', 'v');
        const store = f.reader();
        const errors: string[] = [];
        const heal = inject();
        const interval = 1_000;
        const sleeps: number[] = [];
        let watch: ReturnType<CredentialStore['watch']> | undefined;
        try {
          let slept = f.clock.nextSleep();
          watch = store.watch('backoff_id', () => {}, {
            intervalMs: interval,
            maxBackoffMs: 8_000,
            jitter: 0,
            onError: (e) => errors.push(e.code),
          });
          for (let i = 0; i < 4; i++) {
            const ms = await guard(slept, 'a backoff sleep');
            sleeps.push(ms);
            slept = f.clock.nextSleep();
            await f.clock.advance(ms);
          }
          await guard(slept, 'the last backoff sleep');
        } finally {
          heal();
        }
        assert.deepEqual(sleeps, [2_000, 4_000, 8_000, 8_000]);
        assert.ok(errors.length >= 4 && errors.every((c) => c === 'Unavailable'), errors.join());
        await f.clock.advance(8_000);
        await guard(watch!.ready, 'the watch to recover');
        await watch!.close();
      }),
    );
  });
}
