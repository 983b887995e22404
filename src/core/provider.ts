import type { EncryptedData } from './crypto.js';
import type { CredentialIdLike } from './id.js';
import type { CredentialContext, CredentialFilter, CredentialMetadata } from './metadata.js';

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
export interface StorageProvider {
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
