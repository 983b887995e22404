import { mapWithConcurrency, retrieveEach } from './bulk.js';
import type { EncryptedData } from './crypto.js';
import { StorageError, type StorageOperation } from './errors.js';
import { CredentialId, type CredentialIdLike } from './id.js';
import { assertCredentialSize } from './limits.js';
import {
  type CredentialContext,
  type CredentialFilter,
  type CredentialMetadata,
  validateMetadata,
} from './metadata.js';
import { type AttemptContext, type ErrorMapper, OperationRunner } from './operation.js';
import type { ResolvedCommonOptions } from './options.js';
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
  VersionProbe,
} from './provider.js';
import { storedFingerprint } from './watch.js';

/**
 * The shared half of every provider: id validation, metadata and size checks before any I/O, lazy connect,
 * the closed state, and running each backend call through the {@link OperationRunner} (deadline, retries,
 * metrics, logs). A provider implements only the `*Backend` methods, which talk to its backend.
 *
 * @example
 * ```ts
 * import { BaseStorageProvider } from 'nebula-credential';
 * class MyProvider extends BaseStorageProvider {
 *   // name, capabilities, connectBackend, storeBackend, retrieveBackend, deleteBackend, listBackend, existsBackend
 * }
 * ```
 */
export abstract class BaseStorageProvider implements StorageProvider {
  abstract readonly name: string;
  abstract readonly capabilities: ProviderCapabilities;
  protected readonly common: ResolvedCommonOptions;
  protected readonly runner: OperationRunner;
  #connecting: Promise<void> | undefined;
  #connected = false;
  #closed = false;

  protected constructor(name: string, common: ResolvedCommonOptions, mapError: ErrorMapper) {
    this.common = common;
    this.runner = new OperationRunner(name, common, mapError);
  }

  /** Connects to the backend (disk, network, credentials). Idempotent; operations connect lazily too. */
  connect(options: ConnectOptions = {}): Promise<void> {
    this.#assertOpen('connect');
    if (this.#connected) return Promise.resolve();
    this.#connecting ??= this.runner
      .run('connect', (attempt) => this.connectBackend(attempt), { signal: options.signal, kind: 'connect' })
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

  async store(
    idLike: CredentialIdLike,
    data: EncryptedData,
    metadata: CredentialMetadata,
    context?: CredentialContext,
  ): Promise<void> {
    const id = this.#parse(idLike, 'store');
    this.#precheck('store', id, () => {
      validateMetadata(metadata, this.name);
      assertCredentialSize(data, this.capabilities.maxCredentialSize, {
        provider: this.name,
        credentialId: id.value,
      });
      this.validateStore(id, data, metadata);
    });
    await this.#ready();
    await this.runner.run('store', (a) => this.storeBackend(id, data, metadata, a), {
      credentialId: id.value,
      context,
    });
  }

  async retrieve(idLike: CredentialIdLike, context?: CredentialContext): Promise<StoredCredential> {
    const id = this.#parse(idLike, 'retrieve');
    this.#precheck('retrieve', id, () => this.validateId(id));
    await this.#ready();
    return this.runner.run('retrieve', (a) => this.retrieveBackend(id, a), {
      credentialId: id.value,
      context,
    });
  }

  async delete(idLike: CredentialIdLike, context?: CredentialContext): Promise<void> {
    const id = this.#parse(idLike, 'delete');
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
  }

  async list(filter?: CredentialFilter, context?: CredentialContext): Promise<string[]> {
    this.#assertOpen('list');
    await this.#ready();
    const ids = await this.runner.run('list', (a) => this.listBackend(filter, a), { context });
    return [...new Set(ids)].sort();
  }

  async exists(idLike: CredentialIdLike, context?: CredentialContext): Promise<boolean> {
    const id = this.#parse(idLike, 'exists');
    this.#precheck('exists', id, () => this.validateId(id));
    await this.#ready();
    return this.runner.run('exists', (a) => this.existsBackend(id, a), { credentialId: id.value, context });
  }

  /** Releases connections and handles. Operations afterwards fail. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#connecting?.catch(() => {});
    await this.closeBackend();
  }

  /** Provider-specific checks on an id before any I/O (e.g. the mapped name's length). */
  protected validateId(_id: CredentialId): void {}

  /** Provider-specific checks before a store (tag limits, encoded payload size). Default: {@link validateId}. */
  protected validateStore(id: CredentialId, _data: EncryptedData, _metadata: CredentialMetadata): void {
    this.validateId(id);
  }

  protected abstract connectBackend(attempt: AttemptContext): Promise<void>;
  protected abstract storeBackend(
    id: CredentialId,
    data: EncryptedData,
    metadata: CredentialMetadata,
    attempt: AttemptContext,
  ): Promise<void>;
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

  /** The cheapest change signal of one credential (`undefined` when it does not exist). */
  async describeVersion(
    idLike: CredentialIdLike,
    context?: CredentialContext,
  ): Promise<VersionProbe | undefined> {
    const id = this.#parse(idLike, 'describeVersion');
    this.#precheck('describeVersion', id, () => this.validateId(id));
    await this.#ready();
    return this.runner.run('describeVersion', (a) => this.describeVersionBackend(id, a), {
      credentialId: id.value,
      context,
    });
  }

  /** The version of every credential matching `filter`. */
  async listVersions(
    filter?: CredentialFilter,
    context?: CredentialContext,
  ): Promise<Map<string, VersionProbe>> {
    this.#assertOpen('listVersions');
    await this.#ready();
    return this.runner.run('listVersions', (a) => this.listVersionsBackend(filter, a), { context });
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
        const id = this.#parse(idLike, 'retrieve');
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

  /** Starts the backend's native change feed, if it has one. */
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

  #parse(idLike: CredentialIdLike, operation: StorageOperation): CredentialId {
    this.#assertOpen(operation);
    try {
      return CredentialId.from(idLike);
    } catch (error) {
      throw (error as StorageError).withContext({ provider: this.name, operation });
    }
  }

  #precheck(operation: StorageOperation, id: CredentialId, check: () => void): void {
    try {
      check();
    } catch (error) {
      if (error instanceof StorageError) {
        throw error.withContext({ provider: this.name, operation, credentialId: id.value });
      }
      throw error;
    }
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
