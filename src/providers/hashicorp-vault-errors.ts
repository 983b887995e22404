import { StorageError, type StorageErrorCode, type StorageOperation } from '../core/errors.js';
import { backendError, retryAfterMs, transportError } from '../core/transport.js';
import type { VaultResponse } from './hashicorp-vault-client.js';
import { HASHICORP_VAULT as PROVIDER } from './hashicorp-vault-options.js';

const SERVICE = 'Vault';

/**
 * Maps a failure without an HTTP response through the core transport policy (refused, reset, DNS,
 * certificates); anything else is `Internal`.
 *
 * @example
 * ```ts
 * const error = mapVaultNetworkError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 'connect', undefined);
 * console.log(error.code, error.retryable); // Unavailable true
 * ```
 */
export function mapVaultNetworkError(
  error: unknown,
  operation: StorageOperation,
  credentialId: string | undefined,
): StorageError {
  const context = { provider: PROVIDER, operation, credentialId };
  const network = transportError(error, {
    ...context,
    service: SERVICE,
    endpointSource: 'the address option (or VAULT_ADDR)',
  });
  if (network) return network;
  const kind = error instanceof Error ? error.name : typeof error;
  return new StorageError({
    ...context,
    code: 'Internal',
    message: `${operation} failed with an unexpected ${kind} talking to Vault; run with a debug logger to see the cause`,
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
    /** The provider clock's time, for an HTTP-date `Retry-After`. Default: now. */
    now?: number | undefined;
  },
): StorageError {
  const errors = vaultErrors(res);
  const status = res.status;
  const said = errors.length > 0 ? `: ${errors.join('; ')}` : '';
  const make = (
    code: StorageErrorCode | undefined,
    message: string | undefined,
    retryable?: boolean,
    details: Record<string, unknown> = {},
  ) =>
    backendError({
      provider: PROVIDER,
      operation: ctx.operation,
      credentialId: ctx.credentialId,
      service: SERVICE,
      status,
      code,
      message,
      retryable,
      retryAfterMs: retryAfterMs(res.headers, ctx.now ?? Date.now()),
      details: { path: ctx.path, ...(errors.length > 0 ? { errors } : {}), ...details },
    });
  if (status === 403) {
    return make(
      undefined,
      `Vault policy denies ${ctx.capabilities.map((c) => `"${c}"`).join(' or ')} on "${ctx.path}"; add it to the token's policy (see docs/providers/hashicorp-vault.md)`,
      undefined,
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
    return make(undefined, `Vault refused the request (HTTP 400)${said}`);
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
      undefined,
      `Vault refused the request as too large (HTTP 413); raise max_request_size or store less`,
    );
  }
  if (status === 429) return make(undefined, `Vault rate-limited the request (HTTP 429)${said}`);
  if (status === 503) {
    return make(
      undefined,
      `Vault is unavailable (HTTP 503${said}); it may be sealed or a standby`,
      undefined,
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
    // Vault's 412 is a performance standby that has not replicated the state yet, not a lost precondition.
    return make(
      'Unavailable',
      'Vault has not yet replicated the state this request needs (HTTP 412); retrying',
      true,
    );
  }
  return make(
    undefined,
    status >= 500 ? `Vault failed with HTTP ${status}${said}` : `unexpected HTTP ${status} from Vault${said}`,
  );
}
