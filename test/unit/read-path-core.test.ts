import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CredentialCache } from '../../src/core/cache.js';
import { CircuitBreaker } from '../../src/core/circuit-breaker.js';
import { ManualClock } from '../../src/core/clock.js';
import { type EncryptedData, EncryptionManager } from '../../src/core/crypto.js';
import { StorageError } from '../../src/core/errors.js';
import type { CredentialIdLike } from '../../src/core/id.js';
import { type CredentialMetadata, createMetadata } from '../../src/core/metadata.js';
import { bridgeMetricsToOpenTelemetry, StorageMetrics } from '../../src/core/metrics.js';
import type {
  ChangeFeed,
  ChangeSink,
  ProviderCapabilities,
  StorageProvider,
  StoredCredential,
} from '../../src/core/provider.js';
import { SingleFlight } from '../../src/core/single-flight.js';
import { CredentialStore, credentialAssociatedData } from '../../src/core/store.js';
import type { CredentialChange } from '../../src/core/watch.js';
import { openCredentialStore } from '../../src/providers/factory.js';
import { MemoryStorageProvider } from '../../src/providers/memory.js';

/** A backend whose reads the test answers by hand: each `retrieve` waits until the test settles it. */
class HandBackend implements StorageProvider {
  readonly name = 'hand';
  readonly capabilities: ProviderCapabilities = {
    maxCredentialSize: 1024,
    maxIdBytes: 255,
    versioning: false,
    softDelete: false,
    nativeTagFiltering: false,
    persistent: false,
  };
  readonly values = new Map<string, StoredCredential>();
  readonly pending: { id: string; settle: () => void; fail: (e: StorageError) => void }[] = [];
  retrieves = 0;
  hold = true;
  feedSink: ChangeSink | undefined;

  async connect(): Promise<void> {}
  async store(id: CredentialIdLike, data: EncryptedData, metadata: CredentialMetadata): Promise<void> {
    this.values.set(String(id), { data, metadata, version: `v${this.values.size + 1}` });
  }
  retrieve(id: CredentialIdLike): Promise<StoredCredential> {
    this.retrieves++;
    const key = String(id);
    const answer = () => {
      const value = this.values.get(key);
      if (!value)
        throw new StorageError({ code: 'NotFound', message: 'no', provider: this.name, credentialId: key });
      return value;
    };
    // The answer is what the backend held when the read was served (now), whenever it arrives.
    let snapshot: StoredCredential | StorageError;
    try {
      snapshot = answer();
    } catch (error) {
      snapshot = error as StorageError;
    }
    if (!this.hold)
      return snapshot instanceof StorageError ? Promise.reject(snapshot) : Promise.resolve(snapshot);
    return new Promise((resolve, reject) => {
      this.pending.push({
        id: key,
        settle: () => (snapshot instanceof StorageError ? reject(snapshot) : resolve(snapshot)),
        fail: reject,
      });
    });
  }
  async delete(id: CredentialIdLike): Promise<void> {
    this.values.delete(String(id));
  }
  async list(): Promise<string[]> {
    return [...this.values.keys()];
  }
  async exists(id: CredentialIdLike): Promise<boolean> {
    return this.values.has(String(id));
  }
  async close(): Promise<void> {}
  subscribeChanges(_target: unknown, sink: ChangeSink): ChangeFeed {
    this.feedSink = sink;
    return { complete: false, close: () => {} };
  }
  settleAll(): void {
    for (const p of this.pending.splice(0)) p.settle();
  }
}

const tick = () => new Promise((r) => setImmediate(r));

function seed(backend: HandBackend, key: EncryptionManager, id: string, value: string): void {
  backend.values.set(id, {
    data: key.encrypt(Buffer.from(value), credentialAssociatedData(id)),
    metadata: createMetadata(),
    version: `seed-${value}`,
  });
}

