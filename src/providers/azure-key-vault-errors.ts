import {
  StorageError,
  type StorageErrorCode,
  type StorageOperation,
  toStorageError,
} from '../core/errors.js';
import { backendError, retryAfterMs, transportError } from '../core/transport.js';

const SERVICE = 'the vault';
const TOKEN_SERVICE = 'the Microsoft Entra ID or managed identity token endpoint';

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
  /** The provider clock's time, for an HTTP-date `Retry-After`. Default: now. */
  now?: number | undefined;
}

const FILE_CODES = new Set(['ENOENT', 'EACCES', 'EISDIR', 'EPERM', 'ENOTDIR']);

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
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const base = {
    provider: ctx.provider,
    operation: ctx.operation,
    credentialId: ctx.credentialId,
    service: SERVICE,
    status,
    cause: error,
    retryAfterMs: retryAfterMs(e.response?.headers, ctx.now ?? Date.now()),
  };
  const make = (
    code: StorageErrorCode | undefined,
    message: string | undefined,
    details: Record<string, unknown>,
    retryable?: boolean,
  ) => backendError({ ...base, code, message, details, retryable });

  if (e.name === 'TokenResponseTooLargeError') {
    const cut = error as { limitBytes: number; size: number };
    // A token answer is a few KiB: one past the bound is a proxy or endpoint gone wrong, and asking again
    // would fetch the same; the vault itself was never reached.
    return make(
      'Unavailable',
      `${TOKEN_SERVICE} answered with a body over ${cut.limitBytes} bytes; the ${ctx.credentialKind} credential ` +
        'stopped reading it and dropped the connection (check the authority host, the managed identity ' +
        'endpoint and any proxy between them)',
      { limitBytes: cut.limitBytes, size: cut.size },
      false,
    );
  }
  if (typeof e.name === 'string' && IDENTITY_ERRORS.has(e.name)) {
    const aadCode = typeof e.errorResponse?.error === 'string' ? e.errorResponse.error : undefined;
    if (status !== undefined && (status === 429 || status >= 500)) {
      return make(
        undefined,
        `the token endpoint answered ${status}; Microsoft Entra ID or the managed identity endpoint is unavailable`,
        { ...(aadCode ? { backendCode: aadCode } : {}) },
      );
    }
    // A token endpoint whose certificate is not trusted is a configuration problem like the vault's; an
    // unreachable one means no such identity here, which stays an authentication failure.
    const network =
      status === undefined ? transportError(error, { ...base, service: TOKEN_SERVICE }) : undefined;
    if (network?.code === 'InvalidConfig') return network;
    return make(
      'AuthenticationFailed',
      `could not get an access token for Key Vault with the ${ctx.credentialKind} credential ` +
        `(${e.name}: ${clean(e.message, ctx.redact)}); check the credential configuration ` +
        '(tenant, client id, secret or certificate, or the managed identity of this host)',
      { backendCode: aadCode ?? e.name },
      false,
    );
  }

  const code = typeof e.code === 'string' ? e.code : undefined;
  const inner =
    typeof e.details?.error?.innerError?.code === 'string' ? e.details.error.innerError.code : undefined;
  const backendCode = inner ?? code;
  const details: Record<string, unknown> = {
    ...(backendCode === undefined ? {} : { backendCode }),
    ...(ctx.secretName ? { secretName: ctx.secretName } : {}),
  };

  if (status === undefined) {
    const network = transportError(error, {
      ...base,
      endpointSource: 'vaultUrl',
      details: ctx.secretName ? { secretName: ctx.secretName } : {},
    });
    if (network) return network;
    if (code !== undefined && FILE_CODES.has(code)) {
      // A credential file (certificate, federated token) named in the configuration cannot be read.
      return make(
        'InvalidConfig',
        `a file named in the ${ctx.credentialKind} credential configuration cannot be read (${code}); check the path and its permissions`,
        details,
        false,
      );
    }
    if (code === 'REQUEST_SEND_ERROR' || e.name === 'AbortError') {
      return make(
        'Unavailable',
        `the request to the vault could not be sent or was cut off (${code ?? e.name}); check vaultUrl and the network`,
        details,
        true,
      );
    }
    return toStorageError(error, {
      provider: ctx.provider,
      operation: ctx.operation,
      credentialId: ctx.credentialId,
    });
  }
  if (status === 401) {
    return make(
      undefined,
      `the vault refused the access token (${code ?? 'Unauthorized'}); the token may be expired, for another ` +
        'tenant or resource, or the principal may be disabled: check the credential and tenant',
      details,
    );
  }
  if (status === 403) {
    const action = ctx.action ? `Microsoft.KeyVault/vaults/secrets/${ctx.action}` : undefined;
    if (inner === 'SecretDisabled') {
      return make(
        undefined,
        `secret ${ctx.secretName ?? ''} is disabled in the vault; enable it (az keyvault secret set-attributes --enabled true) to read it`,
        details,
      );
    }
    if (inner === 'PurgeProtectionEnabled') {
      return make(
        undefined,
        'the vault has purge protection: soft-deleted secrets cannot be purged and are removed only when the retention period ends; recover the credential instead',
        details,
      );
    }
    const role = ctx.action ? requiredRoleFor(ctx.action) : 'Key Vault Secrets Officer';
    return make(
      undefined,
      `the caller may not ${ctx.operation}${action ? ` (data action ${action})` : ''} on this vault` +
        `${inner ? ` (${inner})` : ''}: assign the "${role}" role to the principal on the vault ` +
        `(or grant the matching access policy), then allow a few minutes for the assignment to apply`,
      { ...details, requiredRole: role, ...(action ? { action } : {}) },
    );
  }
  if (status === 409) {
    return make(
      undefined,
      inner === 'ObjectIsDeletedButRecoverable'
        ? `credential "${ctx.credentialId ?? ''}" is soft-deleted in the vault; recover(id) or purge(id) it, or set softDeletePolicy to "recover" or "purge"`
        : `the vault reported a conflict (${backendCode ?? 'Conflict'}); try again shortly`,
      details,
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
    undefined,
    status === 429 || status === 404 || status >= 500
      ? undefined
      : `the vault answered ${status} (${backendCode ?? 'error'}) to ${ctx.operation}`,
    details,
  );
}
