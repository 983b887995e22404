import { mapWithConcurrency, retrieveEach } from './bulk.js';
import { assertEncryptedData, type EncryptedData } from './crypto.js';
import { asyncDisposeSymbol } from './dispose.js';
import { callScopedData } from './document.js';
import { StorageError, type StorageOperation, toStorageError } from './errors.js';
import { CredentialId, type CredentialIdLike } from './id.js';
import { KnownRecords } from './known-records.js';
import { assertCredentialSize } from './limits.js';
import {
  type CredentialContext,
  type CredentialFilter,
  type CredentialMetadata,
  validateContext,
  validateFilter,
  validateMetadata,
} from './metadata.js';
import { type AttemptContext, type ErrorMapper, OperationRunner, type RunOptions } from './operation.js';
import { commonSettings, type ResolvedCommonOptions } from './options.js';
import { loadPeerPackages, type PeerPackage } from './peer.js';
import type {
  ChangeFeed,
  ChangeSink,
  ChangeTarget,
  ConnectOptions,
  ProviderCapabilities,
  ProviderHealthDetails,
  ProviderHealthFacts,
  ProviderRuntime,
  RetrieveManyOptions,
  StorageProvider,
  StoredCredential,
  StoreOptions,
  VersionProbe,
} from './provider.js';
import type { SecretString } from './secret-string.js';
import { storedFingerprint } from './watch.js';

/**
 * What a provider hands {@link BaseStorageProvider}'s constructor.
 *
 * @example
 * ```ts
 * const { values, secrets } = KV_OPTIONS.resolve(options);
 * super({ name: 'kv', common: values, secrets, mapError: mapKvError, peers: [KV_SDK] });
 * ```
 */
export interface ProviderInit {
  /** The provider's name, as errors, logs and metrics show it. */
  name: string;
  /** The resolved common settings (a provider's whole resolved settings may be passed; only these are kept). */
  common: ResolvedCommonOptions;
  /** The provider's own copies of secrets given in options; disposed on `close()`, and only they. */
  secrets?: readonly SecretString[] | undefined;
  /** Turns what the backend threw into a `StorageError`. Default: `toStorageError` (`Internal` for the unknown). */
  mapError?: ErrorMapper | undefined;
  /** Optional SDKs, loaded by `connect()` before its deadline starts; read them with `peer(name)`. */
  peers?: readonly PeerPackage[] | undefined;
}

/**
 * The {@link StoreOptions} a `storeBackend` attempt gets, with the preparation of other metadata than the
 * caller's (the overwrite rule's): `prepare(metadata)` is `prepareStore` over the same data, or the
 * prepared value itself when `metadata` is the caller's.
 *
 * @example
 * ```ts
 * const written = metadataForOverwrite(previous, metadata, options);
 * await this.write(id, options.prepare(written));
 * ```
 */
export interface StoreAttemptOptions<Prepared> extends StoreOptions {
  /** What `storeBackend` writes for `metadata` (checked again by `prepareStore` when it is not the caller's). */
  prepare(metadata: CredentialMetadata): Prepared;
}

/**
 * Options of {@link BaseStorageProvider.runProviderOperation}.
 *
 * @example
 * ```ts
 * const options: ProviderOperationOptions = { kind: 'write', context: { traceId: 'req-42' } };
 * ```
 */
export interface ProviderOperationOptions {
  context?: CredentialContext | undefined;
  /** Which deadline applies. Default: `read`, or `write` for `store`/`delete`. */
  kind?: RunOptions['kind'];
}

