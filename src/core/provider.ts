import type { Clock } from './clock.js';
import type { EncryptedData } from './crypto.js';
import type { StorageError } from './errors.js';
import type { CredentialId, CredentialIdLike } from './id.js';
import type { Logger } from './logger.js';
import type { CredentialContext, CredentialFilter, CredentialMetadata } from './metadata.js';
import type { StorageMetrics } from './metrics.js';

/**
 * What a provider can do and what it refuses, declared so callers and the conformance suite can adapt.
 *
 * @example
 * ```ts
 * if (provider.capabilities.softDelete) console.log('deleted credentials can be recovered');
 * ```
 */
export interface ProviderCapabilities {
  /** Largest ciphertext (equal to the plaintext length under AES-GCM) accepted, in bytes. */
  maxCredentialSize: number;
  /** Longest lower-case ASCII id accepted, in bytes (shorter for backends with short names, e.g. Azure). */
  maxIdBytes: number;
  /** The backend keeps earlier versions of a credential. */
  versioning: boolean;
  /** Deleted credentials can be recovered for a while. */
  softDelete: boolean;
  /** Tag filters of `list` run in the backend rather than after fetching. */
  nativeTagFiltering: boolean;
  /** Data survives a process restart. */
  persistent: boolean;
  /** Most tags one credential may carry, when the backend limits it. */
  maxTags?: number | undefined;
  /**
   * How `store` with `createOnly` refuses an existing credential: `'atomic'` when the backend's own create
   * call refuses it (AWS `CreateSecret`, a Kubernetes `POST`, Vault `cas: 0`, the local file under its lock),
   * `'read-first'` when the backend has no create-only call and the provider reads before it writes (Azure
   * `setSecret`: a create racing another between the read and the write can overwrite it). Absent: the
   * provider does not honour `createOnly`, and `CredentialStore.create` refuses to run on it (`Unsupported`).
   */
  createOnly?: 'atomic' | 'read-first' | undefined;
}

/** What `retrieve` returns: the encrypted data and metadata exactly as stored. */
export interface StoredCredential {
  data: EncryptedData;
  metadata: CredentialMetadata;
  /** The backend's version of this value, where it has versions (Vault's version number, AWS's VersionId). */
  version?: string | undefined;
}

/**
 * The overwrite rule of `store`, the same on every provider: an overwrite always keeps the existing
 * `createdAt` (taken from the backend's own record, never from a read the caller makes first); tags and the
 * rotation policy are replaced by those in `metadata` unless the flag below keeps the existing ones. A new
 * credential takes everything from `metadata`. `CredentialStore.put` sets both flags when its caller gives no
 * tags / no rotation policy, as `aws secretsmanager put-secret-value` keeps a secret's tags.
 *
 * @example
 * ```ts
 * // Rotate the value, keep whatever tags and rotation policy the credential already has.
 * await provider.store('api_key', data, createMetadata(), undefined, { keepTags: true, keepRotationPolicy: true });
 * ```
 */
export interface StoreOptions {
  /** On overwrite, keep the existing tags (`metadata.tags` is used only for a new credential). */
  keepTags?: boolean | undefined;
  /** On overwrite, keep the existing rotation policy (or its absence). */
  keepRotationPolicy?: boolean | undefined;
  /**
   * Write `metadata` exactly as given, `createdAt` included, even over an existing credential (a copy or a
   * migration that carries the source's metadata). The keep flags are then ignored.
   */
  exactMetadata?: boolean | undefined;
  /**
   * Write only a new credential: an existing one is `Conflict` and stays as it was. The provider uses the
   * backend's create call, so a new id costs no read first (see `ProviderCapabilities.createOnly`).
   */
  createOnly?: boolean | undefined;
}

/** Options for `connect()`. */
export interface ConnectOptions {
  signal?: AbortSignal | undefined;
}

