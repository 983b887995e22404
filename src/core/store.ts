import { EncryptionManager } from './crypto.js';
import { isStorageError, StorageError } from './errors.js';
import { createStorageProvider, type StorageConfig } from './factory.js';
import { CredentialId, type CredentialIdLike } from './id.js';
import {
  type CredentialContext,
  type CredentialFilter,
  type CredentialMetadata,
  createMetadata,
  type RotationPolicy,
} from './metadata.js';
import type { StorageProvider } from './provider.js';
import { SecretString } from './secret-string.js';

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
export interface CredentialStoreOptions {
  /** The backend: a `createStorageProvider` config, or a provider you built. */
  storage: StorageConfig | StorageProvider;
  encryption: EncryptionConfig;
}

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
  readonly #encryption: EncryptionManager;

  constructor(provider: StorageProvider, encryption: EncryptionManager) {
    this.provider = provider;
    this.#encryption = encryption;
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
    const id = CredentialId.from(idLike);
    const metadata = createMetadata({
      ...(options.tags ? { tags: options.tags } : {}),
      ...(options.rotationPolicy ? { rotationPolicy: options.rotationPolicy } : {}),
    });
    const plaintext =
      secret instanceof SecretString
        ? secret.exposeBytes()
        : typeof secret === 'string'
          ? Buffer.from(secret)
          : Buffer.from(secret);
    try {
      const data = this.#encryption.encrypt(plaintext, aad(id));
      const written = await this.provider.store(id, data, metadata, options.context, {
        keepTags: options.tags === undefined,
        keepRotationPolicy: options.rotationPolicy === undefined,
      });
      return written ?? metadata;
    } finally {
      plaintext.fill(0);
    }
  }

  /** Retrieves and decrypts. Missing: `NotFound`; wrong key or tampered data: `DecryptionFailed`. */
  async get(idLike: CredentialIdLike, context?: CredentialContext): Promise<RetrievedSecret> {
    const id = CredentialId.from(idLike);
    const stored = await this.provider.retrieve(id, context);
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
      metadata: stored.metadata,
      version: stored.version,
    };
  }

  /** Metadata (and version) without decrypting. */
  async describe(
    idLike: CredentialIdLike,
    context?: CredentialContext,
  ): Promise<{ metadata: CredentialMetadata; version?: string | undefined }> {
    const stored = await this.provider.retrieve(idLike, context);
    return { metadata: stored.metadata, version: stored.version };
  }

  list(filter?: CredentialFilter, context?: CredentialContext): Promise<string[]> {
    return this.provider.list(filter, context);
  }

  delete(idLike: CredentialIdLike, context?: CredentialContext): Promise<void> {
    return this.provider.delete(idLike, context);
  }

  exists(idLike: CredentialIdLike, context?: CredentialContext): Promise<boolean> {
    return this.provider.exists(idLike, context);
  }

  /** Closes the provider and wipes the key from memory. */
  async close(): Promise<void> {
    await this.provider.close();
    this.#encryption.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
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
  const encryption = await resolveEncryption(options.encryption);
  const storage = options.storage;
  const provider =
    typeof (storage as StorageProvider).store === 'function'
      ? (storage as StorageProvider)
      : await createStorageProvider(storage as StorageConfig);
  return new CredentialStore(provider, encryption);
}
