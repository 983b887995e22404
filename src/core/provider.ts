import type { EncryptedData } from './crypto.js';
import type { CredentialIdLike } from './id.js';
import type { CredentialContext, CredentialFilter, CredentialMetadata } from './metadata.js';

/** The providers this package ships. */
export type ProviderName =
  | 'memory'
  | 'local'
  | 'aws-secrets-manager'
  | 'azure-key-vault'
  | 'hashicorp-vault'
  | 'kubernetes';

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
  readonly name: string;
  readonly capabilities: ProviderCapabilities;
  connect(options?: ConnectOptions): Promise<void>;
  store(
    id: CredentialIdLike,
    data: EncryptedData,
    metadata: CredentialMetadata,
    context?: CredentialContext,
    options?: StoreOptions,
  ): Promise<CredentialMetadata | void>;
  retrieve(id: CredentialIdLike, context?: CredentialContext): Promise<StoredCredential>;
  delete(id: CredentialIdLike, context?: CredentialContext): Promise<void>;
  list(filter?: CredentialFilter, context?: CredentialContext): Promise<string[]>;
  exists(id: CredentialIdLike, context?: CredentialContext): Promise<boolean>;
  close(): Promise<void>;
}
