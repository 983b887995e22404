import { copyMetadata } from './cache.js';
import type { Clock } from './clock.js';
import type { CredentialMetadata } from './metadata.js';

/**
 * How long what a provider last read or wrote of a credential stands in for a read before a write, in ms.
 *
 * @example
 * ```ts
 * import { KNOWN_RECORD_TTL_MS } from 'nebula-credential';
 * console.log(KNOWN_RECORD_TTL_MS); // 30000
 * ```
 */
export const KNOWN_RECORD_TTL_MS = 30_000;
/**
 * How long a credential seen missing counts as missing for a write, in ms (short: another process may
 * create it).
 *
 * @example
 * ```ts
 * import { KNOWN_ABSENT_TTL_MS } from 'nebula-credential';
 * console.log(KNOWN_ABSENT_TTL_MS); // 5000
 * ```
 */
export const KNOWN_ABSENT_TTL_MS = 5_000;
/**
 * Most credentials a provider remembers; the one written longest ago goes first.
 *
 * @example
 * ```ts
 * import { KNOWN_RECORD_LIMIT } from 'nebula-credential';
 * console.log(KNOWN_RECORD_LIMIT); // 1000
 * ```
 */
export const KNOWN_RECORD_LIMIT = 1_000;

/**
 * What a provider knows of one credential from its own recent calls, without asking the backend.
 *
 * @example
 * ```ts
 * const known: KnownRecord = { present: true, metadata: createMetadata() };
 * ```
 */
export type KnownRecord =
  | { readonly present: true; readonly metadata: CredentialMetadata }
  | { readonly present: false };

interface Entry {
  record: KnownRecord;
  expiresAt: number;
}

/**
 * The metadata a provider last read or wrote per credential, for a short while, so a write over a
 * credential this process just read or wrote keeps `createdAt`, tags and rotation policy (the overwrite
 * rule) without reading the backend again: on AWS, Azure and GCP, where every version carries its own
 * metadata, that read is the write's second round trip.
 *
 * A remembered record can be stale when another process writes the same credential meanwhile; the window is
 * {@link KNOWN_RECORD_TTL_MS}, and a write that finds the credential gone forgets it and writes again as
 * new. Only metadata is kept, never a value.
 *
 * @example
 * ```ts
 * import { KnownRecords, createMetadata, systemClock } from 'nebula-credential';
 * const known = new KnownRecords(systemClock);
 * known.remember('api_key', createMetadata());
 * console.log(known.get('api_key')?.present); // true
 * ```
 */
export class KnownRecords {
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();
  readonly #limit: number;

  /** `clock` decides expiry (tests pass a `ManualClock`); `limit` bounds the entries kept. */
  constructor(clock: Clock, limit = KNOWN_RECORD_LIMIT) {
    this.#clock = clock;
    this.#limit = limit;
  }

  /** What is known of `id`, or `undefined` when nothing recent is. */
  get(id: string): KnownRecord | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#clock.now()) {
      this.#entries.delete(id);
      return undefined;
    }
    return entry.record;
  }

  /** Records that `id` holds `metadata` (just read or written). */
  remember(id: string, metadata: CredentialMetadata): void {
    this.#set(id, { present: true, metadata: copyMetadata(metadata) }, KNOWN_RECORD_TTL_MS);
  }

  /** Records that `id` does not exist (just deleted, or read as missing). */
  rememberAbsent(id: string): void {
    this.#set(id, { present: false }, KNOWN_ABSENT_TTL_MS);
  }

  /** Forgets `id` (a write failed, or what was known proved wrong). */
  forget(id: string): void {
    this.#entries.delete(id);
  }

  /** Forgets everything. */
  clear(): void {
    this.#entries.clear();
  }

  #set(id: string, record: KnownRecord, ttlMs: number): void {
    setBounded(this.#entries, id, { record, expiresAt: this.#clock.now() + ttlMs }, this.#limit);
  }
}

/**
 * Sets `key` in `map` as its newest entry, and drops the entry set longest ago once `map` holds more than
 * `limit`: the bound every per-credential memory of a provider keeps (a Map iterates in insertion order).
 *
 * @example
 * ```ts
 * import { setBounded } from 'nebula-credential';
 * const versions = new Map<string, string>();
 * setBounded(versions, 'api_key', '42', 2);
 * ```
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, limit = KNOWN_RECORD_LIMIT): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > limit) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
}
