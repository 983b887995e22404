import { asStorageError, DEFAULT_BULK_CONCURRENCY, isBulkError, retrieveEach } from './bulk.js';
import { CredentialCache, type ResolvedCacheOptions } from './cache.js';
import {
  CircuitBreaker,
  type CircuitSnapshot,
  type ResolvedCircuitBreakerOptions,
} from './circuit-breaker.js';
import type { Clock } from './clock.js';
import { isStorageError, StorageError } from './errors.js';
import { LastErrorTracker } from './health.js';
import type { CredentialId } from './id.js';
import type { Logger } from './logger.js';
import type { CredentialContext } from './metadata.js';
import type { ReadPathEvent, StorageMetrics } from './metrics.js';
import type { StorageProvider, StoredCredential, VersionProbe } from './provider.js';
import { SingleFlight } from './single-flight.js';
import type { CredentialChange } from './watch.js';

/** What a read through the read path yields: the stored document, and whether it came stale from the cache. */
export interface ReadResult {
  stored: StoredCredential;
  stale: boolean;
}

/** The parts of a read path: which are on, and where it records. */
export interface ReadPathSettings {
  cache?: ResolvedCacheOptions | undefined;
  circuitBreaker?: ResolvedCircuitBreakerOptions | undefined;
  clock: Clock;
  metrics: StorageMetrics;
  logger: Logger;
}

/** The failures after which the last good value may be served. */
const STALE_SERVABLE = new Set(['Unavailable', 'Timeout', 'RateLimited']);

/**
 * Everything between `CredentialStore` and its provider on the way in: the cache (encrypted documents,
 * negative entries, stale-if-error), single flight, the circuit breaker, the last error and the read-path
 * metrics. With neither cache nor breaker it only counts and passes calls through.
 *
 * @example
 * ```ts
 * import { ReadPath, StorageMetrics, silentLogger, systemClock, CredentialId } from 'nebula-credential';
 * const path = new ReadPath(provider, { clock: systemClock, metrics: new StorageMetrics(), logger: silentLogger,
 *   cache: { ttlMs: 30_000, negativeTtlMs: 5_000, staleIfErrorMs: 0, maxEntries: 100, jitter: 0.1 } });
 * const { stored } = await path.read(CredentialId.parse('api_key'));
 * ```
 */
export class ReadPath {
  /** The cache, when the store has one. */
  readonly cache: CredentialCache | undefined;
  /** The circuit breaker, when the store has one. */
  readonly breaker: CircuitBreaker | undefined;
  /** The last failure of a call made through this read path, for `health()`. */
  readonly lastError = new LastErrorTracker();
  readonly #provider: StorageProvider;
  readonly #settings: ReadPathSettings;
  readonly #flights = new SingleFlight<string, ReadResult>();

  /** A read path in front of `provider`, with the parts `settings` turns on. */
  constructor(provider: StorageProvider, settings: ReadPathSettings) {
    this.#provider = provider;
    this.#settings = settings;
    if (settings.cache) {
      this.cache = new CredentialCache(settings.cache, settings.clock);
      this.cache.onEvict = (n) => this.#count('eviction', n);
    }
    if (settings.circuitBreaker) {
      const breaker = new CircuitBreaker(settings.circuitBreaker, settings.clock, provider.name);
      breaker.onReject = () => this.#count('circuitRejected');
      breaker.onTransition = (state) =>
        settings.logger.warn({ provider: provider.name, circuit: state }, `circuit breaker ${state}`);
      this.breaker = breaker;
    }
  }

