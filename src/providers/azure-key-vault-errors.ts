import {
  StorageError,
  type StorageErrorCode,
  type StorageOperation,
  toStorageError,
} from '../core/errors.js';

/** Data actions whose denial needs only read access; everything else needs the Officer role. */
const READ_ACTIONS = new Set(['getSecret/action', 'readMetadata/action']);

/** The built-in role that grants `action` (a Key Vault secrets data action such as `getSecret/action`).
 *
 * @example
 * ```ts
 * import { requiredRoleFor } from 'nebula-credential/azure';
 * requiredRoleFor('getSecret/action'); // 'Key Vault Secrets User'
 * ```
 */
export function requiredRoleFor(action: string): string {
  return READ_ACTIONS.has(action) ? 'Key Vault Secrets User' : 'Key Vault Secrets Officer';
}

/** Identity library errors, recognised by their `name` (the classes are not loaded at module load). */
const IDENTITY_ERRORS = new Set([
  'CredentialUnavailableError',
  'AuthenticationError',
  'AggregateAuthenticationError',
  'AuthenticationRequiredError',
]);

interface RestErrorLike {
  name?: unknown;
  statusCode?: unknown;
  code?: unknown;
  message?: unknown;
  details?: { error?: { code?: unknown; innerError?: { code?: unknown } } };
  response?: { headers?: { get(name: string): string | undefined } };
  errorResponse?: { error?: unknown; errorDescription?: unknown };
}

/** Context of one failed SDK call.
 *
 * @example
 * ```ts
 * const ctx: AzureErrorContext = { provider: 'azure-key-vault', operation: 'retrieve', credentialKind: 'managed-identity', redact: [] };
 * ```
 */
export interface AzureErrorContext {
  provider: string;
  operation: StorageOperation;
  credentialId?: string | undefined;
  /** The Key Vault data action of the call (`setSecret/action`, `getSecret/action`, ...). */
  action?: string | undefined;
  /** The secret name in the vault. */
  secretName?: string | undefined;
  /** Words for the credential kind, e.g. `managed-identity`. */
  credentialKind: string;
  /** Values to blank out of any text taken from an SDK error. */
  redact: readonly string[];
}

