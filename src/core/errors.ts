import { inspect } from 'node:util';

/**
 * Every failure the library reports has one of these codes. Branch on `code`, never on `message`.
 *
 * @example
 * ```ts
 * import { isStorageError } from 'nebula-credential';
 * try { await store.get('github_token'); }
 * catch (e) { if (isStorageError(e, 'NotFound')) console.log('not stored yet'); else throw e; }
 * ```
 */
export type StorageErrorCode =
  | 'NotFound'
  | 'PermissionDenied'
  | 'AuthenticationFailed'
  | 'Timeout'
  | 'Unavailable'
  | 'RateLimited'
  | 'SizeLimitExceeded'
  | 'InvalidId'
  | 'InvalidMetadata'
  | 'InvalidConfig'
  | 'Conflict'
  | 'DecryptionFailed'
  | 'Corrupted'
  | 'Aborted'
  | 'MissingDependency'
  | 'Unsupported'
  | 'Internal';

/**
 * All codes, in a stable order (used by the CLI's exit-status table and the docs).
 *
 * @example
 * ```ts
 * import { STORAGE_ERROR_CODES } from 'nebula-credential';
 * console.log(STORAGE_ERROR_CODES.includes('NotFound')); // true
 * ```
 */
export const STORAGE_ERROR_CODES: readonly StorageErrorCode[] = [
  'NotFound',
  'PermissionDenied',
  'AuthenticationFailed',
  'Timeout',
  'Unavailable',
  'RateLimited',
  'SizeLimitExceeded',
  'InvalidId',
  'InvalidMetadata',
  'InvalidConfig',
  'Conflict',
  'DecryptionFailed',
  'Corrupted',
  'Aborted',
  'MissingDependency',
  'Unsupported',
  'Internal',
];

/** Codes that are worth another attempt by default: the failure is likely transient. */
const RETRYABLE_BY_DEFAULT: ReadonlySet<StorageErrorCode> = new Set(['Unavailable', 'RateLimited']);

/** The operations a provider performs, as named in errors, logs and metrics. */
export type StorageOperation =
  | 'connect'
  | 'store'
  | 'retrieve'
  | 'delete'
  | 'list'
  | 'exists'
  | 'close'
  | 'encrypt'
  | 'decrypt'
  | 'configure'
  | (string & {});

/**
 * Structured facts about a failure. Every field is safe to log: none ever holds a secret value or token.
 * Providers add their own keys (e.g. `action`, `resource`, `requiredRole`, `path`, `capabilities`).
 */
export interface StorageErrorDetails {
  /** HTTP status of the backend response, when there was one. */
  status?: number;
  /** The backend's own error code (`AccessDeniedException`, `ForbiddenByRbac`, `Forbidden`, ...). */
  backendCode?: string;
  /** For `SizeLimitExceeded`: the size of the rejected credential in bytes. */
  size?: number;
  /** For `SizeLimitExceeded` and `InvalidId`: the limit that was exceeded. */
  limit?: number;
  /** For `Timeout`: the deadline in milliseconds. */
  durationMs?: number;
  /** Number of attempts made before giving up. */
  attempts?: number;
  /** Server-requested delay before the next attempt, in milliseconds. */
  retryAfterMs?: number;
  /** For `InvalidConfig`: every problem found, each with the option path. */
  issues?: readonly ConfigIssue[];
  [key: string]: unknown;
}

/** One problem with a provider's options. */
export interface ConfigIssue {
  /** Dotted path of the option, e.g. `auth.roleId`. */
  path: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/** Constructor input for {@link StorageError}. */
export interface StorageErrorInit {
  code: StorageErrorCode;
  message: string;
  provider?: string | undefined;
  operation?: StorageOperation | undefined;
  credentialId?: string | undefined;
  retryable?: boolean | undefined;
  details?: StorageErrorDetails | undefined;
  cause?: unknown;
}

const BRAND = Symbol.for('nebula-credential.StorageError');

/**
 * The one error class of the library. `code` says what happened, `details` carries the structured facts
 * (the missing permission, the limit, the denied path), `retryable` says whether trying again may help.
 * Inspection and JSON output never include the raw `cause`, whose request objects may carry tokens.
 *
 * @example
 * ```ts
 * import { StorageError } from 'nebula-credential';
 * const err = new StorageError({ code: 'NotFound', message: 'credential "api_key" does not exist',
 *   provider: 'local', operation: 'retrieve', credentialId: 'api_key' });
 * console.log(err.code, err.retryable); // NotFound false
 * ```
 */
export class StorageError extends Error {
  /** Always `'StorageError'`. */
  override readonly name = 'StorageError';
  /** What went wrong, one of {@link STORAGE_ERROR_CODES}: branch on this, never on `message`. */
  readonly code: StorageErrorCode;
  /** The provider that failed (`'local'`, `'aws-secrets-manager'`, ...), when one was involved. */
  readonly provider: string | undefined;
  /** The operation that failed (`'retrieve'`, `'store'`, `'configure'`, ...). */
  readonly operation: StorageOperation | undefined;
  /** The id of the credential concerned, when there was one (an id is not a secret). */
  readonly credentialId: string | undefined;
  /** Whether trying again may help: true by default for `Unavailable` and `RateLimited`. */
  readonly retryable: boolean;
  /**
   * Structured facts, safe to log: HTTP status, backend code, the limit, the missing permission, the config
   * issues.
   */
  readonly details: StorageErrorDetails;