describe('read path: races with writes', () => {
  it('keeps the value written through the store when an older read lands after it', async () => {
    const backend = new HandBackend();
    const key = EncryptionManager.generate();
    seed(backend, key, 'race', 'old');
    const store = new CredentialStore(backend, key, { cache: { ttlMs: 60_000 }, clock: new ManualClock() });
    const slowRead = store.get('race');
    await tick();
    backend.hold = false;
    await store.put('race', 'new');
    backend.hold = true;
    backend.settleAll();
    assert.equal((await slowRead).secret.expose(), 'old', 'the read that started first answers what it saw');
    const before = backend.retrieves;
    assert.equal(
      (await store.get('race')).secret.expose(),
      'new',
      'the older read replaced the written value',
    );
    assert.equal(backend.retrieves, before, 'the written value was not served from the cache');
  });

  it('does not cache what an in-flight read found once the id was deleted or invalidated', async () => {
    const backend = new HandBackend();
    const key = EncryptionManager.generate();
    seed(backend, key, 'gone', 'value');
    const store = new CredentialStore(backend, key, { cache: { ttlMs: 60_000 }, clock: new ManualClock() });
    const read = store.get('gone');
    await tick();
    await store.delete('gone');
    backend.settleAll();
    await read;
    backend.hold = false;
    await assert.rejects(store.get('gone'), (e: StorageError) => e.code === 'NotFound');
  });

  it('starts a new backend read for a get that comes after invalidate, instead of joining the old one', async () => {
    const backend = new HandBackend();
    const key = EncryptionManager.generate();
    seed(backend, key, 'inv', 'v');
    const store = new CredentialStore(backend, key, { cache: { ttlMs: 60_000 }, clock: new ManualClock() });
    const first = store.get('inv');
    store.invalidate('inv');
    const second = store.get('inv');
    await tick();
    assert.equal(backend.pending.length, 2);
    backend.settleAll();
    await Promise.all([first, second]);
  });
});

describe('read path: cache, stale-if-error and metrics', () => {
  it('shortens each TTL by at most the jitter fraction', () => {
    const clock = new ManualClock(0);
    const options = { ttlMs: 1_000, negativeTtlMs: 0, staleIfErrorMs: 0, maxEntries: 10, jitter: 0.5 };
    const longest = new CredentialCache(options, clock, () => 0);
    const shortest = new CredentialCache(options, clock, () => 0.999_999);
    const stored = {
      data: EncryptionManager.generate().encrypt(Buffer.from('x')),
      metadata: createMetadata(),
    };
    longest.setValue('a', stored);
    shortest.setValue('a', stored);
    const fresh = (cache: CredentialCache) => {
      const entry = cache.lookup('a');
      return entry !== undefined && cache.isFresh(entry);
    };
    clock.set(499);
    assert.ok(fresh(shortest));
    clock.set(501);
    assert.ok(!fresh(shortest));
    clock.set(999);
    assert.ok(fresh(longest));
    clock.set(1_000);
    assert.ok(!fresh(longest));
  });

  it('serves stale values on RateLimited and Timeout too, but not on PermissionDenied', async () => {
    const clock = new ManualClock(0);
    const provider = new MemoryStorageProvider({ retry: { maxRetries: 0 } });
    const store = new CredentialStore(provider, EncryptionManager.generate(), {
      clock,
      cache: { ttlMs: 100, staleIfErrorMs: 10_000, jitter: 0 },
    });
    await store.put('s', 'value');
    for (const code of ['RateLimited', 'Timeout'] as const) {
      await clock.advance(101);
      provider.failNext({ code, operations: ['retrieve'] });
      const r = await store.get('s');
      assert.equal(r.stale, true, code);
    }
    await clock.advance(101);
    provider.failNext({ code: 'PermissionDenied', operations: ['retrieve'] });
    await assert.rejects(store.get('s'), (e: StorageError) => e.code === 'PermissionDenied');
    assert.equal(store.health().lastError?.code, 'PermissionDenied');
    assert.equal(store.health().lastError?.at, clock.now());
  });

  it('mirrors read-path events into OpenTelemetry counters', async () => {
    const metrics = new StorageMetrics();
    const added: [string, number, Record<string, string> | undefined][] = [];
    const meter = {
      createCounter: (name: string) => ({
        add: (value: number, attributes?: Record<string, string>) => added.push([name, value, attributes]),
      }),
      createHistogram: () => ({ record: () => {} }),
    };
    bridgeMetricsToOpenTelemetry(metrics, meter);
    const store = new CredentialStore(new MemoryStorageProvider(), EncryptionManager.generate(), {
      metrics,
      cache: {},
    });
    await store.put('m', 'v');
    await store.get('m');
    const events = added
      .filter(([name]) => name === 'nebula_credential.read_path')
      .map(([, , a]) => a?.['event']);
    assert.deepEqual(events, ['logicalRead', 'hit']);
  });

  it('gives every caller its own copy of the metadata', async () => {
    const store = new CredentialStore(new MemoryStorageProvider(), EncryptionManager.generate(), {
      cache: {},
    });
    await store.put('meta', 'v', { tags: { a: '1' } });
    const one = await store.describe('meta');
    one.metadata.tags['a'] = 'changed';
    one.metadata.createdAt.setTime(0);
    const two = await store.describe('meta');
    assert.equal(two.metadata.tags['a'], '1');
    assert.notEqual(two.metadata.createdAt.getTime(), 0);
  });
});

