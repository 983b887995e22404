import { inspect } from 'node:util';
import type { BulkReadResult, GetManyOptions } from './bulk.js';
import { type CredentialCacheOptions, copyMetadata, resolveCacheOptions } from './cache.js';
import { type CircuitBreakerOptions, resolveCircuitBreakerOptions } from './circuit-breaker.js';
import { type Clock, systemClock } from './clock.js';
import { EncryptionManager } from './crypto.js';
import { isStorageError, StorageError } from './errors.js';
import { createStorageProvider, type StorageConfig } from './factory.js';
import { providerHealth, type StoreHealth } from './health.js';
import { CredentialId, type CredentialIdLike } from './id.js';
import { type Logger, silentLogger } from './logger.js';
import {
  type CredentialContext,
  type CredentialFilter,
  type CredentialMetadata,
  createMetadata,
  type RotationPolicy,
} from './metadata.js';
import { StorageMetrics } from './metrics.js';
import { OptionsValidator } from './options.js';
import type { StorageProvider, StoredCredential } from './provider.js';
import { ReadPath } from './read-path.js';
import { SecretString } from './secret-string.js';
import {
  ChangeWatcher,
  type CredentialChangeListener,
  type CredentialWatch,
  type WatchOptions,
  watchTarget,
} from './watch.js';

/**
 * Where the encryption key comes from: raw bytes, a passphrase with its salt (Argon2id), a key file
 * (32 raw bytes, or 64 hex or 44 base64 characters; must not be readable by group or others), or a ready
 * manager.
 */
export type EncryptionConfig =
  | { key: Uint8Array }
  | { passphrase: string | SecretString; salt: Uint8Array | string }
  | { keyFile: string }
  | { manager: EncryptionManager };

/** Options of {@link openCredentialStore}. */
export interface CredentialStoreOptions extends CredentialStoreReadPathOptions {
  /** The backend: a `createStorageProvider` config, or a provider you built. */
  storage: StorageConfig | StorageProvider;
  encryption: EncryptionConfig;
}

/**
 * The read-path options of a store (see docs/read-path.md): all off by default.
 *
 * @example
 * ```ts
 * const store = await openCredentialStore({
 *   storage: { provider: 'hashicorp-vault', address: 'https://vault:8200', auth: { token } },
 *   encryption: { keyFile: '/run/secrets/nebula-key' },
 *   cache: { ttlMs: 60_000, negativeTtlMs: 10_000, staleIfErrorMs: 600_000, maxEntries: 1000 },
 *   circuitBreaker: { failureThreshold: 5, coolDownMs: 30_000 },
 * });
 * ```
 */
export interface CredentialStoreReadPathOptions {
  /** Cache encrypted documents (each `get` still decrypts). Off unless given. */
  cache?: CredentialCacheOptions | undefined;
  /** Fail fast while the backend is down. Off unless given. */
  circuitBreaker?: CircuitBreakerOptions | undefined;
  /** Time source of the cache, the breaker and watches. Default: the provider's clock. */
  clock?: Clock | undefined;
  /** Where read-path figures go. Default: the provider's metrics. */
  metrics?: StorageMetrics | undefined;
  /** Where stale reads and breaker changes are logged (never a value). Default: the provider's logger. */
  logger?: Logger | undefined;
}

const STORE_OPTION_KEYS = ['storage', 'encryption', 'cache', 'circuitBreaker', 'clock', 'metrics', 'logger'];

/** Options of {@link CredentialStore.put}. */
export interface PutOptions {
  tags?: Record<string, string>;
  rotationPolicy?: RotationPolicy;
  context?: CredentialContext;
}

/** What {@link CredentialStore.get} returns. */
export interface RetrievedSecret {
  /** The value; call `dispose()` when done. */
  secret: SecretString;
  metadata: CredentialMetadata;
  version?: string | undefined;
  /**
   * True when the backend failed (`Unavailable`, `Timeout`, `RateLimited`) and the cache's last good value
   * was served instead (stale-if-error); false otherwise.
   */
  stale?: boolean | undefined;
}

