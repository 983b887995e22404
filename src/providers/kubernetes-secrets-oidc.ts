// A kubeconfig user's `auth-provider: oidc`, served by this library as client-go's oidc plugin serves it:
// the `id-token` is the bearer while its JWT `exp` is more than 10 s ahead (never verified: the API server
// does that), then the `refresh-token` buys a new one from the token endpoint that the issuer's discovery
// document names (golang.org/x/oauth2's refresh grant). Every request is bounded (1 MiB, as oauth2 reads
// token answers), under the connect deadline, through the core CONNECT tunnel when HTTPS_PROXY names one.
// Refreshed tokens stay in memory: client-go writes them back into the kubeconfig; this library never
// writes a user's kubeconfig.

import type { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { requestBounded } from '../core/bounded-request.js';
import type { Clock } from '../core/clock.js';
import { StorageError } from '../core/errors.js';
import { FILE_SIZE_LIMITS, readBoundedFile, readDeadline } from '../core/files.js';
import type { Logger } from '../core/logger.js';
import { proxyTunnelRoutes } from '../core/proxy-route.js';
import { credentialEndpointCutError } from '../core/response-limit.js';
import { SecretString } from '../core/secret-string.js';
import { transportError } from '../core/transport.js';
import { assertSecureEndpoint, describeEndpoint } from '../core/transport-security.js';
import { KubeCredential, RefreshingKubeCredentialSource } from './kubernetes-secrets-credential.js';
import { KUBERNETES as PROVIDER } from './kubernetes-secrets-options.js';

/**
 * The bound of every answer of an oidc auth provider's issuer (discovery and token requests): what
 * golang.org/x/oauth2 reads of a token answer. A larger one fails with `Unavailable` and `details.limitBytes`.
 *
 * @example
 * ```ts
 * import { OIDC_RESPONSE_LIMIT } from 'nebula-credential/kubernetes';
 * console.log(OIDC_RESPONSE_LIMIT); // 1048576
 * ```
 */
export const OIDC_RESPONSE_LIMIT = 1024 * 1024;
/** client-go's expiryDelta: a token this close to its `exp` counts as expired (clock skew). */
const EXPIRY_MARGIN_MS = 10_000;

/** A user's `auth-provider.config` of name `oidc`, validated as client-go validates it. @internal */
export interface OidcProviderConfig {
  user: string;
  issuer: string;
  clientId: string;
  clientSecret: SecretString | undefined;
  idToken: string | undefined;
  refreshToken: SecretString | undefined;
  /** `idp-certificate-authority-data`, or the content of `idp-certificate-authority`; default: Node's roots. */
  ca: Buffer | undefined;
}

function invalid(message: string): StorageError {
  return new StorageError({ code: 'InvalidConfig', message, provider: PROVIDER, operation: 'connect' });
}

/**
 * Reads a user's oidc configuration: `idp-issuer-url` and `client-id` are required (client-go's "Must
 * provide"), the CA file is read bounded under `signal` (a path relative to the working directory, as
 * client-go leaves it: auth-provider settings are not resolved against the kubeconfig's folder).
 * `extra-scopes` is accepted and unused, as in client-go (refresh requests send no scopes).
 * @internal
 */
export async function loadOidcConfig(
  raw: Record<string, unknown> | undefined,
  user: string,
  signal?: AbortSignal,
): Promise<OidcProviderConfig> {
  const text = (key: string) => {
    const value = raw?.[key];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const where = `the oidc auth-provider of user "${user}" in the kubeconfig`;
  const issuer = text('idp-issuer-url');
  if (issuer === undefined) throw invalid(`${where} must provide idp-issuer-url`);
  const clientId = text('client-id');
  if (clientId === undefined) throw invalid(`${where} must provide client-id`);
  let ca: Buffer | undefined;
  const caData = text('idp-certificate-authority-data');
  const caFile = text('idp-certificate-authority');
  if (caData !== undefined) {
    ca = Buffer.from(caData, 'base64');
    if (!/^[A-Za-z0-9+/=\s]+$/.test(caData) || ca.length === 0) {
      throw invalid(`the idp-certificate-authority-data of ${where} is not base64`);
    }
  } else if (caFile !== undefined) {
    ca = await readBoundedFile(caFile, {
      maxBytes: FILE_SIZE_LIMITS.caBundle,
      what: `the idp-certificate-authority of ${where}`,
      provider: PROVIDER,
      operation: 'connect',
      signal,
    });
  }
  const secret = (key: string) => {
    const value = text(key);
    return value === undefined ? undefined : new SecretString(value);
  };
  return {
    user,
    issuer,
    clientId,
    clientSecret: secret('client-secret'),
    idToken: text('id-token'),
    refreshToken: secret('refresh-token'),
    ca,
  };
}

/**
 * The `exp` of a JWT in ms since the epoch, from its payload as client-go reads it (no signature check);
 * 0 without one (client-go's zero time: expired). Undefined for something that is not a JWT.
 * @internal
 */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { exp?: unknown };
    if (typeof claims !== 'object' || claims === null) return undefined;
    return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? Math.trunc(claims.exp) * 1000 : 0;
  } catch {
    return undefined;
  }
}