/**
 * The storage contract every backend implements. Providers store ciphertext only: encryption happens above
 * them (see `openCredentialStore`). Constructors do no I/O; `connect()` does, and fails fast when the
 * configuration or the credentials are wrong.
 *
 * - `store` is an atomic upsert following the overwrite rule of {@link StoreOptions}; it resolves to the
 *   metadata it wrote (after the rule) when the backend told it; `retrieve` throws `NotFound` for a missing id; `delete` is idempotent;
 *   `list` returns ids only; `exists` is cheap and never decrypts.
 * - Ids are validated (`InvalidId`) and sizes checked (`SizeLimitExceeded`) before any I/O.
 *
 * @example
 * ```ts
 * import { createStorageProvider, EncryptionManager, createMetadata } from 'nebula-credential';
 * const provider = await createStorageProvider({ provider: 'memory' });
 * const data = EncryptionManager.generate().encrypt(Buffer.from('value'));
 * await provider.store('api_key', data, createMetadata());
 * console.log(await provider.exists('api_key')); // true
 * await provider.close();
 * ```
 */
export interface StorageProvider extends ReadPathProvider {
  /** The provider's name as in errors, logs and metrics (`'local'`, `'hashicorp-vault'`, ...). */
  readonly name: string;
  /**
   * What this backend can do and refuses (sizes, id length, versions, soft delete), fixed at construction.
   */
  readonly capabilities: ProviderCapabilities;
  /**
   * Connects and checks the configuration and credentials, so a wrong setup fails here rather than on
   * the first operation. Idempotent; the other methods connect on first use when it was not called.
   *
   * @example
   * ```ts
   * const provider = new LocalStorageProvider({ directory: './.credentials' });
   * await provider.connect(); // InvalidConfig, PermissionDenied, ... surface here
   * ```
   */
  connect(options?: ConnectOptions): Promise<void>;
  /**
   * Stores `data` (ciphertext) and `metadata` under `id`, replacing what was there: an atomic upsert. The
   * id, the metadata and the size are checked before any I/O (`InvalidId`, `InvalidMetadata`,
   * `SizeLimitExceeded`).
   *
   * @example
   * ```ts
   * const data = EncryptionManager.generate().encrypt(Buffer.from('value'));
   * await provider.store('api_key', data, createMetadata({ tags: { env: 'prod' } }));
   * ```
   */
  store(
    id: CredentialIdLike,
    data: EncryptedData,
    metadata: CredentialMetadata,
    context?: CredentialContext,
    options?: StoreOptions,
    // biome-ignore lint/suspicious/noConfusingVoidType: providers written before the overwrite rule return Promise<void>
  ): Promise<CredentialMetadata | void>;
  /**
   * Returns the ciphertext and metadata exactly as stored (and the backend's version, where it has
   * versions); a missing id throws `NotFound`. Never decrypts: {@link CredentialStore.get} does.
   *
   * @example
   * ```ts
   * const { data, metadata, version } = await provider.retrieve('api_key');
   * ```
   */
  retrieve(id: CredentialIdLike, context?: CredentialContext): Promise<StoredCredential>;
  /**
   * Deletes the credential. Idempotent: deleting a missing id succeeds. On backends with soft delete
   * it stays recoverable for their retention period (`capabilities.softDelete`).
   *
   * @example
   * ```ts
   * await provider.delete('api_key');
   * console.log(await provider.exists('api_key')); // false
   * ```
   */
  delete(id: CredentialIdLike, context?: CredentialContext): Promise<void>;
  /**
   * The ids matching `filter` (every tag must match; creation dates inclusive), sorted and without
   * duplicates; ids only, never values.
   *
   * @example
   * ```ts
   * const ids = await provider.list({ tags: { env: 'prod' }, createdAfter: new Date('2026-01-01') });
   * ```
   */
  list(filter?: CredentialFilter, context?: CredentialContext): Promise<string[]>;
  /**
   * Whether a credential exists under `id`, without reading or decrypting its value.
   *
   * @example
   * ```ts
   * if (!(await provider.exists('api_key'))) console.log('not stored yet');
   * ```
   */
  exists(id: CredentialIdLike, context?: CredentialContext): Promise<boolean>;
  /**
   * Releases connections, agents and timers. Idempotent; operations afterwards fail with
   * `Unsupported`.
   *
   * @example
   * ```ts
   * await provider.close();
   * ```
   */
  close(): Promise<void>;
}

// ---- read path: change signals, native batches, health (all optional) --------------------------------

/**
 * What a backend's cheapest change signal says about one credential: an opaque `version` that changes
 * whenever the stored value does (Vault's current_version, AWS's AWSCURRENT VersionId, Azure's secret
 * version, Kubernetes' resourceVersion, a file's inode and mtime). Backends whose signal carries the stored
 * document anyway (Azure, Kubernetes) return it in `stored`, so a change refreshes a cache without a second
 * request.
 */
