import { inspect } from 'node:util';
import { describeType } from './arguments.js';
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

// Letters of any script (with their combining marks), digits, '-' and '_'. Everything else, in particular
// '.', '/', '\', NUL and spaces, is refused so an id can never name a path.
const ALLOWED_CHARACTER = /^[\p{L}\p{M}\p{N}_-]$/u;
// Characters that render as nothing or reorder text: controls, format characters (bidirectional controls,
// zero-width spaces and joiners, the BOM, tags) and default-ignorable code points (Hangul fillers,
// variation selectors, the combining grapheme joiner). Two ids that look the same must be the same id.
const INVISIBLE_CHARACTER = /^[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]$/u;
// Plain ASCII ids (nearly all of them) are already valid and in NFC: no per-character walk, no normalize.
const PLAIN_ASCII = /^[A-Za-z0-9_-]+$/;
const STARTS_WITH_MARK = /^\p{M}/u;

/**
 * A validated credential id: 1 to 255 bytes of UTF-8 made of letters (any script), digits, `-` and `_`.
 * Ids are case-sensitive (`Token` and `token` name two credentials) and normalized to Unicode NFC, so the
 * composed `café` (U+00E9) and the decomposed `cafe\u0301` typed on another system name one credential:
 * `value` is always the NFC form. Invisible, formatting and control characters are refused.
 *
 * @example
 * ```ts
 * import { CredentialId } from 'nebula-credential';
 * const id = CredentialId.parse('github_token');
 * console.log(id.value); // github_token
 * console.log(CredentialId.parse('cafe\u0301').value === 'caf\u00e9'); // true (NFC)
 * CredentialId.parse('../etc/passwd'); // throws StorageError with code InvalidId
 * ```
 */
export class CredentialId {
  /** The id in Unicode NFC. */
  readonly value: string;

  private constructor(value: string) {
    this.value = value;
  }

  /**
   * Validates `value` and returns the id in NFC; throws `StorageError` `InvalidId` saying what is wrong
   * (for a refused character: its position and code point, never the id itself).
   */
  static parse(value: unknown): CredentialId {
    const checked = check(value);
    if (typeof checked !== 'string') {
      throw new StorageError({
        code: 'InvalidId',
        message: `invalid credential id: ${checked.problem}`,
        details: {
          limit: MAX_CREDENTIAL_ID_BYTES,
          ...(checked.position === undefined
            ? {}
            : { position: checked.position, codePoint: checked.codePoint }),
        },
      });
    }
    return new CredentialId(checked);
  }

  /** Accepts an id or a string, so APIs can take either. */
  static from(value: CredentialId | string): CredentialId {
    return value instanceof CredentialId ? value : CredentialId.parse(value);
  }

  /** True when `value` would parse (possibly to a different, NFC-normalized string). */
  static isValid(value: unknown): value is string {
    return typeof check(value) === 'string';
  }

  /** True when `other` (an id, or a string that parses) names the same credential. */
  equals(other: CredentialId | string): boolean {
    if (other instanceof CredentialId) return this.value === other.value;
    const checked = check(other);
    return typeof checked === 'string' && checked === this.value;
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

interface Refusal {
  problem: string;
  /** 1-based position of the refused character, in code points of the given string. */
  position?: number;
  codePoint?: string;
}

/** The NFC form of a valid id, or why it is refused. */
function check(value: unknown): string | Refusal {
  if (typeof value !== 'string') return { problem: `expected a string, got ${describeType(value)}` };
  if (value.length === 0) return { problem: 'an id must not be empty' };
  let normalized = value;
  if (!PLAIN_ASCII.test(value)) {
    let position = 0;
    for (const character of value) {
      position++;
      const codePoint = `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
      if (INVISIBLE_CHARACTER.test(character)) {
        return {
          problem: `character ${position} (${codePoint}) is invisible, a formatting or a control character; ids may contain only visible letters, digits, "-" and "_"`,
          position,
          codePoint,
        };
      }
      if (!ALLOWED_CHARACTER.test(character)) {
        return {
          problem: `character ${position} (${codePoint}) is not allowed; an id may contain only letters, digits, "-" and "_" (no spaces, dots, slashes or control characters)`,
          position,
          codePoint,
        };
      }
    }
    if (STARTS_WITH_MARK.test(value)) {
      return { problem: 'an id must not start with a combining mark (it would attach to what precedes it)' };
    }
    normalized = value.normalize('NFC');
  }
  const bytes = Buffer.byteLength(normalized, 'utf8');
  if (bytes > MAX_CREDENTIAL_ID_BYTES) {
    return {
      problem: `an id is at most ${MAX_CREDENTIAL_ID_BYTES} bytes of UTF-8 (in NFC), this one has ${bytes}`,
    };
  }
  return normalized;
}

/** An id or a string that will be validated as one. */
export type CredentialIdLike = CredentialId | string;