/** What an {@link OidcCredentialSource} needs besides the configuration. @internal */
export interface OidcSourceOptions {
  /** The deadline of one refresh (discovery and token requests together): the connect deadline. */
  timeoutMs: number;
  clock: Clock;
  logger: Logger;
  /** HTTPS_PROXY / NO_PROXY come from here. */
  env: NodeJS.ProcessEnv;
  /** `dangerouslyAllowInsecureHttp`: an http issuer on a host that is not loopback. */
  allowInsecureHttp: boolean;
}

/** How the client authenticates at the token endpoint (oauth2's AuthStyleInHeader, then AuthStyleInParams). */
type ClientAuthStyle = 'header' | 'params';

/** One IdP answer, parsed: status, and the fields of its JSON (or form) body. */
interface IdpAnswer {
  status: number;
  fields: Record<string, unknown> | undefined;
}

/**
 * The id-token of a kubeconfig user's oidc auth provider, kept as client-go keeps it (see the module
 * comment) and, beyond client-go, refreshed once more after a 401 from the API server (concurrent 401s
 * share one refresh).
 *
 * @example
 * ```ts
 * // Built by the Kubernetes provider for a kubeconfig user with
 * //   auth-provider: { name: oidc, config: { idp-issuer-url: https://dex.example, client-id: kubectl,
 * //     id-token: eyJ..., refresh-token: ChlV... } }
 * const credential = await source.current(attempt.signal);
 * const header = `Bearer ${credential.token}`;
 * ```
 */
export class OidcCredentialSource extends RefreshingKubeCredentialSource {
  readonly kind = 'kubeconfig-oidc';
  /** The issuer, for health and messages. */
  readonly issuer: string;
  /** Refresh grants completed so far. */
  refreshes = 0;
  readonly #config: OidcProviderConfig;
  readonly #options: OidcSourceOptions;
  readonly #direct: HttpsAgent;
  readonly #tunnels: ReturnType<typeof proxyTunnelRoutes>;
  #refreshToken: SecretString | undefined;
  #authStyle: ClientAuthStyle | undefined;

