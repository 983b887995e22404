import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Clock } from '../../core/clock.js';
import { type RecordedRequest, sendJson } from '../emulator-kit/server.js';

/** A principal the emulated Entra tenant knows: an app registration or a managed identity.
 *
 * @example
 * ```ts
 * const principal: AzureEmulatorPrincipal = emulator.directory.systemIdentity;
 * ```
 */
export interface AzureEmulatorPrincipal {
  /** Application (client) id, the `appid` claim; role assignments are keyed by it. */
  clientId: string;
  /** Object id, the `oid` claim. */
  objectId: string;
  kind: 'service-principal' | 'system-assigned' | 'user-assigned';
}

/** Claims of an access token the emulator issued.
 *
 * @example
 * ```ts
 * const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as AzureTokenClaims;
 * ```
 */
export interface AzureTokenClaims {
  aud: string;
  iss: string;
  tid: string;
  appid: string;
  oid: string;
  sub: string;
  iat: number;
  nbf: number;
  exp: number;
}

/** Why a bearer token was refused.
 *
 * @example
 * ```ts
 * const verdict = emulator.tokens.verify(token, 'https://vault.azure.net'); // { ok: false, reason: 'expired' }
 * ```
 */
export type TokenRejection = 'malformed' | 'signature' | 'expired' | 'audience' | 'tenant';

const b64url = (value: Buffer | string) => Buffer.from(value).toString('base64url');

/**
 * Issues and checks the emulator's access tokens: JWT-shaped (HS256 with a per-emulator key) so clients
 * that peek at claims see the usual `aud`, `tid`, `appid`, `oid`, `exp`; expiry follows the emulator clock.
 *
 * @example
 * ```ts
 * const { token } = emulator.tokens.issue(emulator.directory.app, 'https://vault.azure.net');
 * emulator.tokens.lifetimeSeconds = 60; // later tokens expire after a minute of emulator time
 * ```
 */
export class AzureTokenAuthority {
  readonly tenantId: string;
  /** Token lifetime in seconds; tests shorten it to exercise refresh. */
  lifetimeSeconds: number;
  /** Tokens issued so far, by every endpoint. */
  issued = 0;
  readonly #clock: Clock;
  readonly #key = randomBytes(32);

  constructor(clock: Clock, tenantId: string, lifetimeSeconds: number) {
    this.#clock = clock;
    this.tenantId = tenantId;
    this.lifetimeSeconds = lifetimeSeconds;
  }

