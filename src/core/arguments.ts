// Checks on the arguments of the public API. A wrong argument is reported as a StorageError naming the
// argument and its type, never its value: a misplaced token or key must not end up in a log line.

import { StorageError, type StorageErrorCode, type StorageOperation } from './errors.js';

/** The type of `value` for messages (`null`, `array`, `string`, ...), never the value itself. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a Date';
  const type = typeof value;
  return type === 'object' ? 'an object' : type === 'undefined' ? 'undefined' : `a ${type}`;
}

/**
 * What a wrong option value was, for messages: numbers and booleans as they are (`NaN`, `-1`, `true`), a
 * short lower-case word (a misspelt choice such as `"fixx"`) in quotes, anything else by its type only, since
 * a string in the wrong place may be a token.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string' && SAFE_WORD.test(value)) return JSON.stringify(value);
  if (typeof value === 'string') return value.length === 0 ? 'an empty string' : 'a string';
  return describeType(value);
}

const SAFE_WORD = /^[a-z][a-z0-9-]{0,39}$/;

/** A `StorageError` for a bad argument; `path` names it in `details.issues` for `InvalidConfig`. */
export function invalidArgument(
  message: string,
  operation?: StorageOperation,
  options: { code?: StorageErrorCode; path?: string } = {},
): StorageError {
  const code = options.code ?? 'InvalidConfig';
  return new StorageError({
    code,
    message,
    operation,
    ...(code === 'InvalidConfig' && options.path !== undefined
      ? { details: { issues: [{ path: options.path, message }] } }
      : {}),
  });
}

/** True for `{...}` objects: not null, not an array, not a Date, a Buffer or a class instance with a brand. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Checks an options argument: `undefined` gives `{}`; anything but a plain object, or a key outside
 * `allowed`, throws `InvalidConfig` naming `what` and the keys it accepts (a mistyped key would otherwise
 * be ignored in silence, e.g. a `tag` filter that matches everything).
 */
export function checkOptionsObject(
  value: unknown,
  what: string,
  allowed: readonly string[],
  operation?: StorageOperation,
  code: StorageErrorCode = 'InvalidConfig',
): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) {
    throw invalidArgument(`${what} must be an object (got ${describeType(value)})`, operation, { code });
  }
  const unknown = Object.keys(value).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    const names = unknown.map((k) => (SAFE_KEY.test(k) ? `"${k}"` : 'a key with unusual characters'));
    throw invalidArgument(
      `${what} has unknown ${unknown.length === 1 ? 'member' : 'members'} ${names.join(', ')}; it accepts ${allowed.map((a) => `"${a}"`).join(', ')}`,
      operation,
      { code, path: SAFE_KEY.test(unknown[0]!) ? unknown[0]! : '(unknown member)' },
    );
  }
  return value;
}

// Option names are identifiers; anything else is echoed only as "a key with unusual characters".
const SAFE_KEY = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/;

/**
 * Checks the version number of a provider-only read (`retrieveVersion(id, 3)`): a whole number from 1,
 * refused with `InvalidConfig` before any request.
 *
 * @example
 * ```ts
 * import { assertVersionNumber } from './arguments.js';
 * assertVersionNumber(3, 'hashicorp-vault'); // passes
 * assertVersionNumber(0, 'hashicorp-vault'); // throws InvalidConfig
 * ```
 */
export function assertVersionNumber(version: unknown, provider: string): asserts version is number {
  if (typeof version === 'number' && Number.isInteger(version) && version >= 1) return;
  throw invalidArgument(`version must be a whole number from 1 (got ${describeValue(version)})`, 'retrieve', {
    path: 'version',
  }).withContext({ provider });
}
