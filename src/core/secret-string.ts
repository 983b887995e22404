import { inspect } from 'node:util';
import { describeType, invalidArgument } from './arguments.js';
import { disposeSymbol } from './dispose.js';
import { StorageError } from './errors.js';

/**
 * What every accidental rendering of a secret shows.
 *
 * @example
 * ```ts
 * import { REDACTED, SecretString } from 'nebula-credential';
 * console.log(String(new SecretString('x')) === REDACTED); // true
 * ```
 */
export const REDACTED = '[REDACTED]';

/**
 * A secret held in a Buffer the instance owns. Reading it takes an explicit call (`expose`, `exposeBytes`,
 * `use`, `useBytes`); every implicit rendering (`String()`, template literals, `JSON.stringify`,
 * `util.inspect`, `console.log`) shows `[REDACTED]`. `dispose()` (or `using`) overwrites the bytes with zeros.
 *
 * JavaScript strings cannot be wiped, so `expose()` hands out an immutable copy that lives until the
 * garbage collector takes it; prefer `useBytes` where the consumer accepts bytes.
 *
 * @example
 * ```ts
 * import { SecretString } from 'nebula-credential';
 * const token = new SecretString('ghp_example');
 * console.log(`token=${token}`); // token=[REDACTED]
 * const header = `Bearer ${token.expose()}`;
 * token.dispose();
 * ```
 */
export class SecretString {
  #bytes: Buffer;
  #disposed = false;

  /** Copies `value` (a string is encoded as UTF-8) into a buffer that is not shared with Node's pool. */
  constructor(value: string | Uint8Array) {
    if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
      throw invalidArgument(`a SecretString holds a string or a Uint8Array (got ${describeType(value)})`);
    }
    const length = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length;
    this.#bytes = Buffer.alloc(length);
    if (typeof value === 'string') this.#bytes.write(value, 'utf8');
    else this.#bytes.set(value);
  }

  /**
   * Takes ownership of `buffer` without copying: it is wiped on dispose. For decrypted plaintext that
   * should exist only once in memory.
   */
  static fromOwnedBuffer(buffer: Buffer): SecretString {
    if (!Buffer.isBuffer(buffer)) {
      throw invalidArgument(`SecretString.fromOwnedBuffer takes a Buffer (got ${describeType(buffer)})`);
    }
    const secret = new SecretString(new Uint8Array(0));
    secret.#bytes = buffer;
    return secret;
  }

  /** Length in bytes. */
  get length(): number {
    return this.#current().length;
  }

  /** True once {@link SecretString.dispose} has wiped the bytes. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** The secret as a string (UTF-8). */
  expose(): string {
    return this.#current().toString('utf8');
  }

  /** A copy of the secret's bytes; the caller owns (and should wipe) it. */
  exposeBytes(): Buffer {
    return Buffer.from(this.#current());
  }

  /** Calls `fn` with the secret as a string. */
  use<T>(fn: (value: string) => T): T {
    assertFunction(fn, 'use');
    return fn(this.expose());
  }

  /** Calls `fn` with a temporary copy of the bytes, wiped when `fn` (or its promise) settles. */
  useBytes<T>(fn: (bytes: Buffer) => T): T {
    assertFunction(fn, 'useBytes');
    const copy = this.exposeBytes();
    let result: T;
    try {
      result = fn(copy);
    } catch (error) {
      copy.fill(0);
      throw error;
    }
    if (result instanceof Promise) return result.finally(() => copy.fill(0)) as T;
    copy.fill(0);
    return result;
  }

  /** Constant-time comparison with another secret or a string. */
  equals(other: SecretString | string): boolean {
    const mine = this.#current();
    if (typeof other !== 'string' && !(other instanceof SecretString)) return false;
    const theirs = typeof other === 'string' ? Buffer.from(other, 'utf8') : other.#current();
    if (mine.length !== theirs.length) return false;
    let diff = 0;
    for (let i = 0; i < mine.length; i++) diff |= mine[i]! ^ theirs[i]!;
    return diff === 0;
  }

  /** Overwrites the bytes with zeros; reading afterwards throws. Safe to call twice. */
  dispose(): void {
    this.#current(true).fill(0);
    this.#disposed = true;
  }

  /** The same as {@link SecretString.dispose}, so `using secret = ...` wipes it at the end of the block. */
  [disposeSymbol](): void {
    this.dispose();
  }

  /** Always `[REDACTED]`: string conversion never reveals the value (use `expose()`). */
  toString(): string {
    return REDACTED;
  }

  /** Always `[REDACTED]`: `JSON.stringify` never reveals the value. */
  toJSON(): string {
    return REDACTED;
  }

  /** Always `[REDACTED]`: template literals and `+` never reveal the value. */
  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  /** What `util.inspect` and `console.log` show: `SecretString([REDACTED])`. */
  [inspect.custom](): string {
    return `SecretString(${REDACTED})`;
  }

  #current(allowDisposed = false): Buffer {
    if (this.#disposed && !allowDisposed) {
      throw new StorageError({
        code: 'Unsupported',
        message: 'this SecretString was disposed and holds nothing now',
      });
    }
    return this.#bytes;
  }
}

function assertFunction(fn: unknown, method: string): void {
  if (typeof fn !== 'function') {
    throw invalidArgument(`SecretString.${method} takes a function (got ${describeType(fn)})`);
  }
}