  /**
   * Builds the error; `retryable` defaults from the code, and `cause` is kept but not enumerable (it may hold
   * a request).
   */
  constructor(init: StorageErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.provider = init.provider;
    this.operation = init.operation;
    this.credentialId = init.credentialId;
    this.retryable = init.retryable ?? RETRYABLE_BY_DEFAULT.has(init.code);
    this.details = init.details ?? {};
    Object.defineProperty(this, BRAND, { value: true });
    // `cause` can be an SDK error holding the request (and its Authorization header): keep it reachable
    // for programs, but out of enumeration so generic loggers that walk own properties never print it.
    if (init.cause !== undefined) {
      Object.defineProperty(this, 'cause', { value: init.cause, enumerable: false, writable: true });
    }
  }

  /** Works across duplicate copies of this package, where `instanceof` would not. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  /** Returns a copy with more context (provider, operation, id), keeping what is already set. */
  withContext(context: {
    provider?: string | undefined;
    operation?: StorageOperation | undefined;
    credentialId?: string | undefined;
    details?: StorageErrorDetails | undefined;
  }): StorageError {
    return new StorageError({
      code: this.code,
      message: this.message,
      provider: this.provider ?? context.provider,
      operation: this.operation ?? context.operation,
      credentialId: this.credentialId ?? context.credentialId,
      retryable: this.retryable,
      details: { ...context.details, ...this.details },
      cause: this.cause,
    });
  }

  /** A plain, log-safe object: no `cause` internals, no stack. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      provider: this.provider,
      operation: this.operation,
      credentialId: this.credentialId,
      retryable: this.retryable,
      details: this.details,
      cause: describeCause(this.cause),
    };
  }

  /**
   * What `util.inspect` and `console.log` show: code, message, context, details and the reduced cause, never
   * the raw cause.
   */
  [inspect.custom](): string {
    const cause = describeCause(this.cause);
    const fields = inspect(
      {
        code: this.code,
        provider: this.provider,
        operation: this.operation,
        credentialId: this.credentialId,
        retryable: this.retryable,
        details: this.details,
        ...(cause === undefined ? {} : { cause }),
      },
      { depth: 4, breakLength: 100 },
    );
    const frames = (this.stack ?? '').split('\n').slice(1).join('\n');
    return `StorageError [${this.code}]: ${this.message}\n${frames}\n${fields}`;
  }
}

/** The cause reduced to its name, code and status: SDK errors can carry requests with credentials in them. */
function describeCause(cause: unknown): Record<string, unknown> | undefined {
  if (cause === undefined || cause === null) return undefined;
  if (typeof cause !== 'object') return { type: typeof cause };
  const c = cause as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of ['name', 'code', 'statusCode', 'status', '$fault']) {
    const v = c[key];
    if (typeof v === 'string' || typeof v === 'number') out[key] = v;
  }
  return out;
}

/**
 * True when `value` is a {@link StorageError} (from any copy of this package), optionally with the given code.
 *
 * @example
 * ```ts
 * import { isStorageError } from 'nebula-credential';
 * const exists = await store.get('x').then(() => true, (e) => {
 *   if (isStorageError(e, 'NotFound')) return false;
 *   throw e;
 * });
 * ```
 */
export function isStorageError(value: unknown, code?: StorageErrorCode): value is StorageError {
  if (!(value instanceof StorageError)) return false;
  return code === undefined || value.code === code;
}

/**
 * Wraps anything thrown into a StorageError: StorageErrors pass through (with context added), anything else
 * becomes `Internal`, with a message that names only the error's type (never its text, which may quote input).
 *
 * @example
 * ```ts
 * import { toStorageError } from 'nebula-credential';
 * const err = toStorageError(new TypeError('boom'), { provider: 'memory', operation: 'store' });
 * console.log(err.code); // Internal
 * ```
 */
export function toStorageError(
  error: unknown,
  context: {
    provider?: string | undefined;
    operation?: StorageOperation | undefined;
    credentialId?: string | undefined;
  },
): StorageError {
  if (isStorageError(error)) return error.withContext(context);
  const kind = error instanceof Error ? error.name : typeof error;
  return new StorageError({
    code: 'Internal',
    message: `${context.operation ?? 'operation'} failed with an unexpected ${kind}${
      context.provider ? ` in provider ${context.provider}` : ''
    }; run with a debug logger to see the cause`,
    ...context,
    cause: error,
  });
}
