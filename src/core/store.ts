import { inspect } from 'node:util';
import { checkOptionsObject, describeType, invalidArgument, isPlainObject } from './arguments.js';
import type { BulkReadResult, GetManyOptions } from './bulk.js';
import {
  CACHE_OPTION_FIELDS,
  type CredentialCacheOptions,
  copyMetadata,
  type ResolvedCacheOptions,
} from './cache.js';
import {
  CIRCUIT_BREAKER_OPTION_FIELDS,
  type CircuitBreakerOptions,
  type ResolvedCircuitBreakerOptions,
} from './circuit-breaker.js';
import { type Clock, systemClock } from './clock.js';
import { disposedManagerError, EncryptionManager } from './crypto.js';
import { asyncDisposeSymbol } from './dispose.js';
import { isStorageError, StorageError } from './errors.js';
import { FILE_SIZE_LIMITS, readBoundedFile } from './files.js';
import { providerHealth, type StoreHealth } from './health.js';
import { CredentialId, type CredentialIdLike } from './id.js';
import { type Logger, silentLogger } from './logger.js';
import {
  type CredentialContext,
  type CredentialFilter,
  type CredentialMetadata,
  createMetadata,
  type RotationPolicy,
  validateContext,
  validateFilter,
} from './metadata.js';
import { StorageMetrics } from './metrics.js';
import { CLOCK_CHECK, LOGGER_CHECK, METRICS_CHECK } from './options.js';
import { OptionsSchema, option } from './options-schema.js';
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
 * Where the encryption key comes from, exactly one of: raw bytes (`key`), a passphrase with its salt
 * (Argon2id), a key file (32 raw bytes, or 64 hex or 44 base64 characters; must not be readable by group or
 * others), or a ready manager (which stays the caller's: the store never disposes it).
 */
export type EncryptionConfig =
  | { key: Uint8Array }
  | { passphrase: string | SecretString; salt: Uint8Array | string }
  | { keyFile: string }
  | { manager: EncryptionManager };

/**
 * Options of the {@link CredentialStore} constructor.
 *
 * @example
 * ```ts
 * import { CredentialStore, EncryptionManager } from 'nebula-credential';
 * import { MemoryStorageProvider } from 'nebula-credential/memory';
 * const store = new CredentialStore(new MemoryStorageProvider(), EncryptionManager.generate(), {
 *   disposeEncryptionOnClose: true, // this store is the manager's only user
 * });
 * await store.close(); // closes the provider and wipes the key
 * ```
 */
export interface CredentialStoreConstructorOptions extends CredentialStoreReadPathOptions {
  /**
   * Dispose (wipe) the manager on {@link CredentialStore.close}. Default false: a manager passed in belongs
   * to its creator, who may share it with other stores. `openCredentialStore` sets it for the managers it
   * creates from a key, a key file or a passphrase.
   */
  disposeEncryptionOnClose?: boolean | undefined;
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

/**
 * The options of a store that configure its read path (accepted by the constructor and by
 * `openCredentialStore`).
 *
 * @example
 * ```ts
 * import { READ_PATH_KEYS } from 'nebula-credential';
 * console.log(READ_PATH_KEYS.includes('cache')); // true
 * ```
 */
export const READ_PATH_KEYS: readonly string[] = ['cache', 'circuitBreaker', 'clock', 'metrics', 'logger'];

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

const KEY_SOURCES = ['keyFile', 'key', 'passphrase', 'manager'] as const;
const KEY_SOURCES_TEXT =
  'one of { keyFile: "<path>" }, { key: <32 bytes> }, { passphrase, salt } or { manager: <EncryptionManager> }';

/**
 * Resolves an {@link EncryptionConfig} into a manager. Anything but exactly one well-formed key source is
 * `InvalidConfig`, naming what is expected and never echoing a value.
 *
 * @example
 * ```ts
 * import { resolveEncryption } from 'nebula-credential';
 * const manager = await resolveEncryption({ keyFile: `${process.env.HOME}/.nebula/key` });
 * ```
 */
export async function resolveEncryption(
  config: EncryptionConfig,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<EncryptionManager> {
  const bad = (message: string, path = 'encryption') =>
    invalidArgument(`encryption: ${message}`, 'configure', { path });
  if (!isPlainObject(config)) {
    throw bad(`expected ${KEY_SOURCES_TEXT} (got ${describeType(config)})`);
  }
  const c: Record<string, unknown> = config;
  const sources = KEY_SOURCES.filter((k) => c[k] !== undefined);
  if (sources.length === 0) {
    const hint =
      'passphraseFile' in c
        ? ' (passphraseFile is a setting of the CLI config; the library takes { passphrase, salt })'
        : '';
    throw bad(`no key source given: expected ${KEY_SOURCES_TEXT}${hint}`);
  }
  if (sources.length > 1) {
    throw bad(`several key sources given (${sources.join(', ')}); give exactly one: ${KEY_SOURCES_TEXT}`);
  }
  const source = sources[0]!;
  checkOptionsObject(c, 'encryption', source === 'passphrase' ? ['passphrase', 'salt'] : [source]);
  switch (source) {
    case 'manager': {
      const manager = c['manager'];
      if (!(manager instanceof EncryptionManager)) {
        throw bad(
          `manager must be an EncryptionManager (got ${describeType(manager)})`,
          'encryption.manager',
        );
      }
      if (manager.disposed) throw bad('the manager was disposed; create a new one', 'encryption.manager');
      return manager;
    }
    case 'key':
      return EncryptionManager.fromKey(c['key'] as Uint8Array);
    case 'passphrase': {
      const salt = c['salt'];
      if (typeof salt === 'string' && !isBase64(salt)) {
        throw bad('salt must be bytes or a base64 string', 'encryption.salt');
      }
      return EncryptionManager.fromPassphrase(
        c['passphrase'] as string,
        typeof salt === 'string' ? Buffer.from(salt, 'base64') : (salt as Uint8Array),
      );
    }
    default:
      return EncryptionManager.fromKey(await readKeyFile(c['keyFile'] as string, options));
  }
}

const BASE64_TEXT = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const isBase64 = (text: string) => BASE64_TEXT.test(text);
const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$/;

/**
 * Reads a key file: 32 raw bytes, 64 hex characters or 44 base64 characters (whitespace ignored). It must be
 * a regular file of at most `FILE_SIZE_LIMITS.keyFile` bytes (a FIFO or a device is refused at once, never
 * waited on), and not readable by group or others, as ssh demands of private keys.
 *
 * @example
 * ```ts
 * import { readKeyFile } from 'nebula-credential';
 * const key = await readKeyFile('/run/secrets/nebula-key');
 * ```
 */
export async function readKeyFile(
  path: string,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<Buffer> {
  const invalid = (message: string) => invalidArgument(message, 'configure', { path: 'encryption.keyFile' });
  if (typeof path !== 'string' || path.trim() === '') {
    throw invalid(
      `the key file path must be a non-empty string (got ${typeof path === 'string' ? 'an empty string' : describeType(path)})`,
    );
  }
  if (HEX_KEY.test(path.trim()) || BASE64_KEY.test(path.trim())) {
    // Never echo it: this is a key where a path belongs.
    throw invalid(
      'encryption.keyFile holds what looks like a key, not a path: pass the bytes as encryption.key',
    );
  }
  const raw = await readBoundedFile(path, {
    maxBytes: FILE_SIZE_LIMITS.keyFile,
    what: 'the key file',
    option: 'encryption.keyFile',
    signal: options.signal,
    missingHint: 'create one with "nebula-credential init"',
    checkFile: (info) =>
      process.platform !== 'win32' && (info.mode & 0o077) !== 0
        ? `is readable by other users (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`
        : undefined,
  });
  try {
    if (raw.length === 32) return Buffer.from(raw);
    const text = raw.toString('utf8').trim();
    if (HEX_KEY.test(text)) return Buffer.from(text, 'hex');
    if (BASE64_KEY.test(text)) return Buffer.from(text, 'base64');
  } finally {
    raw.fill(0);
  }
  throw new StorageError({
    code: 'InvalidConfig',
    message: `the key file ${JSON.stringify(path)} does not hold a 32-byte key (raw, 64 hex or 44 base64 characters)`,
    operation: 'configure',
    details: { path },
  });
}

/**
 * The facade applications use: encrypts before storing, decrypts after retrieving, on any backend.
 * The credential id is bound into the encryption, so a ciphertext copied under another id fails to decrypt.
 * Every argument is checked before any I/O: a wrong one is a `StorageError` (`InvalidId`, `InvalidMetadata`
 * or `InvalidConfig`) that names it and never echoes it.
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
  /** The backend the store reads and writes; its methods see only ciphertext. */
  readonly provider: StorageProvider;
  /** Where this store's read-path figures go (`metrics.readPathSnapshot()`). */
  readonly metrics: StorageMetrics;
  readonly #encryption: EncryptionManager;
  readonly #ownsEncryption: boolean;
  readonly #readPath: ReadPath;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #watches = new Set<CredentialWatch>();

  /**
   * A store over `provider` encrypting with `encryption`. The manager stays the caller's (not disposed on
   * close) unless `disposeEncryptionOnClose` is set.
   */
  constructor(
    provider: StorageProvider,
    encryption: EncryptionManager,
    options: CredentialStoreConstructorOptions = {},
  ) {
    if (!isStorageProvider(provider)) {
      throw invalidArgument(
        `CredentialStore needs a StorageProvider (an object with connect, store, retrieve, delete, list, exists and close; got ${describeType(provider)})`,
        'configure',
        { path: 'provider' },
      );
    }
    if (!(encryption instanceof EncryptionManager)) {
      throw invalidArgument(
        `CredentialStore needs an EncryptionManager (got ${describeType(encryption)})`,
        'configure',
        { path: 'encryption' },
      );
    }
    const given = checkOptionsObject(options, 'the options of CredentialStore', [
      'disposeEncryptionOnClose',
      ...READ_PATH_KEYS,
    ]);
    const owns = given['disposeEncryptionOnClose'];
    if (owns !== undefined && typeof owns !== 'boolean') {
      throw invalidArgument(
        `disposeEncryptionOnClose must be true or false (got ${describeType(owns)})`,
        'configure',
        { path: 'disposeEncryptionOnClose' },
      );
    }
    const readPath = resolveStoreReadPathOptions(given);
    this.provider = provider;
    this.#encryption = encryption;
    this.#ownsEncryption = owns === true;
    const runtime = provider.runtime;
    this.#clock = readPath.clock ?? runtime?.clock ?? systemClock;
    this.metrics = readPath.metrics ?? runtime?.metrics ?? new StorageMetrics();
    this.#logger = readPath.logger ?? runtime?.logger ?? silentLogger;
    this.#readPath = new ReadPath(provider, {
      cache: readPath.cache,
      circuitBreaker: readPath.circuitBreaker,
      clock: this.#clock,
      metrics: this.metrics,
      logger: this.#logger,
    });
  }

  /**
   * Encrypts and stores `secret` under `id`. On overwrite the credential keeps its creation time, and keeps
   * its tags / rotation policy unless `options` gives new ones (which then replace them). No read before
   * the write: the provider applies the rule in its own write (one round trip where the backend allows).
   */
  async put(
    idLike: CredentialIdLike,
    secret: string | Uint8Array | SecretString,
    options: PutOptions = {},
  ): Promise<CredentialMetadata> {
    return this.#write(idLike, secret, options, false);
  }

  /**
   * Encrypts and stores `secret` under `id` only when no credential exists there: an existing one is
   * `Conflict` and stays as it was. It costs no read first where the backend has a create call (one request
   * on local, AWS and Kubernetes; two on GCP and Vault, as their raw APIs need); Azure Key Vault has none, so
   * there it reads first (`provider.capabilities.createOnly` says which). A provider that cannot honour it
   * is `Unsupported`, before any I/O.
   *
   * @example
   * ```ts
   * import { isStorageError } from 'nebula-credential';
   * try {
   *   await store.create('deploy_key', 'k1', { tags: { team: 'platform' } });
   * } catch (error) {
   *   if (isStorageError(error, 'Conflict')) console.log('deploy_key exists already; left as it was');
   *   else throw error;
   * }
   * ```
   */
  async create(
    idLike: CredentialIdLike,
    secret: string | Uint8Array | SecretString,
    options: PutOptions = {},
  ): Promise<CredentialMetadata> {
    return this.#write(idLike, secret, options, true);
  }

  async #write(
    idLike: CredentialIdLike,
    secret: string | Uint8Array | SecretString,
    options: PutOptions,
    createOnly: boolean,
  ): Promise<CredentialMetadata> {
    const id = CredentialId.from(idLike);
    const method = createOnly ? 'create' : 'put';
    const given = checkOptionsObject(options, `the options of ${method}`, [
      'tags',
      'rotationPolicy',
      'context',
    ]);
    if (createOnly && !this.provider.capabilities?.createOnly) {
      throw new StorageError({
        code: 'Unsupported',
        message: `the ${this.provider.name} provider cannot write only a new credential; use put`,
        provider: this.provider.name,
        operation: 'store',
        credentialId: id.value,
      });
    }
    if (typeof secret !== 'string' && !(secret instanceof Uint8Array) && !(secret instanceof SecretString)) {
      throw invalidArgument(
        `the value to store must be a string, a Uint8Array or a SecretString (got ${describeType(secret)})`,
        'store',
        { path: 'secret' },
      );
    }
    const metadata = createMetadata({
      ...(given['tags'] === undefined ? {} : { tags: given['tags'] as Record<string, string> }),
      ...(given['rotationPolicy'] === undefined
        ? {}
        : { rotationPolicy: given['rotationPolicy'] as RotationPolicy }),
    });
    const context = given['context'] as CredentialContext | undefined;
    validateContext(context);
    this.#assertUsable('encrypt');
    const plaintext =
      secret instanceof SecretString
        ? secret.exposeBytes()
        : typeof secret === 'string'
          ? Buffer.from(secret)
          : Buffer.from(secret);
    try {
      const data = this.#encryption.encrypt(plaintext, aad(id));
      this.#readPath.beginWrite(id);
      let written: CredentialMetadata | undefined;
      try {
        written = await this.#readPath.guard(
          async () =>
            (await this.provider.store(
              id,
              data,
              metadata,
              context,
              createOnly
                ? { createOnly: true }
                : {
                    keepTags: given['tags'] === undefined,
                    keepRotationPolicy: given['rotationPolicy'] === undefined,
                  },
            )) ?? undefined,
          'store',
        );
      } catch (error) {
        this.#readPath.writeFailed(id);
        throw error;
      }
      const result = written ?? metadata;
      this.#readPath.written(id, { data, metadata: copyMetadata(result) });
      return result;
    } finally {
      plaintext.fill(0);
    }
  }

  /** Retrieves and decrypts. Missing: `NotFound`; wrong key or tampered data: `DecryptionFailed`. */
  async get(idLike: CredentialIdLike, context?: CredentialContext): Promise<RetrievedSecret> {
    const id = CredentialId.from(idLike);
    validateContext(context);
    this.#assertUsable('decrypt');
    const { stored, stale } = await this.#readPath.read(id, context);
    return this.#open(id, stored, stale);
  }

  /** Metadata (and version) without decrypting; served from the cache like `get`. */
  async describe(
    idLike: CredentialIdLike,
    context?: CredentialContext,
  ): Promise<{ metadata: CredentialMetadata; version?: string | undefined; stale?: boolean | undefined }> {
    const id = CredentialId.from(idLike);
    validateContext(context);
    const { stored, stale } = await this.#readPath.read(id, context);
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
      throw invalidArgument(
        `getMany takes an array of credential ids (got ${describeType(ids)})`,
        'retrieve',
        {
          path: 'ids',
        },
      );
    }
    const given = checkOptionsObject(options, 'the options of getMany', ['concurrency', 'context']);
    const concurrency = given['concurrency'];
    if (
      concurrency !== undefined &&
      (typeof concurrency !== 'number' ||
        !Number.isInteger(concurrency) ||
        concurrency < 1 ||
        concurrency > 256)
    ) {
      throw invalidArgument('concurrency must be a whole number from 1 to 256', 'retrieve', {
        path: 'concurrency',
      });
    }
    const context = given['context'] as CredentialContext | undefined;
    validateContext(context);
    this.#assertUsable('decrypt');
    const parsed = ids.map((idLike) => {
      try {
        return CredentialId.from(idLike);
      } catch (error) {
        return (error as StorageError).withContext({ provider: this.provider.name, operation: 'retrieve' });
      }
    });
    const valid = parsed.filter((p): p is CredentialId => p instanceof CredentialId);
    const results = await this.#readPath.readMany(valid, {
      concurrency: concurrency as number | undefined,
      context,
    });
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
    if (resolved.kind === 'filter') validateFilter(resolved.filter, this.provider.name);
    validateContext(options.context);
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

  /**
   * Forgets the cached entry of one id: the next read asks the backend.
   *
   * @example
   * ```ts
   * store.invalidate('db_password'); // after rotating it by hand
   * ```
   */
  invalidate(idLike: CredentialIdLike): void {
    this.#readPath.invalidate(CredentialId.from(idLike).value);
  }

  /**
   * Forgets every cached entry.
   *
   * @example
   * ```ts
   * store.clear();
   * ```
   */
  clear(): void {
    this.#readPath.clear();
  }

  /**
   * The ids matching `filter` (all tags must match; creation dates inclusive), sorted; no key needed. A
   * malformed filter is `InvalidMetadata`.
   *
   * @example
   * ```ts
   * const prod = await store.list({ tags: { env: 'prod' } });
   * ```
   */
  async list(filter?: CredentialFilter, context?: CredentialContext): Promise<string[]> {
    validateFilter(filter, this.provider.name);
    validateContext(context);
    return this.#readPath.guard(() => this.provider.list(filter, context), 'list');
  }

  /**
   * Deletes the credential; deleting a missing id succeeds (use {@link CredentialStore.exists} first to
   * tell). Soft-delete backends keep it recoverable for their retention period.
   *
   * @example
   * ```ts
   * await store.delete('github_token');
   * ```
   */
  async delete(idLike: CredentialIdLike, context?: CredentialContext): Promise<void> {
    const id = CredentialId.from(idLike);
    validateContext(context);
    this.#readPath.beginWrite(id);
    try {
      await this.#readPath.guard(() => this.provider.delete(id, context), 'delete');
    } catch (error) {
      this.#readPath.writeFailed(id);
      throw error;
    }
    this.#readPath.deleted(id);
  }

  /**
   * Whether a credential exists under the id, without reading or decrypting it.
   *
   * @example
   * ```ts
   * if (!(await store.exists('github_token'))) await store.put('github_token', token);
   * ```
   */
  async exists(idLike: CredentialIdLike, context?: CredentialContext): Promise<boolean> {
    const id = CredentialId.from(idLike);
    validateContext(context);
    return this.#readPath.guard(() => this.provider.exists(id, context), 'exists');
  }

  /** Stops every watch, closes the provider, and wipes the key from memory if this store owns the manager. */
  async close(): Promise<void> {
    try {
      await Promise.all([...this.#watches].map((w) => w.close()));
      this.#watches.clear();
      await this.provider.close();
    } finally {
      this.#readPath.clear();
      if (this.#ownsEncryption) this.#encryption.dispose();
    }
  }

  /** A log-safe description: the provider and the cache's size, never a value. */
  toJSON(): Record<string, unknown> {
    return { provider: this.provider.name, cache: this.#readPath.cache?.toJSON() ?? null };
  }

  /** What `util.inspect` shows: {@link CredentialStore.toJSON}, never a value. */
  [inspect.custom](): string {
    return `CredentialStore ${JSON.stringify(this.toJSON())}`;
  }

  /**
   * The same as {@link CredentialStore.close}: `await using store = await openCredentialStore(...)` closes
   * the provider and wipes the key when the block ends, however it ends.
   *
   * @example
   * ```ts
   * import { openCredentialStore } from 'nebula-credential';
   * import { randomBytes } from 'node:crypto';
   * {
   *   await using store = await openCredentialStore({ storage: { provider: 'memory' }, encryption: { key: randomBytes(32) } });
   *   await store.put('api_key', 'value');
   * } // closed here
   * ```
   */
  async [asyncDisposeSymbol](): Promise<void> {
    await this.close();
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

  /** Fails before any I/O when the key is gone (a shared manager its owner disposed). */
  #assertUsable(operation: 'encrypt' | 'decrypt'): void {
    if (this.#encryption.disposed) throw disposedManagerError(operation);
  }
}

const PROVIDER_METHODS = ['connect', 'store', 'retrieve', 'delete', 'list', 'exists', 'close'] as const;

/** Whether `value` has every method of {@link StorageProvider} (a provider from any copy of the package). */
export function isStorageProvider(value: unknown): value is StorageProvider {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Record<string, unknown>;
  return PROVIDER_METHODS.every((m) => typeof p[m] === 'function');
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

const READ_PATH_OPTIONS = new OptionsSchema('credential store', {
  cache: option.object(CACHE_OPTION_FIELDS, {
    optional: true,
    doc: 'cache encrypted documents (each get still decrypts); off unless given',
  }),
  circuitBreaker: option.object(CIRCUIT_BREAKER_OPTION_FIELDS, {
    optional: true,
    doc: 'fail fast while the backend is down; off unless given',
  }),
  clock: option.instance(CLOCK_CHECK, {
    doc: "time of the cache, the breaker and watches (default: the provider's)",
  }),
  metrics: option.instance(METRICS_CHECK, { doc: "where read-path figures go (default: the provider's)" }),
  logger: option.instance(LOGGER_CHECK, {
    doc: "where stale reads and breaker changes are logged (default: the provider's)",
  }),
});

/**
 * Validates the read-path options of a store (every problem at once, as `InvalidConfig` naming each path,
 * such as `cache.ttlMs`), so `openCredentialStore` can refuse them before it reads a key or connects.
 *
 * @example
 * ```ts
 * import { resolveStoreReadPathOptions } from 'nebula-credential';
 * const { cache } = resolveStoreReadPathOptions({ cache: { ttlMs: 1000 } });
 * console.log(cache?.ttlMs); // 1000
 * ```
 */
export function resolveStoreReadPathOptions(given: Record<string, unknown>): {
  cache: ResolvedCacheOptions | undefined;
  circuitBreaker: ResolvedCircuitBreakerOptions | undefined;
  clock: Clock | undefined;
  metrics: StorageMetrics | undefined;
  logger: Logger | undefined;
  /** The read-path options as given, to hand on to the constructor. */
  given: CredentialStoreReadPathOptions;
} {
  const picked: Record<string, unknown> = {};
  for (const key of READ_PATH_KEYS) if (given[key] !== undefined) picked[key] = given[key];
  const { values } = READ_PATH_OPTIONS.resolve(picked);
  return {
    cache: values.cache,
    circuitBreaker: values.circuitBreaker,
    clock: values.clock,
    metrics: values.metrics,
    logger: values.logger,
    given: picked as CredentialStoreReadPathOptions,
  };
}