/**
 * The shared half of every provider: id validation, metadata and size checks before any I/O, lazy connect,
 * the closed state, and running each backend call through the {@link OperationRunner} (deadline, retries,
 * metrics, logs). A provider implements only the `*Backend` methods, which talk to its backend.
 *
 * Two hooks keep every provider on one path: the optional SDKs named in `peers` are loaded before the
 * connect deadline starts (all missing ones named in one `MissingDependency`), and {@link prepareStore}
 * checks and encodes a store's payload before any I/O, handing the result (`Prepared`) to `storeBackend`,
 * so nothing is encoded twice and no provider keeps a cache between the two. Secrets given in options are
 * copied by the options schema; the provider owns the copies and `close()` disposes them, never the
 * caller's objects.
 *
 * @example
 * ```ts
 * import { BaseStorageProvider } from 'nebula-credential';
 * class MyProvider extends BaseStorageProvider {
 *   // name, capabilities, connectBackend, storeBackend, retrieveBackend, deleteBackend, listBackend, existsBackend
 * }
 * ```
 */
export abstract class BaseStorageProvider<Prepared = EncryptedData>
  implements StorageProvider, AsyncDisposable
{
  /** The provider's name as in errors, logs and metrics; each provider sets it. */
  abstract readonly name: string;
  /** What this backend can do and refuses; each provider declares it. */
  abstract readonly capabilities: ProviderCapabilities;
  protected readonly common: ResolvedCommonOptions;
  protected readonly runner: OperationRunner;
  /**
   * What this provider last read or wrote per credential (metadata only, for a short while): what
   * {@link previousMetadata} answers from without a request. The base keeps it current; a provider whose
   * write learns more (a backend write response) may `remember` it too.
   */
  protected readonly known: KnownRecords;
  readonly #secrets: readonly SecretString[];
  readonly #peers: readonly PeerPackage[];
  #peerModules: Map<string, unknown> | undefined;
  #connecting: Promise<void> | undefined;
  #connected = false;
  #closed = false;

  protected constructor(init: ProviderInit) {
    this.common = commonSettings(init.common);
    const mapError: ErrorMapper =
      init.mapError ??
      ((error, operation, credentialId) =>
        toStorageError(error, { provider: init.name, operation, credentialId }));
    this.runner = new OperationRunner(init.name, this.common, mapError);
    this.known = new KnownRecords(this.common.clock);
    this.#secrets = [...(init.secrets ?? [])];
    this.#peers = init.peers ?? [];
  }

  /** Connects to the backend (disk, network, credentials). Idempotent; operations connect lazily too. */
  connect(options: ConnectOptions = {}): Promise<void> {
    this.#assertOpen('connect');
    if (this.#connected) return Promise.resolve();
    // The SDKs load first, outside the deadline: a cold module load can take seconds on a busy machine,
    // and the deadline is for reaching the backend.
    this.#connecting ??= this.#loadPeers()
      .then(() =>
        this.runner.run('connect', (attempt) => this.connectBackend(attempt), {
          signal: options.signal,
          kind: 'connect',
        }),
      )
      .then(
        () => {
          this.#connected = true;
        },
        (error: unknown) => {
          this.#connecting = undefined;
          throw error;
        },
      );
    return this.#connecting;
  }

  /**
   * Checks the id, the metadata and the size (before any I/O), connects if needed, then stores through the
   * runner (deadline, retries, metrics). See {@link StorageProvider.store}.
   */
  async store(
    idLike: CredentialIdLike,
    data: EncryptedData,
    metadata: CredentialMetadata,
    context?: CredentialContext,
    options: StoreOptions = {},
  ): Promise<CredentialMetadata> {
    const id = this.#parse(idLike, 'store', context);
    if (options.createOnly && !this.capabilities.createOnly) {
      throw new StorageError({
        code: 'Unsupported',
        message: `the ${this.name} provider cannot write only a new credential (createOnly); use a plain store`,
        provider: this.name,
        operation: 'store',
        credentialId: id.value,
      });
    }
    const prepared = this.#precheck('store', id, () => {
      assertEncryptedData(data, 'store');
      data = callScopedData(data);
      validateMetadata(metadata, this.name);
      assertCredentialSize(data, this.capabilities.maxCredentialSize, {
        provider: this.name,
        credentialId: id.value,
      });
      return this.prepareStore(id, data, metadata);
    });
    await this.#ready();
    const attemptOptions: StoreAttemptOptions<Prepared> = {
      ...options,
      prepare: (written) => (written === metadata ? prepared : this.prepareStore(id, data, written)),
    };
    const write = () =>
      this.runner.run('store', (a) => this.storeBackend(id, prepared, metadata, a, attemptOptions), {
        credentialId: id.value,
        context,
      });
    const knownBefore = options.exactMetadata || options.createOnly ? undefined : this.known.get(id.value);
    let written: CredentialMetadata | undefined;
    try {
      written = (await write()) ?? undefined;
    } catch (error) {
      this.known.forget(id.value);
      if (options.createOnly && error instanceof StorageError && error.code === 'Conflict') {
        written = await this.#ownCreate(id, data, context);
        if (!written) throw error;
      } else {
        // What was remembered proved wrong (another process deleted the credential): write again as new.
        if (!(knownBefore?.present && error instanceof StorageError && error.code === 'NotFound'))
          throw error;
        written = (await write()) ?? undefined;
      }
    }
    const result = written ?? metadata;
    this.known.remember(id.value, result);
    return result;
  }

  /**
   * Checks the id, then retrieves through the runner; a missing id is `NotFound`. See {@link
   * StorageProvider.retrieve}.
   */
  async retrieve(idLike: CredentialIdLike, context?: CredentialContext): Promise<StoredCredential> {
    const id = this.#parse(idLike, 'retrieve', context);
    this.#precheck('retrieve', id, () => this.validateId(id));
    await this.#ready();
    try {
      const stored = await this.runner.run('retrieve', (a) => this.retrieveBackend(id, a), {
        credentialId: id.value,
        context,
      });
      this.known.remember(id.value, stored.metadata);
      return stored;
    } catch (error) {
      if (error instanceof StorageError && error.code === 'NotFound') this.known.rememberAbsent(id.value);
      else this.known.forget(id.value);
      throw error;
    }
  }

  /**
   * Checks the id, then deletes through the runner; a backend's `NotFound` counts as success. See {@link
   * StorageProvider.delete}.
   */
  async delete(idLike: CredentialIdLike, context?: CredentialContext): Promise<void> {
    const id = this.#parse(idLike, 'delete', context);
    this.#precheck('delete', id, () => this.validateId(id));
    await this.#ready();
    await this.runner.run(
      'delete',
      async (a) => {
        try {
          await this.deleteBackend(id, a);
        } catch (error) {
          // Deleting what is already gone is success: delete is idempotent.
          if (!(error instanceof StorageError && error.code === 'NotFound')) throw error;
        }
      },
      { credentialId: id.value, context },
    );
    this.known.rememberAbsent(id.value);
  }

  /**
   * Lists through the runner and returns the ids sorted, without duplicates. See {@link
   * StorageProvider.list}.
   */
  async list(filter?: CredentialFilter, context?: CredentialContext): Promise<string[]> {
    this.#assertOpen('list');
    this.#checkArguments('list', () => {
      validateFilter(filter, this.name);
      validateContext(context, this.name);
    });
    await this.#ready();
    const ids = await this.runner.run('list', (a) => this.listBackend(filter, a), { context });
    return [...new Set(ids)].sort();
  }

  /** Checks the id, then asks the backend through the runner. See {@link StorageProvider.exists}. */
  async exists(idLike: CredentialIdLike, context?: CredentialContext): Promise<boolean> {
    const id = this.#parse(idLike, 'exists', context);
    this.#precheck('exists', id, () => this.validateId(id));
    await this.#ready();
    const found = await this.runner.run('exists', (a) => this.existsBackend(id, a), {
      credentialId: id.value,
      context,
    });
    if (!found) this.known.rememberAbsent(id.value);
    else if (this.known.get(id.value)?.present === false) this.known.forget(id.value);
    return found;
  }

  /**
   * Runs a provider-only operation (recover, purge, version history, ...) exactly like a contract one: the
   * closed check, id parsing and {@link validateId} before any I/O, lazy connect, then the runner (deadline,
   * retries, metrics, logs, error mapping). Pass `undefined` as the id for an operation on no credential.
   *
   * @example
   * ```ts
   * async purge(id: CredentialIdLike): Promise<void> {
   *   await this.runProviderOperation('purge', id, (cid, attempt) => this.#purge(cid, attempt), { kind: 'write' });
   * }
   * ```
   */
  protected runProviderOperation<T>(
    operation: StorageOperation,
    id: CredentialIdLike,
    call: (id: CredentialId, attempt: AttemptContext) => Promise<T>,
    options?: ProviderOperationOptions,
  ): Promise<T>;
  protected runProviderOperation<T>(
    operation: StorageOperation,
    id: undefined,
    call: (id: undefined, attempt: AttemptContext) => Promise<T>,
    options?: ProviderOperationOptions,
  ): Promise<T>;
  protected async runProviderOperation<T>(
    operation: StorageOperation,
    idLike: CredentialIdLike | undefined,
    call: (id: never, attempt: AttemptContext) => Promise<T>,
    options: ProviderOperationOptions = {},
  ): Promise<T> {
    let id: CredentialId | undefined;
    if (idLike === undefined) {
      this.#assertOpen(operation);
      this.#checkArguments(operation, () => validateContext(options.context, this.name));
    } else {
      const parsed = this.#parse(idLike, operation, options.context);
      this.#precheck(operation, parsed, () => this.validateId(parsed));
      id = parsed;
    }
    await this.#ready();
    return this.runner.run(operation, (a) => call(id as never, a), {
      credentialId: id?.value,
      context: options.context,
      kind: options.kind,
    });
  }

  /** Releases connections and handles. Operations afterwards fail. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#connecting?.catch(() => {});
    try {
      await this.closeBackend();
    } finally {
      for (const secret of this.#secrets) secret.dispose();
    }
  }

  /**
   * The same as {@link BaseStorageProvider.close}, so `await using provider = ...` closes it when the block
   * ends.
   *
   * @example
   * ```ts
   * import { MemoryStorageProvider } from 'nebula-credential/memory';
   * {
   *   await using provider = new MemoryStorageProvider();
   *   console.log(await provider.list()); // []
   * } // closed here
   * ```
   */
  async [asyncDisposeSymbol](): Promise<void> {
    await this.close();
  }

  /** Provider-specific checks on an id before any I/O (e.g. the mapped name's length). */
  protected validateId(_id: CredentialId): void {}

  /**
   * Checks a store before any I/O (tag limits, the encoded payload's size) and returns what
   * `storeBackend` writes: the encoded document, a request body. Runs once per `store`, whatever the
   * retries. Default: {@link validateId}, and the data as it is.
   */
  protected prepareStore(id: CredentialId, data: EncryptedData, _metadata: CredentialMetadata): Prepared {
    this.validateId(id);
    return data as Prepared;
  }

  /** The optional SDK `name` (one of `peers`), loaded by `connect()`. */
  protected peer<T>(name: string): T {
    if (!this.#peerModules?.has(name)) {
      throw new StorageError({
        code: 'Internal',
        message: `the ${this.name} provider used ${name} before connect() loaded it`,
        provider: this.name,
      });
    }
    return this.#peerModules.get(name) as T;
  }

  /** The peers this configuration needs. Default: every one declared (a ready credential may need fewer). */
  protected requiredPeers(): readonly PeerPackage[] {
    return this.#peers;
  }

  protected abstract connectBackend(attempt: AttemptContext): Promise<void>;
  /**
   * Writes `prepared` (from {@link prepareStore}; retried attempts get the same value) following the
   * overwrite rule of {@link StoreOptions}: on overwrite, `createdAt` (and, when kept, tags and rotation
   * policy) come from the backend's own record, learnt in the write's own round trip where the backend
   * allows it, else through {@link previousMetadata}. A backend writing other metadata than the caller's
   * writes `options.prepare(written)`.
   */
  protected abstract storeBackend(
    id: CredentialId,
    prepared: Prepared,
    metadata: CredentialMetadata,
    attempt: AttemptContext,
    options: StoreAttemptOptions<Prepared>,
    // biome-ignore lint/suspicious/noConfusingVoidType: a backend that writes `metadata` as given returns nothing
  ): Promise<CredentialMetadata | void>;
  protected abstract retrieveBackend(id: CredentialId, attempt: AttemptContext): Promise<StoredCredential>;
  /** Removes the credential; throwing `NotFound` is fine (the base treats it as success). */
  protected abstract deleteBackend(id: CredentialId, attempt: AttemptContext): Promise<void>;
  /** Returns the ids matching `filter` (the base sorts and de-duplicates). */
  protected abstract listBackend(
    filter: CredentialFilter | undefined,
    attempt: AttemptContext,
  ): Promise<string[]>;
  protected abstract existsBackend(id: CredentialId, attempt: AttemptContext): Promise<boolean>;
  protected async closeBackend(): Promise<void> {}

  /**
   * The metadata a store must write for `id` under the overwrite rule: what this provider read or wrote of it
   * in the last {@link KNOWN_RECORD_TTL_MS} (`known`), else read from the backend: for a backend whose
   * write cannot keep `createdAt` by itself, that read is the store's extra round trip. An unreadable
   * old credential (truncated, damaged) counts as absent: the write replaces it. So does one this principal
   * may not read (a write-only role still stores, as before the rule; the old metadata is then not kept).
   */
  protected async previousMetadata(
    id: CredentialId,
    attempt: AttemptContext,
    options: StoreOptions,
  ): Promise<CredentialMetadata | undefined> {
    // Exact metadata needs nothing from the old credential, and a create-only write has none: no read.
    if (options.exactMetadata || options.createOnly) return undefined;
    const known = this.known.get(id.value);
    if (known) return known.present ? known.metadata : undefined;
    try {
      return (await this.retrieveBackend(id, attempt)).metadata;
    } catch (error) {
      if (!(error instanceof StorageError)) throw error;
      if (error.code === 'NotFound') {
        // Remembered, so a backend with no upsert creates at once instead of failing a write first.
        this.known.rememberAbsent(id.value);
        return undefined;
      }
      if (error.code === 'Corrupted') return undefined;
      if (error.code === 'PermissionDenied') {
        this.common.logger.debug(
          { provider: this.name, operation: 'store', credentialId: id.value },
          'may not read the current credential: writing without the overwrite rule',
        );
        return undefined;
      }
      throw error;
    }
  }

  /**
   * The metadata of `data` when the credential refusing a create holds exactly it: the create's own write,
   * whose answer was lost and whose retry then found it (the nonce is unique to one encryption).
   */
  async #ownCreate(
    id: CredentialId,
    data: EncryptedData,
    context: CredentialContext | undefined,
  ): Promise<CredentialMetadata | undefined> {
    try {
      const stored = await this.runner.run('retrieve', (a) => this.retrieveBackend(id, a), {
        credentialId: id.value,
        context,
      });
      const same =
        stored.data.keyId === data.keyId &&
        Buffer.from(stored.data.nonce).equals(Buffer.from(data.nonce)) &&
        Buffer.from(stored.data.tag).equals(Buffer.from(data.tag)) &&
        Buffer.from(stored.data.ciphertext).equals(Buffer.from(data.ciphertext));
      return same ? stored.metadata : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Whether a `retrieve` would find a credential under `id` (a damaged one counts: it is there), for a
   * create-only store on a backend whose create call cannot tell by itself.
   */
  protected async holdsCredential(id: CredentialId, attempt: AttemptContext): Promise<boolean> {
    try {
      await this.retrieveBackend(id, attempt);
      return true;
    } catch (error) {
      if (!(error instanceof StorageError)) throw error;
      if (error.code === 'NotFound') return false;
      if (error.code === 'Corrupted') return true;
      throw error;
    }
  }

  /**
   * The `Conflict` of a create-only store over an existing credential, worded the same by every provider.
   * `details` names the backend object (`secretName`, `namespace`) where it has one.
   */
  protected alreadyExists(id: CredentialId, details?: Record<string, unknown>): StorageError {
    return new StorageError({
      code: 'Conflict',
      message: `credential "${id.value}" already exists in ${this.name}; create writes only a new credential (put replaces one)`,
      provider: this.name,
      operation: 'store',
      credentialId: id.value,
      ...(details ? { details } : {}),
    });
  }

  /** A `NotFound` error for `id`, worded the same by every provider. */
  protected notFound(id: CredentialId, operation: StorageOperation = 'retrieve'): StorageError {
    return new StorageError({
      code: 'NotFound',
      message: `credential "${id.value}" does not exist in ${this.name}`,
      provider: this.name,
      operation,
      credentialId: id.value,
    });
  }

  // ---- read path (see docs/read-path.md): every member has a generic default ------------------------

  /** The provider's clock, metrics and logger, so a store's read path records beside it. */
  get runtime(): ProviderRuntime {
    return { clock: this.common.clock, metrics: this.common.metrics, logger: this.common.logger };
  }

  /** True after a successful `connect()` and before `close()`. */
  get connected(): boolean {
    return this.#connected && !this.#closed;
  }

  /**
   * The cheapest change signal of one credential (`undefined` when it does not exist). See {@link
   * ReadPathProvider.describeVersion}.
   */
  describeVersion(idLike: CredentialIdLike, context?: CredentialContext): Promise<VersionProbe | undefined> {
    return this.runProviderOperation(
      'describeVersion',
      idLike,
      (id, a) => this.describeVersionBackend(id, a),
      {
        context,
      },
    );
  }

  /** The version of every credential matching `filter`. See {@link ReadPathProvider.listVersions}. */
  async listVersions(
    filter?: CredentialFilter,
    context?: CredentialContext,
  ): Promise<Map<string, VersionProbe>> {
    this.#checkArguments('listVersions', () => validateFilter(filter, this.name));
    return this.runProviderOperation(
      'listVersions',
      undefined,
      (_, a) => this.listVersionsBackend(filter, a),
      {
        context,
      },
    );
  }

  /**
   * Reads many credentials: the provider's native batch when it has one, else one `retrieve` per id with
   * bounded concurrency. Invalid ids get their `InvalidId` without any request.
   */
  async retrieveMany(
    ids: readonly CredentialIdLike[],
    options: RetrieveManyOptions = {},
  ): Promise<Map<string, StoredCredential | StorageError>> {
    this.#assertOpen('retrieveMany');
    const results = new Map<string, StoredCredential | StorageError>();
    const valid = new Map<string, CredentialId>();
    for (const idLike of ids) {
      const key = typeof idLike === 'string' ? idLike : idLike.value;
      if (results.has(key) || valid.has(key)) continue;
      try {
        const id = this.#parse(idLike, 'retrieve', options.context);
        this.#precheck('retrieve', id, () => this.validateId(id));
        valid.set(key, id);
      } catch (error) {
        results.set(key, error as StorageError);
      }
    }
    if (valid.size === 0) return results;
    await this.#ready();
    const list = [...valid.values()];
    const batch = this.retrieveManyBackend
      ? await this.runner.run('retrieveMany', (a) => this.retrieveManyBackend!(list, a), {
          context: options.context,
        })
      : await retrieveEach(this, list, options);
    for (const id of list) results.set(id.value, batch.get(id.value) ?? this.notFound(id));
    return results;
  }

  /** Starts the backend's native change feed, if it has one. See {@link ReadPathProvider.subscribeChanges}. */
  subscribeChanges(target: ChangeTarget, sink: ChangeSink): ChangeFeed | undefined {
    if (this.#closed || !this.subscribeChangesBackend) return undefined;
    return this.subscribeChangesBackend(target, sink);
  }

  /** Connection, credential source and auth state, without any request. */
  healthDetails(): ProviderHealthDetails {
    return { ...this.describeHealth(), connected: this.connected };
  }

  /** Default change signal: a read, whose version (or fingerprint) is the signal. */
  protected async describeVersionBackend(
    id: CredentialId,
    attempt: AttemptContext,
  ): Promise<VersionProbe | undefined> {
    try {
      const stored = await this.retrieveBackend(id, attempt);
      return { version: stored.version ?? storedFingerprint(stored), stored };
    } catch (error) {
      if (error instanceof StorageError && error.code === 'NotFound') return undefined;
      throw error;
    }
  }

  /** Default: list, then one change signal per id. */
  protected async listVersionsBackend(
    filter: CredentialFilter | undefined,
    attempt: AttemptContext,
  ): Promise<Map<string, VersionProbe>> {
    const ids = [...new Set(await this.listBackend(filter, attempt))];
    const out = new Map<string, VersionProbe>();
    await mapWithConcurrency(ids, 8, async (value) => {
      const probe = await this.describeVersionBackend(CredentialId.parse(value), attempt);
      if (probe) out.set(value, probe);
    });
    return out;
  }

  /**
   * One {@link retrieveBackend} per id, within a native batch's attempt, for what the batch could not carry
   * (a fallback when the batch call is denied, or ids it answered ambiguously); each failure is that id's.
   */
  protected async retrieveEachBackend(
    ids: readonly CredentialId[],
    attempt: AttemptContext,
    into: Map<string, StoredCredential | StorageError>,
  ): Promise<void> {
    await mapWithConcurrency(ids, 8, async (id) => {
      try {
        into.set(id.value, await this.retrieveBackend(id, attempt));
      } catch (error) {
        if (!(error instanceof StorageError)) throw error;
        into.set(id.value, error);
      }
    });
  }

  /** A native batch read; providers without one leave it undefined. */
  protected retrieveManyBackend?(
    ids: readonly CredentialId[],
    attempt: AttemptContext,
  ): Promise<Map<string, StoredCredential | StorageError>>;

  /** A native change feed; providers without one leave it undefined. */
  protected subscribeChangesBackend?(target: ChangeTarget, sink: ChangeSink): ChangeFeed | undefined;

  /** The provider's health facts; the default knows only its name. */
  protected describeHealth(): ProviderHealthFacts {
    return { credentialSource: this.name, auth: { kind: 'none' } };
  }

  #parse(idLike: CredentialIdLike, operation: StorageOperation, context: unknown): CredentialId {
    this.#assertOpen(operation);
    return this.#checkArguments(operation, () => {
      const id = CredentialId.from(idLike);
      validateContext(context, this.name);
      return id;
    });
  }

  /** Runs argument checks, adding this provider and the operation to what they throw. */
  #checkArguments<T>(operation: StorageOperation, check: () => T): T {
    try {
      return check();
    } catch (error) {
      throw error instanceof StorageError ? error.withContext({ provider: this.name, operation }) : error;
    }
  }

  #precheck<T>(operation: StorageOperation, id: CredentialId, check: () => T): T {
    try {
      return check();
    } catch (error) {
      if (error instanceof StorageError) {
        throw error.withContext({ provider: this.name, operation, credentialId: id.value });
      }
      throw error;
    }
  }

  async #loadPeers(): Promise<void> {
    const peers = this.requiredPeers();
    if (this.#peerModules || peers.length === 0) return;
    this.#peerModules = await loadPeerPackages(this.name, peers);
  }

  async #ready(): Promise<void> {
    if (!this.#connected) await this.connect();
  }

  #assertOpen(operation: StorageOperation): void {
    if (this.#closed) {
      throw new StorageError({
        code: 'Unsupported',
        message: `the ${this.name} provider was closed; create a new one`,
        provider: this.name,
        operation,
      });
    }
  }
}