  /** @internal */
  constructor(config: OidcProviderConfig, options: OidcSourceOptions) {
    super(options.clock, OidcCredentialSource.#initial(config));
    this.#config = config;
    this.#options = options;
    this.issuer = config.issuer;
    this.#refreshToken = config.refreshToken;
    const ca = config.ca?.toString('utf8');
    this.#direct = new HttpsAgent({ keepAlive: true, ...(ca ? { ca } : {}) });
    this.#tunnels = proxyTunnelRoutes({
      provider: PROVIDER,
      timeoutMs: options.timeoutMs,
      ca,
      env: options.env,
    });
  }

  static #initial(config: OidcProviderConfig): KubeCredential | undefined {
    if (config.idToken === undefined) return undefined;
    const expiresAt = jwtExpiry(config.idToken);
    // client-go fails every request with such a token, refresh-token or not.
    if (expiresAt === undefined) {
      throw invalid(`the id-token of the oidc auth-provider of user "${config.user}" is not a valid JWT`);
    }
    return new KubeCredential(config.idToken, undefined, expiresAt);
  }

  override get renewable(): boolean {
    return this.#refreshToken !== undefined;
  }

  healthFacts(): Record<string, unknown> {
    return { issuer: this.issuer };
  }

  override dispose(): void {
    super.dispose();
    this.#refreshToken?.dispose();
    this.#config.clientSecret?.dispose();
    this.#direct.destroy();
    this.#tunnels.destroy();
  }

  protected override usable(credential: KubeCredential, now: number): boolean {
    return credential.expiresAt !== undefined && now + EXPIRY_MARGIN_MS < credential.expiresAt;
  }

  protected async obtain(closed: AbortSignal): Promise<KubeCredential> {
    const refreshToken = this.#refreshToken;
    const who = `user "${this.#config.user}"`;
    if (refreshToken === undefined) {
      throw new StorageError({
        code: 'AuthenticationFailed',
        message: `the id-token of ${who} in the kubeconfig has expired and there is no refresh-token to renew it: log in again to the OIDC issuer (e.g. kubectl oidc-login) to update the kubeconfig`,
        provider: PROVIDER,
        operation: 'connect',
        retryable: false,
      });
    }
    const deadline = readDeadline(
      this.#options.timeoutMs,
      `refreshing the id-token of ${who} at ${describeEndpoint(this.issuer)}`,
      closed,
    );
    const started = Date.now();
    try {
      const tokenUrl = await this.#tokenEndpoint(deadline.signal);
      const answer = await this.#refreshGrant(tokenUrl, refreshToken.expose(), deadline.signal);
      const idToken = answer['id_token'];
      if (typeof idToken !== 'string' || idToken === '') {
        throw this.#refused(
          'answered the refresh without an id_token: the scope "openid" was not requested at login, or the issuer does not return id tokens on refresh',
        );
      }
      const expiresAt = jwtExpiry(idToken);
      if (expiresAt === undefined) throw this.#refused('answered with an id_token that is not a JWT');
      const rotated = answer['refresh_token'];
      if (typeof rotated === 'string' && rotated !== '' && rotated !== refreshToken.expose()) {
        this.#refreshToken = new SecretString(rotated);
        refreshToken.dispose();
      }
      this.refreshes++;
      this.#options.logger.debug(
        {
          provider: PROVIDER,
          user: this.#config.user,
          issuer: describeEndpoint(this.issuer),
          durationMs: Date.now() - started,
          expiresAt: new Date(expiresAt).toISOString(),
          refreshTokenRotated: this.#refreshToken !== refreshToken,
        },
        'oidc id-token refreshed',
      );
      return new KubeCredential(idToken, undefined, expiresAt);
    } finally {
      deadline.clear();
    }
  }

  /** OIDC discovery: the token endpoint of `<issuer>/.well-known/openid-configuration`, as client-go asks it each time. */
  async #tokenEndpoint(signal: AbortSignal): Promise<URL> {
    const issuer = assertSecureEndpoint(this.issuer, {
      provider: PROVIDER,
      source: `the idp-issuer-url of user "${this.#config.user}"`,
      allowInsecureHttp: this.#options.allowInsecureHttp,
    });
    const url = new URL(`${issuer.href.replace(/\/+$/, '')}/.well-known/openid-configuration`);
    const { status, fields } = await this.#send(
      url,
      { method: 'GET', headers: { accept: 'application/json' } },
      signal,
    );
    if (status !== 200) {
      throw new StorageError({
        code: status === 404 ? 'InvalidConfig' : 'Unavailable',
        message: `the OIDC issuer ${describeEndpoint(this.issuer)} answered its discovery document with HTTP ${status}${status === 404 ? `: check the idp-issuer-url of user "${this.#config.user}"` : ''}`,
        provider: PROVIDER,
        operation: 'connect',
        retryable: status >= 500 || status === 429,
        details: { status, source: 'oidc-discovery' },
      });
    }
    const endpoint = fields?.['token_endpoint'];
    if (typeof endpoint !== 'string' || endpoint === '') {
      throw this.#refused('has a discovery document without a token_endpoint');
    }
    return assertSecureEndpoint(endpoint, {
      provider: PROVIDER,
      source: `the token_endpoint that the OIDC issuer of user "${this.#config.user}" announces`,
      allowInsecureHttp: this.#options.allowInsecureHttp,
    });
  }

  /**
   * The refresh_token grant (RFC 6749 §6) as golang.org/x/oauth2 sends it: the client id and secret as HTTP
   * Basic first, and after an OAuth error (400 or 401) once more as form parameters; the style that worked is
   * kept for the next refresh.
   */
  async #refreshGrant(url: URL, refreshToken: string, signal: AbortSignal): Promise<Record<string, unknown>> {
    const styles: ClientAuthStyle[] = this.#authStyle ? [this.#authStyle] : ['header', 'params'];
    let answer: IdpAnswer | undefined;
    for (const style of styles) {
      answer = await this.#send(url, this.#grantRequest(style, refreshToken), signal);
      if (answer.status >= 200 && answer.status < 300) {
        this.#authStyle = style;
        return answer.fields ?? {};
      }
      if (answer.status !== 400 && answer.status !== 401) break;
    }
    throw this.#grantError(answer!);
  }

  #grantRequest(style: ClientAuthStyle, refreshToken: string) {
    const { clientId, clientSecret } = this.#config;
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (style === 'params') {
      form.set('client_id', clientId);
      if (clientSecret) form.set('client_secret', clientSecret.expose());
    } else {
      // RFC 6749 §2.3.1: each part form-encoded before the Basic encoding, as oauth2 does.
      const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
      const pair = `${encode(clientId)}:${encode(clientSecret?.expose() ?? '')}`;
      headers['authorization'] = `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
    }
    return { method: 'POST', headers, body: form.toString() };
  }

  /** An OAuth error answer (RFC 6749 §5.2) as a StorageError, from its status and `error` field. */
  #grantError({ status, fields }: IdpAnswer): StorageError {
    const error = typeof fields?.['error'] === 'string' ? (fields['error'] as string) : undefined;
    // The error code is a fixed vocabulary; anything else (a description, an HTML page) is left out.
    const shown = error && /^[\w.-]{1,64}$/.test(error) ? error : undefined;
    const refused = status === 400 || status === 401 || status === 403;
    const hint =
      shown === 'invalid_grant'
        ? ': the refresh-token is expired or revoked; log in again to the OIDC issuer to update the kubeconfig'
        : shown === 'invalid_client' || shown === 'unauthorized_client'
          ? `: check the client-id and client-secret of user "${this.#config.user}"`
          : '';
    return new StorageError({
      code: refused ? 'AuthenticationFailed' : 'Unavailable',
      message: `the OIDC issuer ${describeEndpoint(this.issuer)} refused to refresh the id-token of user "${this.#config.user}" (HTTP ${status}${shown ? ` ${shown}` : ''})${hint}`,
      provider: PROVIDER,
      operation: 'connect',
      retryable: !refused && (status >= 500 || status === 429),
      details: { status, source: 'oidc-token', ...(shown ? { backendCode: shown } : {}) },
    });
  }

  #refused(problem: string): StorageError {
    return new StorageError({
      code: 'AuthenticationFailed',
      message: `the OIDC issuer ${describeEndpoint(this.issuer)} of user "${this.#config.user}" ${problem}`,
      provider: PROVIDER,
      operation: 'connect',
      retryable: false,
    });
  }

  /** One bounded request to the IdP, its failures mapped; the body parsed as JSON (or a form, as oauth2 reads one). */
  async #send(
    url: URL,
    init: { method: string; headers: Record<string, string>; body?: string },
    signal: AbortSignal,
  ): Promise<IdpAnswer> {
    const agent: Agent | undefined =
      url.protocol === 'https:' ? (this.#tunnels.route(url) ?? this.#direct) : undefined;
    let answer: Awaited<ReturnType<typeof requestBounded>>;
    try {
      answer = await requestBounded(url, { ...init, agent, signal }, OIDC_RESPONSE_LIMIT);
    } catch (error) {
      throw this.#transportFailure(error, signal);
    }
    const type = String(answer.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    const text = answer.body.toString('utf8');
    answer.body.fill(0);
    let fields: Record<string, unknown> | undefined;
    if (type === 'application/x-www-form-urlencoded' || type === 'text/plain') {
      fields = Object.fromEntries(new URLSearchParams(text));
    } else {
      try {
        const parsed: unknown = JSON.parse(text);
        fields =
          typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
      } catch {
        fields = undefined;
      }
    }
    return { status: answer.status, fields };
  }

  #transportFailure(error: unknown, signal: AbortSignal): StorageError {
    const source = `the OIDC issuer ${describeEndpoint(this.issuer)}`;
    const cut = credentialEndpointCutError(error, { provider: PROVIDER, source });
    if (cut) return cut;
    if (signal.aborted && signal.reason instanceof StorageError) {
      return signal.reason.code === 'Timeout'
        ? new StorageError({
            code: 'Timeout',
            message: signal.reason.message,
            provider: PROVIDER,
            operation: 'connect',
            retryable: false,
            details: { ...signal.reason.details, source: 'oidc' },
          })
        : signal.reason;
    }
    return (
      transportError(error, {
        provider: PROVIDER,
        operation: 'connect',
        service: source,
        endpointSource: `the idp-issuer-url of user "${this.#config.user}"`,
        trustHint: `set idp-certificate-authority (a PEM file) or idp-certificate-authority-data of user "${this.#config.user}"`,
      }) ??
      new StorageError({
        code: 'Unavailable',
        message: `cannot reach ${source} to refresh the id-token of user "${this.#config.user}"`,
        provider: PROVIDER,
        operation: 'connect',
        retryable: true,
        cause: error,
      })
    );
  }
}
