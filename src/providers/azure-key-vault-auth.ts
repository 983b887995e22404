import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import type { Clock } from '../core/clock.js';
import type { AzureCredentialSettings, AzureKeyVaultSettings } from './azure-key-vault-options.js';

interface CacheEntry {
  token: AccessToken;
  scopes: string[];
  options: GetTokenOptions;
  obtainedAt: number;
}

/** How long before expiry a token is replaced: MSAL's 5 minutes, or half the lifetime of short tokens. */
const MAX_REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * Holds the access tokens the Key Vault client uses and replaces them BEFORE an operation when they are
 * near expiry, instead of letting the SDK discover an expired token during a request.
 *
 * The SDK's own token cycler would keep a token until its (wall-clock) expiry and refresh it in the middle
 * of a request; this cache hands the SDK tokens marked as already due, so the SDK asks the cache on every
 * request and the cache, which judges freshness by the provider's clock, stays the one authority.
 *
 * @example
 * ```ts
 * import { ManagedIdentityCredential } from '@azure/identity';
 * import { systemClock } from 'nebula-credential';
 * const tokens = new AzureTokenCache(new ManagedIdentityCredential(), systemClock);
 * await tokens.refreshDue(AbortSignal.timeout(2000)); // before each operation
 * ```
 */
export class AzureTokenCache implements TokenCredential {
  /** Tokens fetched from the underlying credential so far. */
  fetched = 0;
  readonly #inner: TokenCredential;
  readonly #clock: Clock;
  readonly #entries = new Map<string, CacheEntry>();
  readonly #pending = new Map<string, Promise<AccessToken>>();

  constructor(inner: TokenCredential, clock: Clock) {
    this.#inner = inner;
    this.#clock = clock;
  }

  async getToken(scopes: string | string[], options: GetTokenOptions = {}): Promise<AccessToken> {
    const list = Array.isArray(scopes) ? scopes : [scopes];
    const key = cacheKey(list, options);
    const entry = this.#entries.get(key);
    const token =
      entry && !options.claims && this.#isFresh(entry) ? entry.token : await this.#fetch(key, list, options);
    // Marked as due now: the SDK then asks this cache again on its next request instead of trusting its copy.
    return { token: token.token, expiresOnTimestamp: Date.now(), tokenType: token.tokenType ?? 'Bearer' };
  }

  /** True when a cached token is expired or near expiry (a cheap check before each operation). */
  get hasDue(): boolean {
    for (const entry of this.#entries.values()) if (!this.#isFresh(entry)) return true;
    return false;
  }

  /** Replaces every cached token that is expired or near expiry; called before each operation. */
  async refreshDue(signal: AbortSignal): Promise<void> {
    const due = [...this.#entries.entries()].filter(([, e]) => !this.#isFresh(e));
    await Promise.all(
      due.map(([key, e]) => this.#fetch(key, e.scopes, { ...stripPerCall(e.options), abortSignal: signal })),
    );
  }

  /** Drops cached tokens (after a 401 the vault refused one). */
  clear(): void {
    this.#entries.clear();
  }

  /** Milliseconds until the earliest cached token expires (by the provider clock), if any. */
  get earliestExpiryInMs(): number | undefined {
    const expiries = [...this.#entries.values()].map((e) => e.token.expiresOnTimestamp - this.#clock.now());
    return expiries.length ? Math.min(...expiries) : undefined;
  }

  #isFresh(entry: CacheEntry): boolean {
    const { expiresOnTimestamp, refreshAfterTimestamp } = entry.token;
    const lifetime = Math.max(0, expiresOnTimestamp - entry.obtainedAt);
    const refreshAt = Math.min(
      expiresOnTimestamp - Math.min(MAX_REFRESH_MARGIN_MS, lifetime / 2),
      refreshAfterTimestamp ?? Number.POSITIVE_INFINITY,
    );
    return this.#clock.now() < refreshAt;
  }

  #fetch(key: string, scopes: string[], options: GetTokenOptions): Promise<AccessToken> {
    const running = this.#pending.get(key);
    if (running) return running;
    const obtainedAt = this.#clock.now();
    const promise = this.#inner
      .getToken(scopes, options)
      .then((token) => {
        if (!token)
          throw Object.assign(new Error('the credential returned no token'), {
            name: 'CredentialUnavailableError',
          });
        this.fetched++;
        this.#entries.set(key, { token, scopes, options: stripPerCall(options), obtainedAt });
        return token;
      })
      .finally(() => this.#pending.delete(key));
    this.#pending.set(key, promise);
    return promise;
  }
}

function stripPerCall(options: GetTokenOptions): GetTokenOptions {
  const { abortSignal: _a, requestOptions: _r, tracingOptions: _t, claims: _c, ...rest } = options;
  return rest;
}

function cacheKey(scopes: string[], options: GetTokenOptions): string {
  return JSON.stringify([scopes, options.tenantId ?? '', options.enableCae === true]);
}

/**
 * Creates the `@azure/identity` credential a config object describes, with the SDK's retries off and the
 * authority, CA and tenant options applied.
 *
 * @example
 * ```ts
 * const credential = buildCredential(await import('@azure/identity'), { type: 'managed-identity' }, settings, {});
 * ```
 */
export function buildCredential(
  identity: typeof import('@azure/identity'),
  config: AzureCredentialSettings,
  s: AzureKeyVaultSettings,
  transport: Record<string, unknown>,
): TokenCredential {
  const authority = {
    ...transport,
    ...(s.authorityHost ? { authorityHost: s.authorityHost } : {}),
    ...(s.disableInstanceDiscovery ? { disableInstanceDiscovery: true } : {}),
    additionallyAllowedTenants: s.additionallyAllowedTenants,
  };
  const tenant = (t: string | undefined) => t ?? s.tenantId ?? process.env['AZURE_TENANT_ID'] ?? '';
  const optionalTenant = (t: string | undefined) => {
    const value = t ?? s.tenantId;
    return value === undefined ? {} : { tenantId: value };
  };
  switch (config.type) {
    case 'managed-identity':
      return new identity.ManagedIdentityCredential({
        ...transport,
        ...(config.clientId ? { clientId: config.clientId } : {}),
        ...(config.resourceId ? { resourceId: config.resourceId } : {}),
        ...(config.objectId ? { objectId: config.objectId } : {}),
      } as never);
    case 'client-secret':
      return new identity.ClientSecretCredential(
        tenant(config.tenantId),
        config.clientId,
        config.clientSecret.expose(),
        authority,
      );
    case 'client-certificate':
      return new identity.ClientCertificateCredential(
        tenant(config.tenantId),
        config.clientId,
        (config.certificatePath
          ? { certificatePath: config.certificatePath }
          : { certificate: config.certificate!.expose() }) as { certificatePath: string },
        { ...authority, sendCertificateChain: config.sendCertificateChain ?? false },
      );
    case 'workload-identity':
      return new identity.WorkloadIdentityCredential({
        ...authority,
        ...optionalTenant(config.tenantId),
        ...(config.clientId ? { clientId: config.clientId } : {}),
        ...(config.tokenFilePath ? { tokenFilePath: config.tokenFilePath } : {}),
      });
    case 'developer':
      return new identity.DefaultAzureCredential({
        ...authority,
        ...optionalTenant(config.tenantId),
      });
  }
}