describe('read path: options are validated before anything runs', () => {
  it('lists every bad cache and circuit breaker option at once, with the option path', () => {
    const error = (() => {
      try {
        new CredentialStore(new MemoryStorageProvider(), EncryptionManager.generate(), {
          cache: { ttlMs: -1, ttlms: 5, jitter: 2 } as never,
          circuitBreaker: 'yes' as never,
        });
      } catch (e) {
        return e as StorageError;
      }
      assert.fail('expected InvalidConfig');
    })();
    assert.equal(error.code, 'InvalidConfig');
    const paths = (error.details.issues ?? []).map((i) => i.path).sort();
    assert.deepEqual(paths, ['cache.jitter', 'cache.ttlMs', 'cache.ttlms', 'circuitBreaker']);
    assert.match(error.message, /did you mean "ttlMs"/);
  });

  it('refuses unknown store options before reading a key or connecting', async () => {
    await assert.rejects(
      openCredentialStore({
        storage: { provider: 'memory' },
        encryption: { keyFile: '/nonexistent/key' },
        cach: { ttlMs: 1 },
      } as never),
      (e: StorageError) =>
        e.code === 'InvalidConfig' && (e.details.issues ?? []).some((i) => i.path === 'cach'),
    );
  });

  it('refuses bad watch options and a missing listener', () => {
    const store = new CredentialStore(new MemoryStorageProvider(), EncryptionManager.generate());
    assert.throws(
      () => store.watch('a', () => {}, { intervalMs: 1, jitter: 0.9 }),
      (e: StorageError) => e.code === 'InvalidConfig' && (e.details.issues ?? []).length === 2,
    );
    assert.throws(
      () => store.watch('a', undefined as never),
      (e: StorageError) => e.code === 'InvalidConfig',
    );
    assert.throws(
      () => store.watch('bad id', () => {}),
      (e: StorageError) => e.code === 'InvalidId',
    );
  });

  it('refuses a getMany argument that is not an array', async () => {
    const store = new CredentialStore(new MemoryStorageProvider(), EncryptionManager.generate());
    await assert.rejects(store.getMany('abc' as never), (e: StorageError) => e.code === 'InvalidConfig');
  });
});

describe('circuit breaker', () => {
  const outage = () => new StorageError({ code: 'Unavailable', message: 'down' });

  it('opens after N consecutive outages, lets exactly one probe through after the cool-down', async () => {
    const clock = new ManualClock(0);
    const breaker = new CircuitBreaker({ failureThreshold: 2, coolDownMs: 1_000 }, clock, 'x');
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(outage());
    };
    await assert.rejects(breaker.run(failing));
    assert.equal(breaker.state, 'closed');
    await assert.rejects(breaker.run(failing));
    assert.equal(breaker.state, 'open');
    await assert.rejects(breaker.run(failing), (e: StorageError) => e.details['circuit'] === 'open');
    assert.equal(calls, 2, 'an open circuit called the backend');
    clock.set(1_000);
    let release: () => void = () => {};
    const probe = breaker.run(
      () =>
        new Promise<string>((resolve) => {
          calls++;
          release = () => resolve('ok');
        }),
    );
    assert.equal(breaker.state, 'half-open');
    await assert.rejects(breaker.run(failing), (e: StorageError) => e.details['circuit'] === 'half-open');
    assert.equal(calls, 3, 'a second call went through while the probe was running');
    release();
    assert.equal(await probe, 'ok');
    assert.equal(breaker.state, 'closed');
  });

  it('reopens when the probe fails, and counts answers such as NotFound as the backend being up', async () => {
    const clock = new ManualClock(0);
    const breaker = new CircuitBreaker({ failureThreshold: 1, coolDownMs: 500 }, clock, 'x');
    await assert.rejects(breaker.run(() => Promise.reject(outage())));
    clock.set(500);
    await assert.rejects(breaker.run(() => Promise.reject(outage())));
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.snapshot().retryAt, 1_000);
    clock.set(1_000);
    await assert.rejects(
      breaker.run(() => Promise.reject(new StorageError({ code: 'NotFound', message: 'no' }))),
    );
    assert.equal(breaker.state, 'closed');
  });
});

