import type { Agent } from 'node:http';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import type { Clock } from '../core/clock.js';
import { requireBesidePeer } from '../core/peer.js';
import { findProxyTunnelError, type ProxyTunnelError } from '../core/proxy-tunnel.js';
import { type ResponseBodyStream, ResponseTooLargeError, readBoundedBody } from '../core/response-limit.js';
import type { AzureCredentialSettings, AzureKeyVaultSettings } from './azure-key-vault-options.js';

/** What this library uses of a core-rest-pipeline response. */
interface PipelineResponse {
  status: number;
  headers: { get(name: string): string | undefined };
  bodyAsText?: string | null;
  readableStreamBody?: unknown;
}
/** What this library uses of a core-rest-pipeline request. */
interface PipelineRequest {
  url?: string;
  agent?: Agent | undefined;
  streamResponseStatusCodes?: Set<number> | undefined;
}

/**
 * The agent a token request goes out on: an agent (our CONNECT tunnel), `null` for a direct connection (the
 * client's own agent), or undefined to leave the pipeline's choice.
 */
export type IdentityAgentRoute = (url: URL) => Agent | null | undefined;

/** core-rest-pipeline reads `Infinity` in streamResponseStatusCodes as every status. */
const STREAM_EVERY_STATUS = new Set([Number.POSITIVE_INFINITY]);

/**
 * Sends `request` through `next` asking for the body as a stream whatever the status, then reads the stream
 * through the core bound into `bodyAsText` (what the SDK would have read whole and unbounded). The caller's
 * own streaming wish is restored before anything else looks at the response; a caller that asked for a
 * stream gets it untouched.
 */
async function sendBounded(
  request: PipelineRequest,
  next: (request: PipelineRequest) => Promise<PipelineResponse>,
  limit: number,
): Promise<PipelineResponse> {
  const wanted = request.streamResponseStatusCodes;
  request.streamResponseStatusCodes = STREAM_EVERY_STATUS;
  let response: PipelineResponse;
  try {
    response = await next(request);
  } finally {
    request.streamResponseStatusCodes = wanted;
  }
  const body = response.readableStreamBody as ResponseBodyStream | undefined;
  if (!body || wanted?.has(Number.POSITIVE_INFINITY) || wanted?.has(response.status)) return response;
  const bytes = await readBoundedBody(body, limit, response.headers.get('content-length'));
  response.readableStreamBody = undefined;
  response.bodyAsText = bytes.toString('utf8');
  return response;
}

/**
 * The SDK's HTTP client reads every body whole and unbounded; this pipeline policy reads it through the
 * core bound instead (see {@link sendBounded}), so an oversize answer is `SizeLimitExceeded` with its
 * connection dropped. For the Key Vault client.
 *
 * @example
 * ```ts
 * const policy = responseBodyBoundPolicy(responseBodyLimit(64 * 1024));
 * new SecretClient(url, credential, { additionalPolicies: [{ policy, position: 'perRetry' }] });
 * ```
 *
 * @internal
 */
export function responseBodyBoundPolicy(limit: number) {
  return {
    name: 'nebulaCredentialResponseBound',
    sendRequest: (request: PipelineRequest, next: (request: PipelineRequest) => Promise<PipelineResponse>) =>
      sendBounded(request, next, limit),
  } as never;
}

/**
 * The HTTP client of the `@azure/identity` credentials this library builds: the pipeline's default client,
 * reading every token response through the core bound. An `httpClient` rather than a policy because
 * ManagedIdentityCredential replaces `additionalPolicies` with its own. MSAL turns any failure of its network
 * client into a bare `network_error` (the cause is dropped), so the last cut is kept here for
 * {@link AzureTokenCache} to report.
 *
 * @example
 * ```ts
 * const http = BoundedIdentityHttpClient.create(responseBodyLimit(64 * 1024));
 * new ManagedIdentityCredential({ httpClient: http });
 * ```
 *
 * @internal
 */
export class BoundedIdentityHttpClient {
  /** The bound, in bytes. */
  readonly limit: number;
  readonly #inner: { sendRequest(request: PipelineRequest): Promise<PipelineResponse> };
  readonly #route: IdentityAgentRoute | undefined;
  #cut: ResponseTooLargeError | undefined;
  #tunnelFailure: ProxyTunnelError | undefined;

  constructor(
    inner: { sendRequest(request: PipelineRequest): Promise<PipelineResponse> },
    limit: number,
    route?: IdentityAgentRoute,
  ) {
    this.#inner = inner;
    this.limit = limit;
    this.#route = route;
  }