/**
 * Resolves an {@link EncryptionConfig} into a manager.
 *
 * @example
 * ```ts
 * import { resolveEncryption } from 'nebula-credential';
 * const manager = await resolveEncryption({ keyFile: `${process.env.HOME}/.nebula/key` });
 * ```
 */
export async function resolveEncryption(config: EncryptionConfig): Promise<EncryptionManager> {
  if ('manager' in config) return config.manager;
  if ('key' in config) return EncryptionManager.fromKey(config.key);
  if ('passphrase' in config) {
    const salt = typeof config.salt === 'string' ? Buffer.from(config.salt, 'base64') : config.salt;
    return EncryptionManager.fromPassphrase(config.passphrase, salt);
  }
  return EncryptionManager.fromKey(await readKeyFile(config.keyFile));
}

/**
 * Reads a key file: 32 raw bytes, 64 hex characters or 44 base64 characters (whitespace ignored). Refuses a
 * file that group or others may read, as ssh does for private keys.
 *
 * @example
 * ```ts
 * import { readKeyFile } from 'nebula-credential';
 * const key = await readKeyFile('/run/secrets/nebula-key');
 * ```
 */
export async function readKeyFile(path: string): Promise<Buffer> {
  const invalid = (message: string, cause?: unknown) =>
    new StorageError({ code: 'InvalidConfig', message, operation: 'configure', cause, details: { path } });
  // Loaded on use: most processes never read a key file, and importing the core should stay cheap.
  const { readFile, stat } = await import('node:fs/promises');
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (error) {
    throw invalid(
      `cannot read the key file ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); create one with "nebula-credential init"`,
      error,
    );
  }
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    throw invalid(
      `the key file ${path} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`,
    );
  }
  if (info.size > 4096)
    throw invalid(`the key file ${path} is ${info.size} bytes; a key file holds 32 bytes`);
  const raw = await readFile(path);
  if (raw.length === 32) return raw;
  const text = raw.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) return Buffer.from(text, 'base64');
  throw invalid(`the key file ${path} does not hold a 32-byte key (raw, 64 hex or 44 base64 characters)`);
}

/**
 * The facade applications use: encrypts before storing, decrypts after retrieving, on any backend.
 * The credential id is bound into the encryption, so a ciphertext copied under another id fails to decrypt.
 *
 * @example
 * ```ts
 * import { openCredentialStore } from 'nebula-credential';
 * const store = await openCredentialStore({
 *   storage: { provider: 'local', directory: './.credentials' },
 *   encryption: { keyFile: './.credentials.key' },
 * });
 * await store.put('github_token', 'ghp_example', { tags: { team: 'platform' } });
 * const { secret } = await store.get('github_token');
 * console.log(secret.expose());
 * secret.dispose();
 * await store.close();
 * ```
 */
export class CredentialStore {
  readonly provider: StorageProvider;
  /** Where this store's read-path figures go (`metrics.readPathSnapshot()`). */
  readonly metrics: StorageMetrics;
  readonly #encryption: EncryptionManager;
  readonly #readPath: ReadPath;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #watches = new Set<CredentialWatch>();

