import { StorageError, type StorageErrorCode, type StorageOperation } from '../core/errors.js';
import type { VaultResponse } from './hashicorp-vault-client.js';

const PROVIDER = 'hashicorp-vault';

const RETRYABLE_NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

const TLS_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'EPROTO',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/**
 * Maps transport failures (no HTTP response) by their `code`: resets and refusals are `Unavailable` and
 * retryable; a certificate Vault's CA does not vouch for is `Unavailable`, not retryable, with a hint.
 */
export function mapVaultNetworkError(
  error: unknown,
  operation: StorageOperation,
  credentialId: string | undefined,
): StorageError {
  const code = String((error as { code?: unknown } | null)?.code ?? '');
  if (TLS_ERRORS.has(code) || code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL')) {
    return new StorageError({
      code: 'Unavailable',
      message: `the TLS connection to Vault failed (${code}): its certificate is not trusted or does not match the address; set tls.caFile or tls.ca to the CA that signed it`,
      provider: PROVIDER,
      operation,
      credentialId,
      retryable: false,
      details: { backendCode: code },
      cause: error,
    });
  }
  if (RETRYABLE_NETWORK.has(code) || code.startsWith('UND_ERR')) {
    return new StorageError({
      code: 'Unavailable',
      message: `Vault could not be reached (${code}); check the address and that Vault is running`,
      provider: PROVIDER,
      operation,
      credentialId,
      retryable: true,
      details: { backendCode: code },
      cause: error,
    });
  }
  if (code === 'ENOTFOUND') {
    return new StorageError({
      code: 'Unavailable',
      message: 'the Vault host name does not resolve (ENOTFOUND); check the address',
      provider: PROVIDER,
      operation,
      credentialId,
      retryable: false,
      details: { backendCode: code },
      cause: error,
    });
  }
  const kind = error instanceof Error ? error.name : typeof error;
  return new StorageError({
    code: 'Internal',
    message: `${operation} failed with an unexpected ${kind} talking to Vault; run with a debug logger to see the cause`,
    provider: PROVIDER,
    operation,
    credentialId,
    cause: error,
  });
}

/** Vault's `errors` array, flattened: multierror strings ("2 errors occurred:\n\t* a\n\t* b") become items. */
export function vaultErrors(res: VaultResponse): string[] {
  const raw = Array.isArray(res.body?.errors) ? (res.body!.errors as unknown[]) : [];
  const out: string[] = [];
  for (const e of raw) {
    if (typeof e !== 'string') continue;
    const items = [...e.matchAll(/^\t\* (.*)$/gm)].map((m) => m[1]!.trim());
    out.push(...(items.length > 0 ? items : [e.trim()]));
  }
  return out;
}

/**
 * Maps a Vault HTTP error response by its status. Vault has no error-code field: the status decides, and
 * only 400 (whose causes share one status) is told apart by the error text, as Vault's own clients do.
 */
export function vaultStatusError(
  res: VaultResponse,
  ctx: {
    operation: StorageOperation;
    credentialId: string | undefined;
    path: string;
    capabilities: readonly string[];
  },
): StorageError {
  const errors = vaultErrors(res);
  const status = res.status;
  const said = errors.length > 0 ? `: ${errors.join('; ')}` : '';
  const make = (
    code: StorageErrorCode,
    message: string,
    retryable: boolean,
    details: Record<string, unknown> = {},
  ) =>
    new StorageError({
      code,
      message,
      provider: PROVIDER,
      operation: ctx.operation,
      credentialId: ctx.credentialId,
      retryable,
      details: { status, path: ctx.path, ...(errors.length > 0 ? { errors } : {}), ...details },
    });
  if (status === 403) {
    return make(
      'PermissionDenied',
      `Vault policy denies ${ctx.capabilities.map((c) => `"${c}"`).join(' or ')} on "${ctx.path}"; add it to the token's policy (see docs/providers/hashicorp-vault.md)`,
      false,
      { capabilities: [...ctx.capabilities], capability: ctx.capabilities.join('/') },
    );
  }
  if (status === 400) {
    const text = errors.join(' ');
    if (text.includes('check-and-set parameter did not match')) {
      return make(
        'Conflict',
        `another writer changed the credential first (check-and-set on "${ctx.path}"); read it again and retry`,
        false,
      );
    }
    if (text.includes('check-and-set parameter required')) {
      return make('InvalidConfig', `the Vault mount requires check-and-set; set checkAndSet: true`, false);
    }
    if (text.includes('custom_metadata')) {
      return make('InvalidMetadata', `Vault refused the credential's tags as custom_metadata${said}`, false);
    }
    return make('Internal', `Vault refused the request (HTTP 400)${said}`, false);
  }
  if (status === 404 || status === 405) {
    return make(
      'InvalidConfig',
      `Vault has no KV v2 route for "${ctx.path}" (HTTP ${status}); check mount, namespace and that the engine is KV version 2`,
      false,
    );
  }
  if (status === 413) {
    return make(
      'SizeLimitExceeded',
      `Vault refused the request as too large (HTTP 413); raise max_request_size or store less`,
      false,
    );
  }
  if (status === 429) {
    const retryAfter = Number(res.headers['retry-after']);
    return make('RateLimited', `Vault rate-limited the request (HTTP 429)${said}`, true, {
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
    });
  }
  if (status === 503) {
    return make(
      'Unavailable',
      `Vault is unavailable (HTTP 503${said ? said : ''}); it may be sealed or a standby`,
      true,
      {
        backendCode: errors.some((e) => /sealed/i.test(e))
          ? 'sealed'
          : errors.some((e) => /standby/i.test(e))
            ? 'standby'
            : 'unavailable',
      },
    );
  }
  if (status === 412) {
    return make(
      'Unavailable',
      'Vault has not yet replicated the state this request needs (HTTP 412); retrying',
      true,
    );
  }
  if (status >= 500) return make('Unavailable', `Vault failed with HTTP ${status}${said}`, true);
  return make('Internal', `unexpected HTTP ${status} from Vault${said}`, false);
}
