import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { StorageError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/** A logger that keeps every line it is given, rendered as inspection and as JSON. */
export interface CapturedLogger extends Logger {
  lines: string[];
}

/**
 * A logger that records every line (both `util.inspect` and `JSON.stringify` of the fields), so a suite
 * can check that no secret reached a log.
 *
 * @example
 * ```ts
 * import { capturingLogger } from 'nebula-credential/testing';
 * const logger = capturingLogger();
 * logger.warn({ id: 'a' }, 'hello');
 * console.log(logger.lines.length); // 1
 * ```
 */
export function capturingLogger(): CapturedLogger {
  const lines: string[] = [];
  const write = (level: string) => (fields: Record<string, unknown>, message?: string) => {
    lines.push(`${level} ${message ?? ''} ${inspect(fields, { depth: 6 })} ${JSON.stringify(fields)}`);
  };
  return { lines, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/**
 * Asserts that `promise` rejects with a {@link StorageError} (of any code), and returns the error for the
 * test's own checks.
 *
 * @example
 * ```ts
 * import { rejectsWithStorageError } from 'nebula-credential/testing';
 * const error = await rejectsWithStorageError(provider.connect());
 * console.log(error.code, error.details);
 * ```
 */
export async function rejectsWithStorageError(promise: Promise<unknown>): Promise<StorageError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof StorageError, `expected a StorageError, got ${inspect(error)}`);
    return error;
  }
  return assert.fail('expected a StorageError, but the call succeeded');
}

/**
 * Asserts that `promise` rejects with a {@link StorageError} of `code`, and returns the error.
 *
 * @example
 * ```ts
 * import { rejectsWithCode } from 'nebula-credential/testing';
 * const error = await rejectsWithCode(store.get('missing'), 'NotFound');
 * console.log(error.credentialId); // missing
 * ```
 */
export async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<StorageError> {
  const error = await rejectsWithStorageError(promise);
  assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
  return error;
}
