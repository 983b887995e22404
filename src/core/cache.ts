import type { Clock } from './clock.js';
import type { StorageError } from './errors.js';
import type { CredentialMetadata } from './metadata.js';
import { option } from './options-schema.js';
import type { StoredCredential } from './provider.js';

/**
 * The cache of a {@link CredentialStore} (`openCredentialStore({ ..., cache })`). Every field is optional.
 *
 * @example
 * ```ts
 * const cache: CredentialCacheOptions = { ttlMs: 60_000, negativeTtlMs: 5_000, staleIfErrorMs: 300_000, maxEntries: 500 };
 * ```
 */
export interface CredentialCacheOptions {
  /** How long a value read from the backend is served without asking again. Default 30000 (30 s). */
  ttlMs?: number | undefined;
  /** How long a `NotFound` is remembered (0 turns negative caching off). Default 5000. */
  negativeTtlMs?: number | undefined;
  /**
   * How long after expiry the last good value may still be served when the backend fails with
   * `Unavailable`, `Timeout` or `RateLimited` (the result then has `stale: true`). 0 (default) turns it off.
   */
  staleIfErrorMs?: number | undefined;
  /** Most entries kept; the least recently used goes first. Default 1000. */
  maxEntries?: number | undefined;
  /**
   * Fraction by which each entry's TTL is shortened at random (0 to 0.5), so entries read together do not
   * all expire together and stampede the backend. Default 0.1.
   */
  jitter?: number | undefined;
}

/** {@link CredentialCacheOptions} with the defaults applied. */
export interface ResolvedCacheOptions {
  ttlMs: number;
  negativeTtlMs: number;
  staleIfErrorMs: number;
  maxEntries: number;
  jitter: number;
}

const DAY_MS = 86_400_000;
const ms = (doc: string, min: number, value: number) =>
  option.number({ doc, integer: true, min, max: DAY_MS, default: value });

/**
 * The declared fields of a store's `cache` option (validated with the other options; every problem is
 * reported at once, with its path, as `InvalidConfig`).
 *
 * @example
 * ```ts
 * import { CACHE_OPTION_FIELDS } from 'nebula-credential';
 * console.log(Object.keys(CACHE_OPTION_FIELDS)); // ttlMs, negativeTtlMs, staleIfErrorMs, maxEntries, jitter
 * ```
 */
export const CACHE_OPTION_FIELDS = {
  ttlMs: ms('how long a value read from the backend is served without asking again, in ms', 1, 30_000),
  negativeTtlMs: ms('how long a NotFound is remembered, in ms (0: off)', 0, 5_000),
  staleIfErrorMs: ms(
    'how long after expiry the last good value stands in for a failing backend (0: off)',
    0,
    0,
  ),
  maxEntries: option.number({
    doc: 'most entries kept; the least recently used goes first',
    integer: true,
    min: 1,
    max: 10_000_000,
    default: 1000,
  }),
  jitter: option.number({
    doc: "fraction by which each entry's TTL is shortened at random",
    min: 0,
    max: 0.5,
    default: 0.1,
  }),
} as const;

/** One cached answer: a stored value, or a remembered `NotFound`. */
export type CacheEntry =
  | {
      kind: 'value';
      stored: StoredCredential;
      /** Served without asking the backend until then (ms since the epoch, cache clock). */
      freshUntil: number;
      /** Served after a backend failure until then. */
      staleUntil: number;
    }
  | { kind: 'missing'; error: StorageError; freshUntil: number; staleUntil: number };

/**
 * A bounded map of credential id to what the backend last said: the stored (encrypted) document and its
 * metadata, or a `NotFound`. Never plaintext: the store decrypts on every read. Least recently used entries
 * go first once `maxEntries` is reached; each entry's TTL is shortened by a random jitter. A per-id
 * generation number lets a read that started before a write know that its answer is outdated.
 *
 * @example
 * ```ts
 * import { CredentialCache, systemClock } from 'nebula-credential';
 * const cache = new CredentialCache({ ttlMs: 1000, negativeTtlMs: 0, staleIfErrorMs: 0, maxEntries: 10, jitter: 0 }, systemClock);
 * console.log(cache.lookup('api_key')); // undefined
 * ```
 */
export class CredentialCache {
  /** The options in force (defaults applied). */
  readonly options: ResolvedCacheOptions;
  readonly #clock: Clock;
  readonly #entries = new Map<string, CacheEntry>();
  readonly #generations = new Map<string, number>();
  #generationCounter = 0;
  /** The generation of ids whose own counter was pruned: the counter's value at the last prune. */
  #generationFloor = 0;
  readonly #random: () => number;
  /** Called with the number of entries pushed out by the size bound. */
  onEvict: (count: number) => void = () => {};

  /** A cache on `clock`; `random` (0 to 1) draws each entry's jitter, replaceable in tests. */
  constructor(options: ResolvedCacheOptions, clock: Clock, random: () => number = Math.random) {
    this.options = options;
    this.#clock = clock;
    this.#random = random;
  }

