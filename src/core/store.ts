import { checkOptionsObject, describeType, invalidArgument, isPlainObject } from './arguments.js';
import { disposedManagerError, EncryptionManager } from './crypto.js';
import { asyncDisposeSymbol } from './dispose.js';
import { isStorageError, StorageError } from './errors.js';
import { FILE_SIZE_LIMITS, readBoundedFile } from './files.js';
import { CredentialId, type CredentialIdLike } from './id.js';
import {
  type CredentialContext,
  type CredentialFilter,
  type CredentialMetadata,
  createMetadata,
  type RotationPolicy,
  validateContext,
  validateFilter,
} from './metadata.js';
import type { StorageProvider } from './provider.js';
import { SecretString } from './secret-string.js';

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
export interface CredentialStoreConstructorOptions {
  /**
   * Dispose (wipe) the manager on {@link CredentialStore.close}. Default false: a manager passed in belongs
   * to its creator, who may share it with other stores. `openCredentialStore` sets it for the managers it
   * creates from a key, a key file or a passphrase.
   */
  disposeEncryptionOnClose?: boolean | undefined;
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
  readonly #encryption: EncryptionManager;
  readonly #ownsEncryption: boolean;

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
    const given = checkOptionsObject(options, 'the options of CredentialStore', ['disposeEncryptionOnClose']);
    const owns = given['disposeEncryptionOnClose'];
    if (owns !== undefined && typeof owns !== 'boolean') {
      throw invalidArgument(
        `disposeEncryptionOnClose must be true or false (got ${describeType(owns)})`,
        'configure',
        { path: 'disposeEncryptionOnClose' },
      );
    }
    this.provider = provider;
    this.#encryption = encryption;
    this.#ownsEncryption = owns === true;
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
    const given = checkOptionsObject(options, 'the options of put', ['tags', 'rotationPolicy', 'context']);
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
      const written = await this.provider.store(id, data, metadata, context, {
        keepTags: given['tags'] === undefined,
        keepRotationPolicy: given['rotationPolicy'] === undefined,
      });
      return written ?? metadata;
    } finally {
      plaintext.fill(0);
    }
  }

  /** Retrieves and decrypts. Missing: `NotFound`; wrong key or tampered data: `DecryptionFailed`. */
  async get(idLike: CredentialIdLike, context?: CredentialContext): Promise<RetrievedSecret> {
    const id = CredentialId.from(idLike);
    validateContext(context);
    this.#assertUsable('decrypt');
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
    const id = CredentialId.from(idLike);
    validateContext(context);
    const stored = await this.provider.retrieve(id, context);
    return { metadata: stored.metadata, version: stored.version };
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
    return this.provider.list(filter, context);
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
    return this.provider.delete(id, context);
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
    return this.provider.exists(id, context);
  }

  /** Closes the provider, and wipes the key from memory if this store owns the manager. */
  async close(): Promise<void> {
    try {
      await this.provider.close();
    } finally {
      if (this.#ownsEncryption) this.#encryption.dispose();
    }
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
