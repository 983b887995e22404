import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describeType, invalidArgument } from './arguments.js';
import { disposeSymbol } from './dispose.js';
import { StorageError, type StorageOperation } from './errors.js';
import { SecretString } from './secret-string.js';

/**
 * Version of the {@link EncryptedData} format this library writes.
 *
 * @example
 * ```ts
 * import { ENCRYPTION_FORMAT_VERSION } from 'nebula-credential';
 * if (data.version !== ENCRYPTION_FORMAT_VERSION) console.log('written by another release');
 * ```
 */
export const ENCRYPTION_FORMAT_VERSION = 1;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Argon2id parameters for passphrases, those of the original design (OWASP's minimum for Argon2id):
 * 19 MiB of memory, 2 iterations, 1 lane, a 32-byte key.
 *
 * @example
 * ```ts
 * import { ARGON2ID_PARAMETERS } from 'nebula-credential';
 * console.log(ARGON2ID_PARAMETERS.memoryKiB); // 19456
 * ```
 */
export const ARGON2ID_PARAMETERS = Object.freeze({ memoryKiB: 19456, iterations: 2, parallelism: 1 });
/**
 * Shortest salt accepted by {@link EncryptionManager.fromPassphrase}.
 *
 * @example
 * ```ts
 * import { MIN_SALT_BYTES } from 'nebula-credential';
 * import { randomBytes } from 'node:crypto';
 * const salt = randomBytes(MIN_SALT_BYTES);
 * ```
 */
export const MIN_SALT_BYTES = 16;

/**
 * A credential value encrypted with AES-256-GCM. Providers store it as it is; they never see plaintext.
 *
 * @example
 * ```ts
 * import { EncryptionManager } from 'nebula-credential';
 * const data = EncryptionManager.generate().encrypt(Buffer.from('s3cret'));
 * console.log(data.version, data.nonce.length, data.tag.length); // 1 12 16
 * ```
 */
export interface EncryptedData {
  /** Format version; only {@link ENCRYPTION_FORMAT_VERSION} is understood. */
  version: number;
  /**
   * Identifies the key (an HMAC of the key, so it reveals nothing about it); a mismatch means a wrong key.
   */
  keyId: string;
  /** 12-byte GCM nonce, unique per encryption under one key. */
  nonce: Uint8Array;
  ciphertext: Uint8Array;
  /** 16-byte GCM authentication tag. */
  tag: Uint8Array;
}

/** The JSON form of {@link EncryptedData}: binary fields in standard base64. */
export interface EncryptedDataJson {
  version: number;
  keyId: string;
  nonce: string;
  ciphertext: string;
  tag: string;
}

/**
 * Converts encrypted data to its JSON form.
 *
 * @example
 * ```ts
 * import { EncryptionManager, encryptedDataToJson } from 'nebula-credential';
 * const json = encryptedDataToJson(EncryptionManager.generate().encrypt(Buffer.from('x')));
 * ```
 */
export function encryptedDataToJson(data: EncryptedData): EncryptedDataJson {
  assertEncryptedData(data, 'encryptedDataToJson');
  return {
    version: data.version,
    keyId: data.keyId,
    nonce: Buffer.from(data.nonce).toString('base64'),
    ciphertext: Buffer.from(data.ciphertext).toString('base64'),
    tag: Buffer.from(data.tag).toString('base64'),
  };
}

/**
 * Parses the JSON form; a missing or malformed field throws `Corrupted`. Field lengths are checked on decrypt.
 *
 * @example
 * ```ts
 * import { encryptedDataFromJson } from 'nebula-credential';
 * encryptedDataFromJson({ version: 1, keyId: 'k', nonce: '', ciphertext: '', tag: '' });
 * ```
 */
export function encryptedDataFromJson(json: unknown): EncryptedData {
  const fail = (why: string): never => {
    throw new StorageError({ code: 'Corrupted', message: `stored encrypted data is malformed: ${why}` });
  };
  if (typeof json !== 'object' || json === null) return fail('not an object');
  const j = json as Record<string, unknown>;
  if (typeof j['version'] !== 'number') return fail('version is not a number');
  if (typeof j['keyId'] !== 'string') return fail('keyId is not a string');
  const bytes = (key: string): Uint8Array => {
    const v = j[key];
    if (typeof v !== 'string') return fail(`${key} is not base64`);
    // Node's decoder skips what is not base64, so only text that encodes back to itself is canonical
    // standard base64 (the form this library writes); two native passes cost less than a regular expression.
    const decoded = Buffer.from(v, 'base64');
    if (decoded.toString('base64') !== v) return fail(`${key} is not base64`);
    return decoded;
  };
  return {
    version: j['version'],
    keyId: j['keyId'],
    nonce: bytes('nonce'),
    ciphertext: bytes('ciphertext'),
    tag: bytes('tag'),
  };
}

/**
 * AES-256-GCM with authenticated, versioned output and no plaintext fallback.
 *
 * Nonces: each manager draws a random 96-bit starting value when it is created and adds one for every
 * encryption. Within one manager a nonce therefore never repeats (the counter would have to wrap 2^96
 * times); the manager refuses to encrypt more than 2^32 messages, NIST SP 800-38D's bound, and you should
 * create a new one before that. Two managers sharing a key (two processes) repeat a nonce only if one's
 * random start lands inside the other's used range: for m managers each encrypting n messages the
 * probability is below m²·n/2^96, about 2^-36 for a million processes each writing a million times.
 * A purely random nonce per message would give a weaker bound, a pure counter none across processes.
 *
 * @example
 * ```ts
 * import { EncryptionManager } from 'nebula-credential';
 * const manager = EncryptionManager.generate();
 * const data = manager.encrypt(Buffer.from('hunter2'));
 * console.log(manager.decrypt(data).toString()); // hunter2
 * ```
 */
export class EncryptionManager {
  /**
   * Identifies the key without revealing it: the first 16 hex characters of an HMAC-SHA-256 keyed with it.
   * Stored with every ciphertext, so a wrong key is named rather than guessed.
   */
  readonly keyId: string;
  readonly #key: Buffer;
  readonly #nonceCounter: Buffer;
  readonly #aadHeader: Buffer;
  #encryptions = 0;
  #disposed = false;

  private constructor(key: Buffer) {
    this.#key = key;
    this.keyId = createHmac('sha256', key).update('nebula-credential key id v1').digest('hex').slice(0, 16);
    this.#nonceCounter = randomBytes(NONCE_BYTES);
    // Binding the format version and key id means a downgraded version field fails authentication.
    this.#aadHeader = Buffer.from(`nebula-credential/v${ENCRYPTION_FORMAT_VERSION}/${this.keyId}/`);
  }

  /** A manager for a 32-byte key (copied, so the caller may wipe its buffer). */
  static fromKey(key: Uint8Array): EncryptionManager {
    if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
      throw new StorageError({
        code: 'InvalidConfig',
        message: `an encryption key must be exactly ${KEY_BYTES} bytes, got ${key instanceof Uint8Array ? key.length : typeof key}`,
        operation: 'configure',
      });
    }
    const copy = Buffer.alloc(KEY_BYTES);
    copy.set(key);
    return new EncryptionManager(copy);
  }

  /** A manager with a fresh random key (for tests and for generating key files). */
  static generate(): EncryptionManager {
    return new EncryptionManager(randomBytes(KEY_BYTES));
  }

  /**
   * Derives the key from a passphrase with Argon2id ({@link ARGON2ID_PARAMETERS}). The salt must be at least
   * 16 random bytes, stored beside the data and reused: a different salt gives a different key.
   */
  static async fromPassphrase(
    passphrase: string | SecretString,
    salt: Uint8Array,
  ): Promise<EncryptionManager> {
    if (typeof passphrase !== 'string' && !(passphrase instanceof SecretString)) {
      throw new StorageError({
        code: 'InvalidConfig',
        message: `the passphrase must be a string or a SecretString (got ${describeType(passphrase)})`,
        operation: 'configure',
      });
    }
    const secret = typeof passphrase === 'string' ? new SecretString(passphrase) : passphrase;
    if (secret.length === 0) {
      throw new StorageError({
        code: 'InvalidConfig',
        message: 'the passphrase is empty',
        operation: 'configure',
      });
    }
    if (!(salt instanceof Uint8Array) || salt.length < MIN_SALT_BYTES) {
      throw new StorageError({
        code: 'InvalidConfig',
        message: `the passphrase salt must be at least ${MIN_SALT_BYTES} random bytes`,
        operation: 'configure',
      });
    }
    const { argon2id } = await import('hash-wasm');
    const key = await secret.useBytes((password) =>
      argon2id({
        password,
        salt,
        parallelism: ARGON2ID_PARAMETERS.parallelism,
        iterations: ARGON2ID_PARAMETERS.iterations,
        memorySize: ARGON2ID_PARAMETERS.memoryKiB,
        hashLength: KEY_BYTES,
        outputType: 'binary',
      }),
    );
    if (typeof passphrase === 'string') secret.dispose();
    const manager = new EncryptionManager(Buffer.from(key));
    key.fill(0);
    return manager;
  }

  /**
   * Encrypts `plaintext`. `associatedData` (for example the credential id) is authenticated but not stored:
   * decryption must pass the same bytes, so a ciphertext moved to another id fails to decrypt.
   */
  encrypt(plaintext: Uint8Array, associatedData?: Uint8Array): EncryptedData {
    this.#assertUsable('encrypt');
    assertBytes(plaintext, 'the plaintext', 'encrypt');
    assertAssociatedData(associatedData, 'encrypt');
    if (this.#encryptions >= 2 ** 32) {
      throw new StorageError({
        code: 'Unsupported',
        message:
          'this EncryptionManager has encrypted 2^32 messages; create a new one to draw a fresh nonce range',
        operation: 'encrypt',
      });
    }
    this.#encryptions++;
    const nonce = this.#nextNonce();
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(this.#aad(associatedData));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      version: ENCRYPTION_FORMAT_VERSION,
      keyId: this.keyId,
      nonce,
      ciphertext,
      tag: cipher.getAuthTag(),
    };
  }

  /**
   * Decrypts and authenticates. A wrong key, a changed bit, a truncated field or different associated data
   * throws `DecryptionFailed`; an unknown version throws `Unsupported`. Never returns unauthenticated bytes.
   */
  decrypt(data: EncryptedData, associatedData?: Uint8Array): Buffer {
    this.#assertUsable('decrypt');
    assertEncryptedData(data, 'decrypt');
    assertAssociatedData(associatedData, 'decrypt');
    if (data.version !== ENCRYPTION_FORMAT_VERSION) {
      throw new StorageError({
        code: 'Unsupported',
        message: `encrypted data has format version ${String(data.version)}; this release reads version ${ENCRYPTION_FORMAT_VERSION} (upgrade nebula-credential)`,
        operation: 'decrypt',
      });
    }
    const fail = (why: string, cause?: unknown): never => {
      throw new StorageError({
        code: 'DecryptionFailed',
        message: `decryption failed: ${why}`,
        operation: 'decrypt',
        cause,
        details: { keyId: this.keyId, dataKeyId: data.keyId },
      });
    };
    if (data.keyId !== this.keyId) {
      fail(
        `the data was encrypted with key ${data.keyId}, but the key given is ${this.keyId} (the wrong key or passphrase)`,
      );
    }
    if (data.nonce.length !== NONCE_BYTES) fail(`the nonce must be ${NONCE_BYTES} bytes`);
    if (data.tag.length !== TAG_BYTES) fail(`the authentication tag must be ${TAG_BYTES} bytes`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, data.nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(this.#aad(associatedData));
      decipher.setAuthTag(data.tag);
      return Buffer.concat([decipher.update(data.ciphertext), decipher.final()]);
    } catch (error) {
      return fail('the data or its authentication tag was altered, or the key is wrong', error);
    }
  }

  /**
   * Overwrites the key in memory. Afterwards `encrypt` and `decrypt` throw `Unsupported`: a wiped key is
   * never used (it would encrypt under 32 zero bytes while still stamping the real key id). Idempotent.
   */
  dispose(): void {
    this.#key.fill(0);
    this.#disposed = true;
  }

  /** True once {@link EncryptionManager.dispose} ran: the key is gone and the manager refuses to work. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * The same as {@link EncryptionManager.dispose}, so `using manager = ...` wipes the key at the end of the
   * block.
   */
  [disposeSymbol](): void {
    this.dispose();
  }

  /** `{ keyId }` only: `JSON.stringify` never includes the key. */
  toJSON(): Record<string, string> {
    return { keyId: this.keyId };
  }

  /** What `util.inspect` and `console.log` show: the key id, the key as `[REDACTED]`. */
  [inspect.custom](): string {
    return `EncryptionManager { keyId: '${this.keyId}', key: [REDACTED] }`;
  }

  #assertUsable(operation: 'encrypt' | 'decrypt'): void {
    if (this.#disposed) throw disposedManagerError(operation);
  }

  #nextNonce(): Buffer {
    // A 96-bit big-endian counter incremented in place (wrapping), copied out for the caller.
    const counter = this.#nonceCounter;
    for (let i = NONCE_BYTES - 1; i >= 0; i--) {
      counter[i] = (counter[i]! + 1) & 0xff;
      if (counter[i] !== 0) break;
    }
    return Buffer.from(counter);
  }

  #aad(associatedData: Uint8Array | undefined): Buffer {
    return associatedData ? Buffer.concat([this.#aadHeader, associatedData]) : this.#aadHeader;
  }
}

/**
 * The error of a disposed manager, for {@link EncryptionManager} and the stores that check before any I/O.
 * @internal
 */
export function disposedManagerError(operation: StorageOperation): StorageError {
  return new StorageError({
    code: 'Unsupported',
    message:
      'this EncryptionManager was disposed and its key wiped; create a new one (a CredentialStore disposes only a manager it created)',
    operation,
  });
}

function assertBytes(value: unknown, what: string, operation: StorageOperation): void {
  if (!(value instanceof Uint8Array)) {
    throw invalidArgument(`${what} must be a Uint8Array (got ${describeType(value)})`, operation);
  }
}

function assertAssociatedData(value: unknown, operation: StorageOperation): void {
  if (value !== undefined) assertBytes(value, 'associatedData', operation);
}

/**
 * Checks the shape of {@link EncryptedData} handed to the API (lengths are checked on decrypt).
 * @internal
 */
export function assertEncryptedData(
  data: unknown,
  operation: StorageOperation,
): asserts data is EncryptedData {
  if (typeof data !== 'object' || data === null) {
    throw invalidArgument(`encrypted data must be an object (got ${describeType(data)})`, operation);
  }
  const d = data as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof d['version'] !== 'number') problems.push('version must be a number');
  if (typeof d['keyId'] !== 'string') problems.push('keyId must be a string');
  for (const key of ['nonce', 'ciphertext', 'tag']) {
    if (!(d[key] instanceof Uint8Array)) problems.push(`${key} must be a Uint8Array`);
  }
  if (problems.length > 0) {
    throw invalidArgument(`malformed encrypted data: ${problems.join('; ')}`, operation);
  }
}