  constructor(
    provider: StorageProvider,
    encryption: EncryptionManager,
    options: CredentialStoreReadPathOptions = {},
  ) {
    const v = new OptionsValidator('credential store', options);
    const cache = resolveCacheOptions(v);
    const circuitBreaker = resolveCircuitBreakerOptions(v);
    checkRuntimeOptions(v);
    v.throwIfInvalid();
    this.provider = provider;
    this.#encryption = encryption;
    const runtime = provider.runtime;
    this.#clock = options.clock ?? runtime?.clock ?? systemClock;
    this.metrics = options.metrics ?? runtime?.metrics ?? new StorageMetrics();
    this.#logger = options.logger ?? runtime?.logger ?? silentLogger;
    this.#readPath = new ReadPath(provider, {
      cache,
      circuitBreaker,
      clock: this.#clock,
      metrics: this.metrics,
      logger: this.#logger,
    });
  }

  /** Encrypts and stores `secret` under `id` (overwriting); keeps the original creation time on overwrite. */
  async put(
    idLike: CredentialIdLike,
    secret: string | Uint8Array | SecretString,
    options: PutOptions = {},
  ): Promise<CredentialMetadata> {
    const id = CredentialId.from(idLike);
    const metadata = createMetadata({
      ...(options.tags ? { tags: options.tags } : {}),
      ...(options.rotationPolicy ? { rotationPolicy: options.rotationPolicy } : {}),
    });
    const previous = await this.#previousMetadata(id, options.context);
    if (previous) metadata.createdAt = previous.createdAt;
    const plaintext =
      secret instanceof SecretString
        ? secret.exposeBytes()
        : typeof secret === 'string'
          ? Buffer.from(secret)
          : Buffer.from(secret);
    try {
      const data = this.#encryption.encrypt(plaintext, aad(id));
      this.#readPath.beginWrite(id);
      try {
        await this.#readPath.guard(() => this.provider.store(id, data, metadata, options.context), 'store');
      } catch (error) {
        this.#readPath.writeFailed(id);
        throw error;
      }
      this.#readPath.written(id, { data, metadata: copyMetadata(metadata) });
    } finally {
      plaintext.fill(0);
    }
    return metadata;
  }

  /** Retrieves and decrypts. Missing: `NotFound`; wrong key or tampered data: `DecryptionFailed`. */
  async get(idLike: CredentialIdLike, context?: CredentialContext): Promise<RetrievedSecret> {
    const id = CredentialId.from(idLike);
    const { stored, stale } = await this.#readPath.read(id, context);
    return this.#open(id, stored, stale);
  }

  /** Metadata (and version) without decrypting; served from the cache like `get`. */
  async describe(
    idLike: CredentialIdLike,
    context?: CredentialContext,
  ): Promise<{ metadata: CredentialMetadata; version?: string | undefined; stale?: boolean | undefined }> {
    const { stored, stale } = await this.#readPath.read(CredentialId.from(idLike), context);
    return { metadata: copyMetadata(stored.metadata), version: stored.version, stale };
  }

  /**
   * Reads many credentials at once, with bounded concurrency and the backend's native batch where it has
   * one (AWS BatchGetSecretValue, one labelled list on Kubernetes). Each id gets its own result, in the
   * order given; a failure of some ids (missing, denied, invalid) is reported per id, never thrown.
   *
   * @example
   * ```ts
   * const results = await store.getMany(['db_password', 'api_key', 'missing_one']);
   * for (const r of results) {
   *   if (r.ok) { console.log(r.id, r.secret.expose().length); r.secret.dispose(); }
   *   else console.log(r.id, r.error.code); // missing_one NotFound
   * }
   * ```
   */
  async getMany(ids: readonly CredentialIdLike[], options: GetManyOptions = {}): Promise<BulkReadResult[]> {
    if (!Array.isArray(ids)) {
      throw new StorageError({
        code: 'InvalidConfig',
        message: 'getMany takes an array of credential ids',
        provider: this.provider.name,
        operation: 'getMany',
      });
    }
    const parsed = ids.map((idLike) => {
      try {
        return CredentialId.from(idLike);
      } catch (error) {
        return (error as StorageError).withContext({ provider: this.provider.name, operation: 'retrieve' });
      }
    });
    const valid = parsed.filter((p): p is CredentialId => p instanceof CredentialId);
    const results = await this.#readPath.readMany(valid, options);
    return parsed.map((p, i): BulkReadResult => {
      if (!(p instanceof CredentialId)) return { id: String(ids[i]), ok: false, error: p };
      const outcome = results.get(p.value);
      if (outcome === undefined || outcome instanceof StorageError) {
        return {
          id: p.value,
          ok: false,
          error: outcome ?? new StorageError({ code: 'Internal', message: 'no result' }),
        };
      }
      try {
        const opened = this.#open(p, outcome.stored, outcome.stale);
        return { id: p.value, ok: true, ...opened, stale: outcome.stale };
      } catch (error) {
        return { id: p.value, ok: false, error: error as StorageError };
      }
    });
  }

  /**
   * Calls `listener` whenever a credential changes or is deleted, by anyone: another process, an operator
   * in the backend's console. Uses the backend's cheapest change signal (Vault metadata, AWS DescribeSecret,
   * Azure secret properties, the Kubernetes watch API, file-system events for the local store), polled
   * every `intervalMs` with jitter and backing off on errors. A change also refreshes this store's cache.
   * Pass `{ tags }` instead of an id to watch every credential with those tags.
   *
   * @example
   * ```ts
   * const watch = store.watch('db_password', async ({ kind, version }) => {
   *   if (kind === 'changed') await pool.drainAndReconnect(); // the new value is already in the cache
   * }, { intervalMs: 15_000 });
   * await watch.ready;
   * // ...
   * await watch.close();
   * ```
   */
  watch(
    target: CredentialIdLike | CredentialFilter,
    listener: CredentialChangeListener,
    options: WatchOptions = {},
  ): CredentialWatch {
    const resolved = watchTarget(target);
    const readPath = this.#readPath;
    const watcher = new ChangeWatcher(this.provider, resolved, listener, options, {
      clock: this.#clock,
      logger: this.#logger,
      hooks: {
        beforeNotify: (change, probe) => readPath.changed(CredentialId.parse(change.id), change, probe),
        guard: (call, operation) => readPath.guard(call, operation),
      },
    });
    this.#watches.add(watcher);
    return watcher;
  }

  /**
   * Connection, credential source, auth state (token TTL, next renewal, token file age), the last error
   * and the circuit state: a snapshot without any request, safe to log.
   *
   * @example
   * ```ts
   * const h = store.health();
   * console.log(h.connected, h.credentialSource, h.auth.ttlMs, h.circuit.state, h.lastError?.code);
   * ```
   */
  health(): StoreHealth {
    const { connected, credentialSource, auth, details } = providerHealth(this.provider);
    const cache = this.#readPath.cache;
    return {
      provider: this.provider.name,
      connected,
      credentialSource,
      auth,
      ...(this.#readPath.lastError.last ? { lastError: this.#readPath.lastError.last } : {}),
      circuit: this.#readPath.circuit(),
      cache: cache
        ? { enabled: true, entries: cache.size, maxEntries: cache.options.maxEntries }
        : { enabled: false, entries: 0, maxEntries: 0 },
      details,
    };
  }

  /** Forgets the cached entry of one id: the next read asks the backend. */
  invalidate(idLike: CredentialIdLike): void {
    this.#readPath.invalidate(CredentialId.from(idLike).value);
  }

  /** Forgets every cached entry. */
  clear(): void {
    this.#readPath.clear();
  }

  list(filter?: CredentialFilter, context?: CredentialContext): Promise<string[]> {
    return this.#readPath.guard(() => this.provider.list(filter, context), 'list');
  }

  async delete(idLike: CredentialIdLike, context?: CredentialContext): Promise<void> {
    const id = CredentialId.from(idLike);
    this.#readPath.beginWrite(id);
    try {
      await this.#readPath.guard(() => this.provider.delete(id, context), 'delete');
    } catch (error) {
      this.#readPath.writeFailed(id);
      throw error;
    }
    this.#readPath.deleted(id);
  }

  exists(idLike: CredentialIdLike, context?: CredentialContext): Promise<boolean> {
    return this.#readPath.guard(() => this.provider.exists(idLike, context), 'exists');
  }

  /** Stops every watch, closes the provider and wipes the key from memory. */
  async close(): Promise<void> {
    await Promise.all([...this.#watches].map((w) => w.close()));
    this.#watches.clear();
    await this.provider.close();
    this.#encryption.dispose();
    this.#readPath.clear();
  }

  /** A log-safe description: the provider and the cache's size, never a value. */
  toJSON(): Record<string, unknown> {
    return { provider: this.provider.name, cache: this.#readPath.cache?.toJSON() ?? null };
  }

  [inspect.custom](): string {
    return `CredentialStore ${JSON.stringify(this.toJSON())}`;
  }

  #open(id: CredentialId, stored: StoredCredential, stale: boolean): RetrievedSecret {
    let plaintext: Buffer;
    try {
      plaintext = this.#encryption.decrypt(stored.data, aad(id));
    } catch (error) {
      throw isStorageError(error)
        ? error.withContext({ provider: this.provider.name, credentialId: id.value })
        : error;
    }
    return {
      secret: SecretString.fromOwnedBuffer(plaintext),
      metadata: this.#readPath.cache ? copyMetadata(stored.metadata) : stored.metadata,
      version: stored.version,
      stale,
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #previousMetadata(
    id: CredentialId,
    context?: CredentialContext,
  ): Promise<CredentialMetadata | undefined> {
    try {
      return (await this.provider.retrieve(id, context)).metadata;
    } catch (error) {
      if (isStorageError(error, 'NotFound')) return undefined;
      throw error;
    }
  }
}

/**
 * The associated data `CredentialStore` binds into every encryption: the credential id. Tools that move
 * ciphertext between stores (re-encrypting it) use it so the result reads back through `get`.
 *
 * @example
 * ```ts
 * import { credentialAssociatedData, EncryptionManager } from 'nebula-credential';
 * const data = EncryptionManager.generate().encrypt(Buffer.from('v'), credentialAssociatedData('api_key'));
 * ```
 */
export function credentialAssociatedData(id: CredentialIdLike): Buffer {
  return Buffer.from(`id:${CredentialId.from(id).value}`, 'utf8');
}

const aad = credentialAssociatedData;

/**
 * Opens a {@link CredentialStore}: resolves the key, creates and connects the provider.
 *
 * @example
 * ```ts
 * import { openCredentialStore } from 'nebula-credential';
 * import { randomBytes } from 'node:crypto';
 * const store = await openCredentialStore({ storage: { provider: 'memory' }, encryption: { key: randomBytes(32) } });
 * await store.put('api_key', 'value');
 * ```
 */
export async function openCredentialStore(options: CredentialStoreOptions): Promise<CredentialStore> {
  // Every option problem is reported before a key is read or a connection opened.
  const v = new OptionsValidator('credential store', options);
  for (const key of Object.keys(v.options)) {
    if (!STORE_OPTION_KEYS.includes(key)) v.add(key, 'unknown option');
  }
  resolveCacheOptions(v);
  resolveCircuitBreakerOptions(v);
  checkRuntimeOptions(v);
  v.throwIfInvalid();
  const { storage, encryption: encryptionConfig, ...readPath } = options;
  const encryption = await resolveEncryption(encryptionConfig);
  const provider =
    typeof (storage as StorageProvider).store === 'function'
      ? (storage as StorageProvider)
      : await createStorageProvider(storage as StorageConfig);
  return new CredentialStore(provider, encryption, readPath);
}

function checkRuntimeOptions(v: OptionsValidator): void {
  const clock = v.get('clock') as Clock | undefined;
  if (clock !== undefined && (typeof clock?.now !== 'function' || typeof clock?.sleep !== 'function')) {
    v.add('clock', 'must have now() and sleep() methods');
  }
  const metrics = v.get('metrics');
  if (metrics !== undefined && !(metrics instanceof StorageMetrics)) {
    v.add('metrics', 'must be a StorageMetrics instance');
  }
  const logger = v.get('logger') as Logger | undefined;
  if (
    logger !== undefined &&
    ['debug', 'info', 'warn', 'error'].some((m) => typeof (logger as never)?.[m] !== 'function')
  ) {
    v.add('logger', 'must have debug, info, warn and error methods (a pino logger fits)');
  }
}