  issue(principal: AzureEmulatorPrincipal, resource: string): { token: string; iat: number; exp: number } {
    const iat = Math.floor(this.#clock.now() / 1000);
    const exp = iat + this.lifetimeSeconds;
    const claims: AzureTokenClaims = {
      aud: resource,
      iss: `https://sts.windows.net/${this.tenantId}/`,
      tid: this.tenantId,
      appid: principal.clientId,
      oid: principal.objectId,
      sub: principal.objectId,
      iat,
      nbf: iat,
      exp,
    };
    const head = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
    const signature = createHmac('sha256', this.#key).update(head).digest('base64url');
    this.issued++;
    return { token: `${head}.${signature}`, iat, exp };
  }

  verify(
    token: string,
    audience: string,
  ): { ok: true; claims: AzureTokenClaims } | { ok: false; reason: TokenRejection } {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'malformed' };
    const expected = createHmac('sha256', this.#key).update(`${parts[0]}.${parts[1]}`).digest();
    const given = Buffer.from(parts[2]!, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, reason: 'signature' };
    }
    let claims: AzureTokenClaims;
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as AzureTokenClaims;
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    if (claims.exp * 1000 <= this.#clock.now()) return { ok: false, reason: 'expired' };
    if (claims.aud.replace(/\/$/, '') !== audience) return { ok: false, reason: 'audience' };
    if (claims.tid !== this.tenantId) return { ok: false, reason: 'tenant' };
    return { ok: true, claims };
  }
}

/** The managed identities and app registrations of the emulated tenant.
 *
 * @example
 * ```ts
 * const clientId = emulator.directory.addUserAssignedIdentity().clientId;
 * ```
 */
export class AzureIdentityDirectory {
  /** The service principal used with a client secret, a certificate or a federated (workload) token. */
  readonly app: AzureEmulatorPrincipal = {
    clientId: randomUUID(),
    objectId: randomUUID(),
    kind: 'service-principal',
  };
  /** Its client secret. */
  clientSecret = `emu~${randomBytes(24).toString('base64url')}`;
  /** The federated token accepted as `client_assertion` for {@link app} (workload identity). */
  federatedToken = `emu-federated.${randomBytes(24).toString('base64url')}`;
  /** The system-assigned identity of the emulated host. */
  readonly systemIdentity: AzureEmulatorPrincipal = {
    clientId: randomUUID(),
    objectId: randomUUID(),
    kind: 'system-assigned',
  };
  /** The secret App Service puts in `IDENTITY_HEADER`. */
  readonly identityHeader = randomBytes(16).toString('hex');
  readonly userIdentities = new Map<string, AzureEmulatorPrincipal>();

  /** Adds a user-assigned identity and returns it. */
  addUserAssignedIdentity(clientId: string = randomUUID()): AzureEmulatorPrincipal {
    const identity: AzureEmulatorPrincipal = { clientId, objectId: randomUUID(), kind: 'user-assigned' };
    this.userIdentities.set(clientId, identity);
    return identity;
  }

  /** The managed identity a token request selects: none given means the system-assigned one. */
  managedIdentity(query: URLSearchParams): AzureEmulatorPrincipal | undefined {
    const clientId = query.get('client_id');
    const objectId = query.get('object_id') ?? query.get('principal_id');
    if (clientId) return this.userIdentities.get(clientId);
    if (objectId) return [...this.userIdentities.values()].find((i) => i.objectId === objectId);
    if (query.get('mi_res_id') || query.get('msi_res_id')) return undefined;
    return this.systemIdentity;
  }
}

const scopeToResource = (scope: string) => scope.replace(/\/\.default$/, '');

/**
 * The managed identity endpoints (plain http, as on Azure hosts): App Service's `IDENTITY_ENDPOINT`
 * (`/msi/token`, header `X-IDENTITY-HEADER`, api-version 2019-08-01) and IMDS
 * (`/metadata/identity/oauth2/token`, header `Metadata: true`, api-version 2018-02-01).
 *
 * @example
 * ```ts
 * const server = new EmulatorHttpServer({}, (req, res) => handleManagedIdentityRequest(req, res, directory, authority));
 * ```
 */
export function handleManagedIdentityRequest(
  request: RecordedRequest,
  res: ServerResponse,
  directory: AzureIdentityDirectory,
  authority: AzureTokenAuthority,
): void {
  const q = request.query;
  const resource = q.get('resource');
  if (request.method !== 'GET') {
    sendJson(res, 405, { error: 'invalid_request', error_description: 'Only GET is supported' });
    return;
  }
  if (request.path === '/msi/token' || request.path === '/msi/token/') {
    if (request.headers['x-identity-header'] !== directory.identityHeader) {
      sendJson(res, 401, { statusCode: 401, message: 'Unauthorized: X-IDENTITY-HEADER is missing or wrong' });
      return;
    }
    if (!q.get('api-version') || !resource) {
      sendJson(res, 400, { statusCode: 400, message: 'api-version and resource are required' });
      return;
    }
    const identity = directory.managedIdentity(q);
    if (!identity) {
      sendJson(res, 400, {
        statusCode: 400,
        message: 'No managed identity found for specified ClientId/ResourceId/PrincipalId.',
      });
      return;
    }
    const t = authority.issue(identity, scopeToResource(resource));
    sendJson(res, 200, {
      access_token: t.token,
      expires_on: String(t.exp),
      resource,
      token_type: 'Bearer',
      client_id: identity.clientId,
    });
    return;
  }
  if (request.path.replace(/\/$/, '') === '/metadata/identity/oauth2/token') {
    if (request.headers['metadata'] !== 'true') {
      sendJson(res, 400, {
        error: 'invalid_request',
        error_description: 'Required metadata header not specified',
      });
      return;
    }
    if (!q.get('api-version') || !resource) {
      sendJson(res, 400, { error: 'invalid_request', error_description: 'resource is required' });
      return;
    }
    const identity = directory.managedIdentity(q);
    if (!identity) {
      sendJson(res, 400, { error: 'invalid_request', error_description: 'Identity not found' });
      return;
    }
    const t = authority.issue(identity, scopeToResource(resource));
    sendJson(res, 200, {
      access_token: t.token,
      client_id: identity.clientId,
      expires_in: String(t.exp - t.iat),
      expires_on: String(t.exp),
      ext_expires_in: String(t.exp - t.iat),
      not_before: String(t.iat),
      resource,
      token_type: 'Bearer',
    });
    return;
  }
  sendJson(res, 404, { error: 'not_found', error_description: `no identity endpoint at ${request.path}` });
}

function aadError(res: ServerResponse, status: number, error: string, code: number, description: string) {
  sendJson(res, status, {
    error,
    error_description: `AADSTS${code}: ${description}`,
    error_codes: [code],
    timestamp: new Date().toISOString().replace('T', ' ').slice(0, 19) + 'Z',
    trace_id: randomUUID(),
    correlation_id: randomUUID(),
  });
}

/**
 * Microsoft Entra endpoints for the client-credentials flow, served on the emulator's https origin (the
 * `authorityHost`): `/{tenant}/v2.0/.well-known/openid-configuration` and `/{tenant}/oauth2/v2.0/token`
 * with a client secret, or a `client_assertion` (the federated token of workload identity). Returns false
 * when the path is not an Entra path.
 *
 * @example
 * ```ts
 * const server = new EmulatorHttpServer({ tls: true }, (req, res) => {
 *   if (!handleEntraRequest(req, res, server.url, directory, authority)) res.end();
 * });
 * ```
 */
export function handleEntraRequest(
  request: RecordedRequest,
  res: ServerResponse,
  origin: string,
  directory: AzureIdentityDirectory,
  authority: AzureTokenAuthority,
): boolean {
  const discovery = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(request.path);
  const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(request.path);
  if (!discovery && !token) return false;
  const tenant = decodeURIComponent((discovery ?? token)![1]!);
  if (tenant !== authority.tenantId && tenant !== 'organizations') {
    aadError(res, 400, 'invalid_tenant', 90002, `Tenant '${tenant}' not found.`);
    return true;
  }
  if (discovery) {
    const base = `${origin}/${tenant}`;
    sendJson(res, 200, {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${origin}/${authority.tenantId}/v2.0`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
    });
    return true;
  }
  if (request.method !== 'POST') {
    aadError(res, 405, 'invalid_request', 900561, 'The endpoint only accepts POST requests.');
    return true;
  }
  const form = new URLSearchParams(request.body.toString('utf8'));
  if (form.get('grant_type') !== 'client_credentials') {
    aadError(res, 400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    return true;
  }
  const scope = form.get('scope') ?? '';
  const resourceScope = scope.split(' ').find((s) => s.endsWith('/.default'));
  if (!resourceScope) {
    aadError(res, 400, 'invalid_scope', 1002012, `The provided value for scope ${scope} is not valid.`);
    return true;
  }
  if (form.get('client_id') !== directory.app.clientId) {
    aadError(res, 400, 'unauthorized_client', 700016, 'Application not found in the directory.');
    return true;
  }
  const secret = form.get('client_secret');
  const assertion = form.get('client_assertion');
  const valid =
    (secret !== null && secret === directory.clientSecret) ||
    (assertion !== null && assertion === directory.federatedToken);
  if (!valid) {
    aadError(
      res,
      401,
      'invalid_client',
      7000215,
      secret !== null ? 'Invalid client secret provided.' : 'Client assertion is not valid.',
    );
    return true;
  }
  const t = authority.issue(directory.app, scopeToResource(resourceScope));
  sendJson(res, 200, {
    token_type: 'Bearer',
    expires_in: t.exp - t.iat,
    ext_expires_in: t.exp - t.iat,
    access_token: t.token,
  });
  return true;
}