  /** The entry of `id` (fresh or not), marking it most recently used. */
  lookup(id: string): CacheEntry | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    if (entry.staleUntil < this.#clock.now()) {
      this.#entries.delete(id);
      return undefined;
    }
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    return entry;
  }

  /** True when `entry` may be served without asking the backend. */
  isFresh(entry: CacheEntry): boolean {
    return this.#clock.now() < entry.freshUntil;
  }

  /** True when `entry` is a value that may still be served because the backend is failing. */
  isServableStale(entry: CacheEntry | undefined): entry is Extract<CacheEntry, { kind: 'value' }> {
    return entry?.kind === 'value' && this.#clock.now() <= entry.staleUntil;
  }

  /** The id's generation: it changes on every write, delete and invalidation. */
  generation(id: string): number {
    return this.#generations.get(id) ?? this.#generationFloor;
  }

  /** Caches a value just read or written. */
  setValue(id: string, stored: StoredCredential): void {
    const now = this.#clock.now();
    const freshUntil = now + this.#ttl(this.options.ttlMs);
    this.#set(id, {
      kind: 'value',
      stored: freezeStored(stored),
      freshUntil,
      staleUntil: freshUntil + this.options.staleIfErrorMs,
    });
  }

  /** Remembers a `NotFound` (when negative caching is on), replacing any value. */
  setMissing(id: string, error: StorageError): void {
    if (this.options.negativeTtlMs === 0) {
      this.#entries.delete(id);
      return;
    }
    const freshUntil = this.#clock.now() + this.#ttl(this.options.negativeTtlMs);
    this.#set(id, { kind: 'missing', error, freshUntil, staleUntil: freshUntil });
  }

  /** Forgets `id` and moves its generation on, so reads in flight do not store their answer. */
  invalidate(id: string): void {
    this.#entries.delete(id);
    this.bump(id);
  }

  /** Moves the generation of `id` on (a write through the store is about to change it). */
  bump(id: string): void {
    this.#generations.set(id, ++this.#generationCounter);
  }

  /** Forgets everything. */
  clear(): void {
    for (const id of this.#entries.keys()) this.bump(id);
    this.#entries.clear();
  }

  /** True when `id` has an entry (fresh or stale). */
  has(id: string): boolean {
    return this.#entries.has(id);
  }

  /** Number of entries held (values and remembered `NotFound`s). */
  get size(): number {
    return this.#entries.size;
  }

  /** A log-safe summary: counts only, never a value or an id. */
  toJSON(): Record<string, number> {
    return { entries: this.#entries.size, maxEntries: this.options.maxEntries, ttlMs: this.options.ttlMs };
  }

  #ttl(base: number): number {
    return Math.max(1, Math.round(base * (1 - this.options.jitter * this.#random())));
  }

  #set(id: string, entry: CacheEntry): void {
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    let evicted = 0;
    while (this.#entries.size > this.options.maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
      evicted++;
    }
    // Pruned ids fall back to the floor, which differs from any generation a read captured before: such a
    // read then skips caching its answer (a lost cache fill, never a stale one).
    if (this.#generations.size > this.options.maxEntries * 2 + 64) {
      this.#generationFloor = ++this.#generationCounter;
      for (const key of this.#generations.keys()) if (!this.#entries.has(key)) this.#generations.delete(key);
    }
    if (evicted > 0) this.onEvict(evicted);
  }
}

/** A cached document is shared by every reader: it is frozen so no caller can change it for the others. */
function freezeStored(stored: StoredCredential): StoredCredential {
  const metadata: CredentialMetadata = copyMetadata(stored.metadata);
  Object.freeze(metadata.tags);
  if (metadata.rotationPolicy) Object.freeze(metadata.rotationPolicy);
  return Object.freeze({
    data: Object.freeze({ ...stored.data }),
    metadata: Object.freeze(metadata),
    version: stored.version,
  });
}

/**
 * A deep copy of metadata (dates and tags), handed to callers so they cannot alter a cached entry.
 *
 * @example
 * ```ts
 * import { copyMetadata, createMetadata } from 'nebula-credential';
 * const copy = copyMetadata(createMetadata({ tags: { a: 'b' } }));
 * ```
 */
export function copyMetadata(metadata: CredentialMetadata): CredentialMetadata {
  const copy: CredentialMetadata = {
    createdAt: new Date(metadata.createdAt.getTime()),
    lastModified: new Date(metadata.lastModified.getTime()),
    tags: { ...metadata.tags },
  };
  if (metadata.lastAccessed) copy.lastAccessed = new Date(metadata.lastAccessed.getTime());
  if (metadata.rotationPolicy) copy.rotationPolicy = { intervalDays: metadata.rotationPolicy.intervalDays };
  return copy;
}
