import { inspect } from 'node:util';
import { StorageError } from './errors.js';

/**
 * Longest id, in bytes of UTF-8.
 *
 * @example
 * ```ts
 * import { MAX_CREDENTIAL_ID_BYTES } from 'nebula-credential';
 * const fits = Buffer.byteLength(candidate) <= MAX_CREDENTIAL_ID_BYTES;
 * ```
 */
export const MAX_CREDENTIAL_ID_BYTES = 255;

// Letters of any script (with their combining marks, so decomposed "é" is accepted too), digits, '-' and '_'.
// Everything else, in particular '.', '/', '\', NUL and spaces, is refused so an id can never name a path.
const ID_PATTERN = /^[\p{L}\p{M}\p{N}_-]+$/u;

/**
 * A validated credential id: 1 to 255 bytes of UTF-8 made of letters (any script), digits, `-` and `_`.
 * Ids are case-sensitive: `Token` and `token` name two credentials.
 *
 * @example
 * ```ts
 * import { CredentialId } from 'nebula-credential';
 * const id = CredentialId.parse('github_token');
 * console.log(id.value); // github_token
 * CredentialId.parse('../etc/passwd'); // throws StorageError with code InvalidId
 * ```
 */
export class CredentialId {
  /** The id as a string, exactly as given (ids are case-sensitive). */
  readonly value: string;

  private constructor(value: string) {
    this.value = value;
  }

  /** Validates `value` and returns the id; throws `StorageError` `InvalidId` saying what is wrong. */
  static parse(value: unknown): CredentialId {
    const problem = CredentialId.problem(value);
    if (problem !== undefined) {
      throw new StorageError({
        code: 'InvalidId',
        message: `invalid credential id: ${problem}`,
        details: { limit: MAX_CREDENTIAL_ID_BYTES },
      });
    }
    return new CredentialId(value as string);
  }

  /** Accepts an id or a string, so APIs can take either. */
  static from(value: CredentialId | string): CredentialId {
    return value instanceof CredentialId ? value : CredentialId.parse(value);
  }

  /** True when `value` would parse. */
  static isValid(value: unknown): value is string {
    return CredentialId.problem(value) === undefined;
  }

  private static problem(value: unknown): string | undefined {
    if (typeof value !== 'string') return `expected a string, got ${value === null ? 'null' : typeof value}`;
    if (value.length === 0) return 'an id must not be empty';
    const bytes = Buffer.byteLength(value, 'utf8');
    if (bytes > MAX_CREDENTIAL_ID_BYTES) {
      return `an id is at most ${MAX_CREDENTIAL_ID_BYTES} bytes of UTF-8, this one has ${bytes}`;
    }
    if (!ID_PATTERN.test(value)) {
      return 'an id may contain only letters, digits, "-" and "_" (no spaces, dots, slashes or control characters)';
    }
    return undefined;
  }

  /** True when `other` (an id or a string) is the same id. */
  equals(other: CredentialId | string): boolean {
    return this.value === (typeof other === 'string' ? other : other.value);
  }

  /** The id as a string, so it reads naturally in messages and template literals. */
  toString(): string {
    return this.value;
  }

  /** The id as a JSON string. */
  toJSON(): string {
    return this.value;
  }

  /** What `util.inspect` shows: `CredentialId("github_token")`. */
  [inspect.custom](): string {
    return `CredentialId(${JSON.stringify(this.value)})`;
  }
}

/** An id or a string that will be validated as one. */
export type CredentialIdLike = CredentialId | string;