describe('watch engine', () => {
  it('reports a listener failure through onError and keeps watching', async () => {
    const clock = new ManualClock(0);
    const provider = new MemoryStorageProvider();
    const key = EncryptionManager.generate();
    const store = new CredentialStore(provider, key, { clock });
    await store.put('w', 'v1');
    const errors: string[] = [];
    const seen: CredentialChange[] = [];
    const watch = store.watch(
      'w',
      (c) => {
        seen.push(c);
        throw new Error('listener bug');
      },
      { intervalMs: 100, jitter: 0, onError: (e) => errors.push(e.code) },
    );
    await watch.ready;
    for (const value of ['v2', 'v3']) {
      await store.put('w', value);
      const slept = clock.nextSleep();
      await clock.advance(100);
      await slept;
    }
    assert.equal(seen.length, 2);
    assert.deepEqual(errors, ['Internal', 'Internal']);
    await watch.close();
  });

  it('reports a change once when the feed and the poll both see it, and wakes on a hint', async () => {
    const clock = new ManualClock(0);
    const backend = new HandBackend();
    backend.hold = false;
    const key = EncryptionManager.generate();
    seed(backend, key, 'dup', 'one');
    const store = new CredentialStore(backend, key, { clock });
    const seen: CredentialChange[] = [];
    const watch = store.watch('dup', (c) => void seen.push(c), { intervalMs: 1_000, jitter: 0 });
    await watch.ready;
    seed(backend, key, 'dup', 'two');
    backend.feedSink!.observe({ id: 'dup', state: 'present', version: 'seed-two' });
    await tick();
    assert.equal(seen.length, 1);
    const reads = backend.retrieves;
    const slept = clock.nextSleep();
    backend.feedSink!.wake();
    await slept;
    assert.equal(backend.retrieves, reads + 1, 'a hint did not poll at once');
    assert.equal(seen.length, 1, 'the poll reported the change the feed already reported');
    await watch.close();
  });

  it('stops when its signal aborts', async () => {
    const clock = new ManualClock(0);
    const store = new CredentialStore(new MemoryStorageProvider(), EncryptionManager.generate(), { clock });
    const controller = new AbortController();
    const watch = store.watch('x', () => {}, { signal: controller.signal });
    await watch.ready;
    controller.abort();
    await watch.close();
    assert.equal(watch.closed, true);
  });

  it('is closed by store.close()', async () => {
    const clock = new ManualClock(0);
    const store = new CredentialStore(new MemoryStorageProvider(), EncryptionManager.generate(), { clock });
    const watch = store.watch('x', () => {});
    await watch.ready;
    await store.close();
    assert.equal(watch.closed, true);
  });
});

describe('SingleFlight', () => {
  it('shares one run per key while it runs, and starts a new one after forget()', async () => {
    const flights = new SingleFlight<string, number>();
    let runs = 0;
    let release: () => void = () => {};
    const work = () =>
      new Promise<number>((resolve) => {
        runs++;
        release = () => resolve(runs);
      });
    const a = flights.run('k', work);
    const b = flights.run('k', work);
    assert.equal(a.joined, false);
    assert.equal(b.joined, true);
    flights.forget('k');
    const c = flights.run('k', work);
    assert.equal(c.joined, false);
    assert.equal(runs, 2);
    release();
    assert.equal(await c.promise, 2);
    assert.equal(flights.size, 0);
  });
});

describe('ManualClock.nextSleep', () => {
  it('resolves with the delay of the next sleep', async () => {
    const clock = new ManualClock(0);
    const next = clock.nextSleep();
    const sleeping = clock.sleep(250);
    assert.equal(await next, 250);
    assert.equal(clock.pendingSleeps, 1);
    await clock.advance(250);
    await sleeping;
  });
});