const NETWORK_CODES = new Set([
  'REQUEST_SEND_ERROR',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

const FILE_CODES = new Set(['ENOENT', 'EACCES', 'EISDIR', 'EPERM', 'ENOTDIR']);

/** Retry-After, retry-after-ms or x-ms-retry-after-ms of a response, in milliseconds. */
function retryAfterMs(error: RestErrorLike): number | undefined {
  const headers = error.response?.headers;
  if (!headers || typeof headers.get !== 'function') return undefined;
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const v = Number(headers.get(name));
    if (Number.isFinite(v) && v >= 0 && headers.get(name) !== undefined) return v;
  }
  const after = headers.get('retry-after');
  if (after === undefined) return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function clean(text: unknown, redact: readonly string[]): string {
  let out = typeof text === 'string' ? text : '';
  for (const secret of redact) if (secret) out = out.split(secret).join('[REDACTED]');
  out = out.replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer [REDACTED]');
  return out.replace(/\s+/g, ' ').slice(0, 300);
}

/**
 * Maps what the Azure SDK threw to a StorageError from its structured fields: `RestError.statusCode`,
 * `code` (Key Vault's error code) and the inner error code; identity errors by their class name.
 *
 * @example
 * ```ts
 * const error = mapAzureError(Object.assign(new Error('x'), { name: 'RestError', statusCode: 404, code: 'SecretNotFound' }),
 *   { provider: 'azure-key-vault', operation: 'retrieve', credentialKind: 'managed-identity', redact: [] });
 * console.log(error.code); // NotFound
 * ```
 */
export function mapAzureError(error: unknown, ctx: AzureErrorContext): StorageError {
  if (error instanceof StorageError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as RestErrorLike;
  const base = { provider: ctx.provider, operation: ctx.operation, credentialId: ctx.credentialId };
  const make = (
    code: StorageErrorCode,
    message: string,
    details: Record<string, unknown>,
    retryable?: boolean,
  ) => new StorageError({ ...base, code, message, details, cause: error, retryable });

  if (typeof e.name === 'string' && IDENTITY_ERRORS.has(e.name)) {
    const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
    const aadCode = typeof e.errorResponse?.error === 'string' ? e.errorResponse.error : undefined;
    if (status !== undefined && (status === 429 || status >= 500)) {
      return make(
        'Unavailable',
        `the token endpoint answered ${status}; Microsoft Entra ID or the managed identity endpoint is unavailable`,
        { status, ...(aadCode ? { backendCode: aadCode } : {}) },
        true,
      );
    }
    return make(
      'AuthenticationFailed',
      `could not get an access token for Key Vault with the ${ctx.credentialKind} credential ` +
        `(${e.name}: ${clean(e.message, ctx.redact)}); check the credential configuration ` +
        '(tenant, client id, secret or certificate, or the managed identity of this host)',
      { backendCode: aadCode ?? e.name, ...(status === undefined ? {} : { status }) },
      false,
    );
  }

  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const inner =
    typeof e.details?.error?.innerError?.code === 'string' ? e.details.error.innerError.code : undefined;
  const backendCode = inner ?? code;
  const details: Record<string, unknown> = {
    ...(status === undefined ? {} : { status }),
    ...(backendCode === undefined ? {} : { backendCode }),
    ...(ctx.secretName ? { secretName: ctx.secretName } : {}),
  };

  if (status === undefined) {
    if (code !== undefined && FILE_CODES.has(code)) {
      // A credential file (certificate, federated token) named in the configuration cannot be read.
      return make(
        'InvalidConfig',
        `a file named in the ${ctx.credentialKind} credential configuration cannot be read (${code}); check the path and its permissions`,
        details,
        false,
      );
    }
    if (code !== undefined && NETWORK_CODES.has(code)) {
      return make(
        'Unavailable',
        `could not reach the vault (${code}); check vaultUrl and the network`,
        details,
        true,
      );
    }
    if (e.name === 'AbortError')
      return make('Unavailable', 'the request to the vault was cut off', details, true);
    return toStorageError(error, base);
  }
  if (status === 401) {
    return make(
      'AuthenticationFailed',
      `the vault refused the access token (${code ?? 'Unauthorized'}); the token may be expired, for another ` +
        'tenant or resource, or the principal may be disabled: check the credential and tenant',
      details,
      false,
    );
  }
  if (status === 403) {
    const action = ctx.action ? `Microsoft.KeyVault/vaults/secrets/${ctx.action}` : undefined;
    if (inner === 'SecretDisabled') {
      return make(
        'PermissionDenied',
        `secret ${ctx.secretName ?? ''} is disabled in the vault; enable it (az keyvault secret set-attributes --enabled true) to read it`,
        details,
        false,
      );
    }
    if (inner === 'PurgeProtectionEnabled') {
      return make(
        'PermissionDenied',
        'the vault has purge protection: soft-deleted secrets cannot be purged and are removed only when the retention period ends; recover the credential instead',
        details,
        false,
      );
    }
    const role = ctx.action ? requiredRoleFor(ctx.action) : 'Key Vault Secrets Officer';
    return make(
      'PermissionDenied',
      `the caller may not ${ctx.operation}${action ? ` (data action ${action})` : ''} on this vault` +
        `${inner ? ` (${inner})` : ''}: assign the "${role}" role to the principal on the vault ` +
        `(or grant the matching access policy), then allow a few minutes for the assignment to apply`,
      { ...details, requiredRole: role, ...(action ? { action } : {}) },
      false,
    );
  }
  if (status === 404) {
    return make(
      'NotFound',
      `credential "${ctx.credentialId ?? ''}" does not exist in ${ctx.provider}`,
      details,
      false,
    );
  }
  if (status === 409) {
    return make(
      'Conflict',
      inner === 'ObjectIsDeletedButRecoverable'
        ? `credential "${ctx.credentialId ?? ''}" is soft-deleted in the vault; recover(id) or purge(id) it, or set softDeletePolicy to "recover" or "purge"`
        : `the vault reported a conflict (${backendCode ?? 'Conflict'}); try again shortly`,
      details,
      false,
    );
  }
  if (status === 429) {
    const after = retryAfterMs(e);
    return make(
      'RateLimited',
      'the vault is throttling requests (429); slow down or spread the load',
      { ...details, ...(after === undefined ? {} : { retryAfterMs: after }) },
      true,
    );
  }
  if (status === 408 || (status >= 500 && status !== 501 && status !== 505)) {
    const after = retryAfterMs(e);
    return make(
      'Unavailable',
      `the vault answered ${status} (${code ?? 'server error'}); it may be temporarily unavailable`,
      { ...details, ...(after === undefined ? {} : { retryAfterMs: after }) },
      true,
    );
  }
  if (status === 400 && ctx.operation === 'store') {
    return make(
      'InvalidMetadata',
      `the vault refused the secret (${backendCode ?? 'BadParameter'}): ${clean(e.message, ctx.redact)}`,
      details,
      false,
    );
  }
  return make(
    status >= 500 ? 'Unavailable' : 'Internal',
    `the vault answered ${status} (${backendCode ?? 'error'}) to ${ctx.operation}`,
    details,
    false,
  );
}