  /**
   * Wraps core-rest-pipeline's default client: the copy `@azure/identity` itself depends on, found from where
   * it is installed (it is not a dependency of this library).
   */
  static create(limit: number, route?: IdentityAgentRoute): BoundedIdentityHttpClient {
    const pipeline = requireBesidePeer<{
      createDefaultHttpClient(): { sendRequest(request: PipelineRequest): Promise<PipelineResponse> };
    }>('@azure/identity', '@azure/core-rest-pipeline');
    return new BoundedIdentityHttpClient(pipeline.createDefaultHttpClient(), limit, route);
  }

  async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
    // The pipeline's proxyPolicy has already put https-proxy-agent (an unbounded CONNECT head) on the
    // request; the route replaces it with the bounded tunnel, or with a direct connection.
    const agent = request.url === undefined ? undefined : this.#route?.(new URL(request.url));
    if (agent !== undefined) request.agent = agent ?? undefined;
    try {
      return await sendBounded(request, (r) => this.#inner.sendRequest(r), this.limit);
    } catch (error) {
      if (error instanceof ResponseTooLargeError) this.#cut = error;
      this.#tunnelFailure = findProxyTunnelError(error) ?? this.#tunnelFailure;
      throw error;
    }
  }

  /** The proxy tunnel failure since the last call, if any (MSAL drops it), forgotten once taken. */
  takeTunnelFailure(): ProxyTunnelError | undefined {
    const failure = this.#tunnelFailure;
    this.#tunnelFailure = undefined;
    return failure;
  }

  /** The cut since the last call, if any, forgotten once taken. */
  takeCut(): ResponseTooLargeError | undefined {
    const cut = this.#cut;
    this.#cut = undefined;
    return cut;
  }
}

/**
 * A token request whose answer passed the response bound; {@link mapAzureError} makes it `Unavailable`.
 * @internal
 */
export class TokenResponseTooLargeError extends Error {
  override readonly name = 'TokenResponseTooLargeError';
  /** The bound, in bytes. */
  readonly limitBytes: number;
  /** Bytes announced (Content-Length) or read when the answer was cut. */
  readonly size: number;

  constructor(cut: ResponseTooLargeError) {
    super(`the token endpoint answered with ${cut.message}`, { cause: cut });
    this.limitBytes = cut.limit;
    this.size = cut.size;
  }
}

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
 * The SDK's own token cycler keeps a token until its (wall-clock) expiry and would refresh it in the middle
 * of a request. This cache, which judges freshness by the provider's clock, stays the one authority: it
 * replaces tokens ahead of the cycler's window, and every replacement (or a clear after a 401) bumps
 * `generation`, for which the provider makes a new client whose cycler asks the cache again.
 *
 * @example
 * ```ts
 * import { ManagedIdentityCredential } from '@azure/identity';
 * import { systemClock } from 'nebula-credential';
 * const tokens = new AzureTokenCache(new ManagedIdentityCredential(), systemClock);
 * await tokens.refreshDue(AbortSignal.timeout(2000)); // before each operation
 * ```
 *
 * @internal
 */
export class AzureTokenCache implements TokenCredential {
  /** Tokens fetched from the underlying credential so far. */
  fetched = 0;
  /** Bumped whenever a token handed out may be stale: one was replaced, or the cache was cleared. */
  generation = 0;
  readonly #inner: TokenCredential;
  readonly #clock: Clock;
  readonly #entries = new Map<string, CacheEntry>();
  readonly #pending = new Map<string, Promise<AccessToken>>();
  readonly #http: BoundedIdentityHttpClient | undefined;

  /** `http`: the bounded client the credential sends its token requests with, whose cuts are reported. */
  constructor(inner: TokenCredential, clock: Clock, http?: BoundedIdentityHttpClient) {
    this.#inner = inner;
    this.#clock = clock;
    this.#http = http;
  }

  async getToken(scopes: string | string[], options: GetTokenOptions = {}): Promise<AccessToken> {
    const list = Array.isArray(scopes) ? scopes : [scopes];
    const key = cacheKey(list, options);
    const entry = this.#entries.get(key);
    const token =
      entry && !options.claims && this.#isFresh(entry) ? entry.token : await this.#fetch(key, list, options);
    // The SDK's cycler may keep this until its expiry: a replaced or dropped token bumps `generation`, and
    // the provider then makes a new client, whose cycler asks here again.
    return token.tokenType ? token : { ...token, tokenType: 'Bearer' };
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
    if (this.#entries.size > 0) this.generation++;
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
    this.#http?.takeCut();
    this.#http?.takeTunnelFailure();
    const promise = this.#inner
      .getToken(scopes, options)
      .catch((error: unknown) => {
        const cut = this.#http?.takeCut();
        throw cut ? new TokenResponseTooLargeError(cut) : (this.#http?.takeTunnelFailure() ?? error);
      })
      .then((token) => {
        if (!token)
          throw Object.assign(new Error('the credential returned no token'), {
            name: 'CredentialUnavailableError',
          });
        this.fetched++;
        if (this.#entries.has(key)) this.generation++;
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
 *
 * @internal
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
