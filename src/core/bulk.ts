import { isStorageError, StorageError, toStorageError } from './errors.js';
import { CredentialId, type CredentialIdLike } from './id.js';
import type { CredentialContext, CredentialMetadata } from './metadata.js';
import type { RetrieveManyOptions, StorageProvider, StoredCredential } from './provider.js';
import type { SecretString } from './secret-string.js';

/**
 * Default number of backend requests `getMany` keeps in flight.
 *
 * @example
 * ```ts
 * import { DEFAULT_BULK_CONCURRENCY } from 'nebula-credential';
 * console.log(DEFAULT_BULK_CONCURRENCY); // 8
 * ```
 */
export const DEFAULT_BULK_CONCURRENCY = 8;

/**
 * One id's outcome in {@link CredentialStore.getMany}: its value, or its own typed error. A partial
 * failure is not a thrown error; look at `ok`.
 *
 * @example
 * ```ts
 * for (const r of await store.getMany(['db_password', 'api_key'])) {
 *   if (r.ok) { use(r.secret.expose()); r.secret.dispose(); }
 *   else console.warn(r.id, r.error.code);
 * }
 * ```
 */
export type BulkReadResult =
  | {
      id: string;
      ok: true;
      secret: SecretString;
      metadata: CredentialMetadata;
      version?: string | undefined;
      /** True when the backend failed and the cache's last good value was served. */
      stale: boolean;
    }
  | { id: string; ok: false; error: StorageError };

/** Options of {@link CredentialStore.getMany}. */
export interface GetManyOptions {
  /** Most backend requests in flight at once (native batches count as one each). Default 8. */
  concurrency?: number | undefined;
  context?: CredentialContext | undefined;
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight, keeping the input order in the result.
 *
 * @example
 * ```ts
 * import { mapWithConcurrency } from 'nebula-credential';
 * const lengths = await mapWithConcurrency(['a', 'bb'], 2, async (s) => s.length); // [1, 2]
 * ```
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      out[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/**
 * Splits `items` into chunks of at most `size` (AWS batches 20 secrets per call).
 *
 * @example
 * ```ts
 * import { chunk } from 'nebula-credential';
 * console.log(chunk([1, 2, 3], 2)); // [[1, 2], [3]]
 * ```
 */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The generic bulk read: one `retrieve` per id with bounded concurrency, each failure kept as that id's
 * result. Providers with a native batch use it for what the batch cannot carry.
 *
 * @example
 * ```ts
 * import { retrieveEach } from 'nebula-credential';
 * const results = await retrieveEach(provider, ['a', 'b'], { concurrency: 4 });
 * ```
 */
export async function retrieveEach(
  provider: Pick<StorageProvider, 'retrieve' | 'name'>,
  ids: readonly CredentialIdLike[],
  options: RetrieveManyOptions = {},
): Promise<Map<string, StoredCredential | StorageError>> {
  const results = new Map<string, StoredCredential | StorageError>();
  const unique = [...new Set(ids.map((id) => (id instanceof CredentialId ? id.value : id)))];
  await mapWithConcurrency(unique, options.concurrency ?? DEFAULT_BULK_CONCURRENCY, async (id) => {
    try {
      results.set(id, await provider.retrieve(id, options.context));
    } catch (error) {
      results.set(id, asStorageError(error, provider.name, id));
    }
  });
  return results;
}

/**
 * Any failure as a StorageError with the provider and id filled in.
 *
 * @example
 * ```ts
 * import { asStorageError } from 'nebula-credential';
 * const error = asStorageError(new TypeError('x'), 'memory', 'api_key'); // Internal
 * ```
 */
export function asStorageError(error: unknown, provider: string, credentialId: string): StorageError {
  return isStorageError(error)
    ? error.withContext({ provider, credentialId })
    : toStorageError(error, { provider, operation: 'retrieve', credentialId });
}

/** True when `value` is an error result of a bulk read. */
export function isBulkError(value: StoredCredential | StorageError | undefined): value is StorageError {
  return value instanceof StorageError;
}
