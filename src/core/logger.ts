import { REDACTED } from './secret-string.js';

/**
 * A structured logger in pino's shape: `logger.debug({ id, operation }, 'message')`. Pass a pino logger
 * (or anything with these four methods). The library logs ids, operations, durations and error codes,
 * never values or tokens.
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const provider = await createStorageProvider({ provider: 'local', logger: pino({ level: 'debug' }) });
 * ```
 */
export interface Logger {
  /** Per-operation detail: each operation's outcome, attempts and duration, each retry. */
  debug(fields: Record<string, unknown>, message?: string): void;
  /** Notable events in normal operation (a token renewed, a lock recovered). */
  info(fields: Record<string, unknown>, message?: string): void;
  /** Something works but should be fixed (loose file permissions, TLS verification turned off). */
  warn(fields: Record<string, unknown>, message?: string): void;
  /** A failure the library could not report through a thrown error (a background renewal failed). */
  error(fields: Record<string, unknown>, message?: string): void;
}

/**
 * The default logger: drops everything.
 *
 * @example
 * ```ts
 * import { silentLogger } from 'nebula-credential';
 * silentLogger.info({ a: 1 }, 'never printed');
 * ```
 */
export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
});

const SENSITIVE_KEY =
  /pass(word|phrase)?|secret|token|authorization|cookie|credential(?!Id)|api[-_]?key|private|signature|^value$|plaintext/i;

/**
 * A deep copy of `value` with every field whose name looks sensitive (password, secret, token,
 * authorization, value, ...) replaced by `[REDACTED]`. Used on anything that might reach a log.
 *
 * @example
 * ```ts
 * import { redact } from 'nebula-credential';
 * redact({ id: 'a', token: 'xyz' }); // { id: 'a', token: '[REDACTED]' }
 * ```
 */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = SENSITIVE_KEY.test(key) ? REDACTED : redact(v, depth + 1);
  }
  return out;
}