  /** Runs one backend call through the breaker, remembering its failure for `health()`. */
  async guard<T>(call: () => Promise<T>, operation: string): Promise<T> {
    try {
      return this.breaker ? await this.breaker.run(call, operation) : await call();
    } catch (error) {
      this.lastError.record(error, operation, this.#settings.clock.now());
      throw error;
    }
  }

  /** The circuit breaker's state (a closed, disabled one when there is none). */
  circuit(): CircuitSnapshot {
    return this.breaker?.snapshot() ?? { enabled: false, state: 'closed', consecutiveFailures: 0 };
  }

  /** Reads one credential: from the cache when fresh, else once for all concurrent readers. */
  async read(id: CredentialId, context?: CredentialContext): Promise<ReadResult> {
    this.#count('logicalRead');
    const cache = this.cache;
    if (!cache) {
      this.#count('backendRequest');
      return {
        stored: await this.guard(() => this.#provider.retrieve(id, context), 'retrieve'),
        stale: false,
      };
    }
    const entry = cache.lookup(id.value);
    if (entry && cache.isFresh(entry)) {
      if (entry.kind === 'value') {
        this.#count('hit');
        return { stored: entry.stored, stale: false };
      }
      this.#count('negativeHit');
      throw entry.error.withContext({});
    }
    const { promise, joined } = this.#flights.run(id.value, () => this.#fetch(id, context));
    this.#count(joined ? 'singleFlightJoin' : 'miss');
    return promise;
  }

  /**
   * Reads many credentials: cache hits first, then joins reads already in flight, then one native batch
   * (or bounded concurrent reads) for the rest. Every id gets its own result or error.
   */
  async readMany(
    ids: readonly CredentialId[],
    options: { concurrency?: number | undefined; context?: CredentialContext | undefined } = {},
  ): Promise<Map<string, ReadResult | StorageError>> {
    const results = new Map<string, ReadResult | StorageError>();
    const cache = this.cache;
    const joins: [string, Promise<ReadResult>][] = [];
    const toFetch: CredentialId[] = [];
    for (const id of ids) {
      if (results.has(id.value) || toFetch.some((t) => t.value === id.value)) continue;
      this.#count('logicalRead');
      const entry = cache?.lookup(id.value);
      if (cache && entry && cache.isFresh(entry)) {
        this.#count(entry.kind === 'value' ? 'hit' : 'negativeHit');
        results.set(id.value, entry.kind === 'value' ? { stored: entry.stored, stale: false } : entry.error);
        continue;
      }
      const running = cache ? this.#flights.get(id.value) : undefined;
      if (running) {
        this.#count('singleFlightJoin');
        joins.push([id.value, running]);
        continue;
      }
      if (cache) this.#count('miss');
      toFetch.push(id);
    }
    if (toFetch.length > 0) {
      const settle = new Map<string, (value: ReadResult | StorageError) => void>();
      const generations = new Map<string, number>();
      if (cache) {
        for (const id of toFetch) {
          generations.set(id.value, cache.generation(id.value));
          const promise = new Promise<ReadResult | StorageError>((resolve) => settle.set(id.value, resolve));
          this.#flights.adopt(
            id.value,
            promise.then((r) => {
              if (r instanceof StorageError) throw r;
              return r;
            }),
          );
        }
      }
      const fetched = await this.#fetchMany(toFetch, options);
      for (const id of toFetch) {
        const key = id.value;
        const outcome = fetched.get(key) ?? missingResult(this.#provider.name, key);
        const result = this.#settle(key, outcome, generations.get(key));
        results.set(key, result);
        settle.get(key)?.(result);
      }
    }
    for (const [key, promise] of joins) {
      try {
        results.set(key, await promise);
      } catch (error) {
        results.set(key, asStorageError(error, this.#provider.name, key));
      }
    }
    return results;
  }

  /** Before a write through the store: reads in flight must not cache what they find. */
  beginWrite(id: CredentialId): void {
    if (!this.cache) return;
    this.cache.bump(id.value);
    this.#flights.forget(id.value);
  }

  /** After a successful write through the store: the cache holds what was written. */
  written(id: CredentialId, stored: StoredCredential): void {
    if (!this.cache) return;
    this.cache.bump(id.value);
    this.cache.setValue(id.value, stored);
  }

  /** After a failed write: what the backend holds is unknown, so nothing is cached. */
  writeFailed(id: CredentialId): void {
    this.invalidate(id.value);
  }

  /** After a delete through the store: the id is cached as missing (or forgotten without negative caching). */
  deleted(id: CredentialId): void {
    if (!this.cache) return;
    this.cache.bump(id.value);
    this.cache.setMissing(id.value, notFound(this.#provider.name, id.value));
  }

  /** Forgets the entry of `id`; reads in flight for it no longer count. */
  invalidate(id: string): void {
    if (!this.cache) return;
    this.cache.invalidate(id);
    this.#flights.forget(id);
  }

  /** Forgets every entry. */
  clear(): void {
    if (!this.cache) return;
    this.cache.clear();
    this.#flights.forgetAll();
  }

  /** A watch saw a change: refresh the cache before the listener runs. */
  async changed(id: CredentialId, change: CredentialChange, probe: VersionProbe | undefined): Promise<void> {
    const cache = this.cache;
    if (!cache) return;
    if (change.kind === 'deleted') {
      this.deleted(id);
      return;
    }
    if (probe?.stored) {
      this.written(id, probe.stored);
      return;
    }
    if (!cache.has(id.value)) return;
    this.invalidate(id.value);
    // Cached before, so someone reads it: fetch the new value now rather than on their next read.
    await this.#flights
      .run(id.value, () => this.#fetch(id, undefined))
      .promise.catch(() => this.invalidate(id.value));
  }

  async #fetch(id: CredentialId, context: CredentialContext | undefined): Promise<ReadResult> {
    const cache = this.cache!;
    const generation = cache.generation(id.value);
    let outcome: StoredCredential | StorageError;
    try {
      this.#count('backendRequest');
      outcome = await this.guard(() => this.#provider.retrieve(id, context), 'retrieve');
    } catch (error) {
      outcome = asStorageError(error, this.#provider.name, id.value);
    }
    const result = this.#settle(id.value, outcome, generation);
    if (result instanceof StorageError) throw result;
    return result;
  }

  async #fetchMany(
    ids: readonly CredentialId[],
    options: { concurrency?: number | undefined; context?: CredentialContext | undefined },
  ): Promise<Map<string, StoredCredential | StorageError>> {
    const provider = this.#provider;
    const concurrency = options.concurrency ?? DEFAULT_BULK_CONCURRENCY;
    this.#count('backendRequest', ids.length);
    const batch = () =>
      typeof provider.retrieveMany === 'function'
        ? provider.retrieveMany(ids, { concurrency, context: options.context })
        : retrieveEach(provider, ids, { concurrency, context: options.context });
    try {
      this.breaker?.admit('retrieveMany');
      const results = await batch();
      const errors = [...results.values()].filter(isBulkError);
      for (const error of errors) this.lastError.record(error, 'retrieveMany', this.#settings.clock.now());
      // Every id failing with an outage is an outage of the backend; anything else proves it answered.
      if (errors.length === results.size && errors.every((e) => CircuitBreaker.isOutage(e)) && errors.length)
        this.breaker?.recordOutage();
      else this.breaker?.recordSuccess();
      return results;
    } catch (error) {
      if (CircuitBreaker.isOutage(error) && !isCircuitRejection(error)) this.breaker?.recordOutage();
      this.lastError.record(error, 'retrieveMany', this.#settings.clock.now());
      const failure = asStorageError(error, provider.name, '');
      return new Map(ids.map((id) => [id.value, failure.withContext({ credentialId: id.value })]));
    }
  }

  /** Caches what the backend said (unless a write intervened) and decides whether a stale value may stand in. */
  #settle(key: string, outcome: StoredCredential | StorageError, generation: number | undefined) {
    const cache = this.cache;
    const current = cache !== undefined && generation !== undefined && cache.generation(key) === generation;
    if (!(outcome instanceof StorageError)) {
      if (cache && current) {
        cache.setValue(key, outcome);
        const entry = cache.lookup(key);
        if (entry?.kind === 'value') return { stored: entry.stored, stale: false };
      }
      return { stored: outcome, stale: false };
    }
    if (!cache) return outcome;
    if (outcome.code === 'NotFound') {
      if (current) cache.setMissing(key, outcome);
      return outcome;
    }
    if (STALE_SERVABLE.has(outcome.code)) {
      const entry = cache.lookup(key);
      if (cache.isServableStale(entry)) {
        this.#count('staleServed');
        this.#settings.logger.warn(
          {
            provider: this.#provider.name,
            operation: 'retrieve',
            credentialId: key,
            code: outcome.code,
            expiredForMs: Math.max(0, this.#settings.clock.now() - entry.freshUntil),
          },
          'backend failed; served the last good value (stale)',
        );
        return { stored: entry.stored, stale: true };
      }
    }
    return outcome;
  }

  #count(event: ReadPathEvent, n = 1): void {
    this.#settings.metrics.recordReadPath(this.#provider.name, event, n);
  }
}

function isCircuitRejection(error: unknown): boolean {
  return isStorageError(error) && error.details['circuit'] !== undefined;
}

function notFound(provider: string, id: string): StorageError {
  return new StorageError({
    code: 'NotFound',
    message: `credential "${id}" does not exist in ${provider}`,
    provider,
    operation: 'retrieve',
    credentialId: id,
  });
}

function missingResult(provider: string, id: string): StorageError {
  return notFound(provider, id);
}