export interface VersionProbe {
  version: string;
  stored?: StoredCredential | undefined;
}

/** What a change feed or a watch is about: one credential, or every credential matching a filter. */
export type ChangeTarget =
  | { kind: 'id'; id: CredentialId }
  | { kind: 'filter'; filter: CredentialFilter | undefined };

/** One observation a native change feed reports; the core compares it with what it knew before. */
export interface ChangeObservation {
  id: string;
  /** `present` with its version, or `absent` (deleted, or no longer matching the filter). */
  state: 'present' | 'absent';
  version?: string | undefined;
  stored?: StoredCredential | undefined;
}

/** Where a native change feed reports to. */
export interface ChangeSink {
  /** A credential's state as the backend reported it. */
  observe(observation: ChangeObservation): void;
  /** Something may have changed: the core probes now instead of waiting for its next poll. */
  wake(): void;
  /** The feed failed; `fatal` means it gave up and the core must poll instead. */
  error(error: unknown, fatal: boolean): void;
}

/** A running native change feed. */
export interface ChangeFeed {
  /**
   * True when the feed alone reports every change (the Kubernetes watch API): the core then stops polling.
   * False when it only hints (file-system events, which can be lost): the core keeps its poll as a fallback.
   */
  readonly complete: boolean;
  /** Stops the feed and releases its connection or file-system watcher. */
  close(): void;
}

/** Options of {@link StorageProvider.retrieveMany}. */
export interface RetrieveManyOptions {
  /** Most backend requests in flight at once. Default 8. */
  concurrency?: number | undefined;
  context?: CredentialContext | undefined;
}

/** How a provider authenticates, as far as it knows without a request. */
export interface ProviderAuthState {
  /** `token`, `approle`, `service-account-token`, `access-key`, `managed-identity`, `none`, ... */
  kind: string;
  /** When the current token or credential expires (ms since the epoch), when known. */
  expiresAt?: number | undefined;
  /** Milliseconds left before expiry, when known. */
  ttlMs?: number | undefined;
  /** When the provider will renew or replace it (ms since the epoch), when it does so itself. */
  nextRenewalAt?: number | undefined;
  renewable?: boolean | undefined;
  /** For file-based tokens (Kubernetes service account): milliseconds since the file was last written. */
  tokenFileAgeMs?: number | undefined;
  [key: string]: unknown;
}

/** What a provider knows about its own health: credential source, auth state, and its own facts. */
export interface ProviderHealthFacts {
  /** Where the credentials come from: `in-cluster service account`, `kubeconfig <path>`, `token`, ... */
  credentialSource: string;
  auth: ProviderAuthState;
  [key: string]: unknown;
}

/** The provider's part of `store.health()`: no I/O, no secret. */
export interface ProviderHealthDetails extends ProviderHealthFacts {
  connected: boolean;
}

/** Clock, metrics and logger of a provider, so the store's read path records beside it. */
export interface ProviderRuntime {
  clock: Clock;
  metrics: StorageMetrics;
  logger: Logger;
}

/**
 * The optional read-path members a provider may add to {@link StorageProvider}. Every one has a generic
 * fallback in the core (a `retrieve` per id, a poll of `retrieve` for changes), so a third-party provider
 * works without them and gets cheaper by adding them.
 */
export interface ReadPathProvider {
  /** The cheapest change signal of one credential; `undefined` when it does not exist. */
  describeVersion?(id: CredentialIdLike, context?: CredentialContext): Promise<VersionProbe | undefined>;
  /** The version of every credential matching `filter`, in as few requests as the backend allows. */
  listVersions?(filter?: CredentialFilter, context?: CredentialContext): Promise<Map<string, VersionProbe>>;
  /** Reads many credentials, natively batched where the backend can; one result or error per id. */
  retrieveMany?(
    ids: readonly CredentialIdLike[],
    options?: RetrieveManyOptions,
  ): Promise<Map<string, StoredCredential | StorageError>>;
  /** Starts a native change feed (Kubernetes watch, file-system events); undefined when there is none. */
  subscribeChanges?(target: ChangeTarget, sink: ChangeSink): ChangeFeed | undefined;
  /** The provider's part of `store.health()`. */
  healthDetails?(): ProviderHealthDetails;
  readonly runtime?: ProviderRuntime | undefined;
}
