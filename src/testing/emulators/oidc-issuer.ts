// A loopback OpenID Connect issuer for the Kubernetes `auth-provider: oidc` tests: the discovery document,
// a JWKS, and a token endpoint answering refresh_token grants (RFC 6749 §6) with ES256-signed id tokens.

import { generateKeyPairSync, type KeyObject, randomBytes, sign, verify } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Clock } from '../../core/clock.js';
import { EmulatorHttpServer, type RecordedRequest, sendJson } from '../emulator-kit/server.js';
import type { TestCertificateAuthority } from '../emulator-kit/tls.js';

/** Options of {@link OidcIssuerEmulator}. */
export interface OidcIssuerOptions {
  /** The one registered client. Default `kubernetes`. */
  clientId?: string | undefined;
  /** Its secret; undefined: a public client (no secret checked). Default: a random one. */
  clientSecret?: string | null | undefined;
  /** Lifetime of the id tokens it issues. Default 3600 s. */
  idTokenLifetimeSeconds?: number | undefined;
  /** Whether a refresh answers with a new refresh token and retires the old one. Default true. */
  rotateRefreshTokens?: boolean | undefined;
  /** Share a CA (e.g. another emulator's) instead of generating one. */
  tls?: TestCertificateAuthority | undefined;
  clock?: Clock | undefined;
}

/** The claims of an id token it issues. */
export interface OidcIdTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  iat: number;
  exp: number;
}

const b64url = (value: Buffer | string) => Buffer.from(value).toString('base64url');

/**
 * An OIDC issuer on loopback https: `/.well-known/openid-configuration`, `/keys` (JWKS, one ES256 key),
 * and `/token`, which answers `refresh_token` grants of its one client (HTTP Basic or form parameters, as
 * RFC 6749 §2.3.1 allows) with a new id token (and, by default, a rotated refresh token), and refuses
 * unknown or retired refresh tokens with 400 `invalid_grant` and bad client credentials with 401
 * `invalid_client`. Faults (503, endless bodies, hangs) go through `faults`, as in every emulator.
 *
 * @example
 * ```ts
 * import { OidcIssuerEmulator } from 'nebula-credential/testing';
 * const idp = new OidcIssuerEmulator();
 * await idp.start();
 * const { idToken, refreshToken } = idp.login('alice');
 * // kubeconfig user: auth-provider { name: oidc, config: { idp-issuer-url: idp.url, client-id: idp.clientId, ... } }
 * await idp.stop();
 * ```
 */
export class OidcIssuerEmulator {
  /** The https server: recorded requests, fault queue, connections. */
  readonly server: EmulatorHttpServer;
  /** The one registered client's id (the id tokens' `aud`). */
  readonly clientId: string;
  /** Its secret; undefined for a public client. */
  readonly clientSecret: string | undefined;
  /** Id token lifetime in seconds; tests shorten it. */
  idTokenLifetimeSeconds: number;
  /** Whether a refresh answers with a new refresh token and retires the old one. */
  rotateRefreshTokens: boolean;
  readonly #keys: { privateKey: KeyObject; publicKey: KeyObject };
  readonly #kid = randomBytes(8).toString('hex');
  /** Live refresh tokens, by value: the subject they log in. */
  readonly #refreshTokens = new Map<string, string>();

  /** An issuer with its own CA and signing key; nothing listens until `start()`. */
  constructor(options: OidcIssuerOptions = {}) {
    this.server = new EmulatorHttpServer({ tls: options.tls ?? true, clock: options.clock }, (req, res) =>
      this.#route(req, res),
    );
    this.clientId = options.clientId ?? 'kubernetes';
    this.clientSecret =
      options.clientSecret === null
        ? undefined
        : (options.clientSecret ?? `secret-${randomBytes(12).toString('hex')}`);
    this.idTokenLifetimeSeconds = options.idTokenLifetimeSeconds ?? 3600;
    this.rotateRefreshTokens = options.rotateRefreshTokens ?? true;
    this.#keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  }

  /** The issuer URL (`iss`), `https://127.0.0.1:<port>`. */
  get url(): string {
    return this.server.url;
  }

  /** The CA certificate (PEM) of its https server, for `idp-certificate-authority-data`. */
  get caCertPem(): string {
    return this.server.ca!.caCertPem;
  }

  /** Path of that CA certificate, for `idp-certificate-authority`. */
  get caCertPath(): string {
    return this.server.ca!.caCertPath;
  }

  /** The key that signs its id tokens (what the API server's `--oidc-issuer-url` discovery would fetch). */
  get publicKey(): KeyObject {
    return this.#keys.publicKey;
  }

  /** The fault queue: `{ action: { kind: 'status', status: 503 } }`, endless bodies, hangs, resets. */
  get faults(): EmulatorHttpServer['faults'] {
    return this.server.faults;
  }

  /** Requests to the token endpoint so far. */
  get tokenRequests(): number {
    return this.server.count((r) => r.path === '/token');
  }

  /** Listens on a loopback port (https) and returns the URL and port. */
  async start(): Promise<{ url: string; port: number }> {
    return this.server.start();
  }

  /** Stops serving and removes the files of the CA it generated. */
  async stop(): Promise<void> {
    await this.server.stop();
  }

  /** What a browser login would give a user: an id token and a refresh token. */
  login(subject: string): { idToken: string; refreshToken: string } {
    const refreshToken = `rt-${randomBytes(18).toString('base64url')}`;
    this.#refreshTokens.set(refreshToken, subject);
    return { idToken: this.signIdToken(subject), refreshToken };
  }

  /** An id token for `subject`, signed by this issuer, expiring `expiresInSeconds` from now (emulator clock). */
  signIdToken(
    subject: string,
    expiresInSeconds = this.idTokenLifetimeSeconds,
    key = this.#keys.privateKey,
  ): string {
    const iat = Math.floor(this.server.clock.now() / 1000);
    const claims: OidcIdTokenClaims = {
      iss: this.url,
      sub: subject,
      aud: this.clientId,
      iat,
      exp: iat + expiresInSeconds,
    };
    const head = `${b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: this.#kid }))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(head), { key, dsaEncoding: 'ieee-p1363' });
    return `${head}.${b64url(signature)}`;
  }

  /** The claims of `token` when this issuer signed it, else undefined (expiry is the verifier's to check). */
  verifyIdToken(token: string): OidcIdTokenClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) return undefined;
    const ok = verify(
      'sha256',
      Buffer.from(`${parts[0]}.${parts[1]}`),
      { key: this.#keys.publicKey, dsaEncoding: 'ieee-p1363' },
      Buffer.from(parts[2]!, 'base64url'),
    );
    if (!ok) return undefined;
    try {
      return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as OidcIdTokenClaims;
    } catch {
      return undefined;
    }
  }

  /** Retires a refresh token (a logout, or an admin revoking the session): the next grant is invalid_grant. */
  revokeRefreshToken(refreshToken: string): void {
    this.#refreshTokens.delete(refreshToken);
  }

  #route(req: RecordedRequest, res: ServerResponse): void {
    if (req.method === 'GET' && req.path === '/.well-known/openid-configuration') {
      sendJson(res, 200, {
        issuer: this.url,
        token_endpoint: `${this.url}/token`,
        jwks_uri: `${this.url}/keys`,
        authorization_endpoint: `${this.url}/auth`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      });
      return;
    }
    if (req.method === 'GET' && req.path === '/keys') {
      sendJson(res, 200, {
        keys: [
          { ...this.#keys.publicKey.export({ format: 'jwk' }), kid: this.#kid, use: 'sig', alg: 'ES256' },
        ],
      });
      return;
    }
    if (req.method === 'POST' && req.path === '/token') {
      const answer = this.#token(req);
      sendJson(res, answer.status, answer.body, { 'cache-control': 'no-store', ...answer.headers });
      return;
    }
    sendJson(res, 404, { error: 'not_found' });
  }

  /** RFC 6749 §6 refresh, §5.2 errors; client authentication per §2.3.1 (one method only). */
  #token(req: RecordedRequest): { status: number; body: unknown; headers?: Record<string, string> } {
    const form = new URLSearchParams(req.body.toString('utf8'));
    const error = (status: number, code: string, headers: Record<string, string> = {}) => ({
      status,
      body: { error: code },
      headers,
    });
    const basic = /^Basic (.+)$/i.exec(String(req.headers.authorization ?? ''));
    let client: { id: string | null; secret: string | null };
    if (basic) {
      if (form.has('client_id') || form.has('client_secret')) return error(400, 'invalid_request');
      const pair = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = pair.indexOf(':');
      const decode = (value: string) => new URLSearchParams(`v=${value}`).get('v');
      client = { id: decode(pair.slice(0, colon)), secret: decode(pair.slice(colon + 1)) };
    } else {
      client = { id: form.get('client_id'), secret: form.get('client_secret') };
    }
    const secretOk = this.clientSecret === undefined || client.secret === this.clientSecret;
    if (client.id !== this.clientId || !secretOk) {
      return error(401, 'invalid_client', basic ? { 'www-authenticate': 'Basic realm="token"' } : {});
    }
    if (form.get('grant_type') !== 'refresh_token') return error(400, 'unsupported_grant_type');
    const presented = form.get('refresh_token') ?? '';
    const subject = this.#refreshTokens.get(presented);
    if (subject === undefined) return error(400, 'invalid_grant');
    let refreshToken = presented;
    if (this.rotateRefreshTokens) {
      this.#refreshTokens.delete(presented);
      refreshToken = `rt-${randomBytes(18).toString('base64url')}`;
      this.#refreshTokens.set(refreshToken, subject);
    }
    return {
      status: 200,
      body: {
        access_token: `at-${randomBytes(18).toString('base64url')}`,
        token_type: 'Bearer',
        expires_in: this.idTokenLifetimeSeconds,
        id_token: this.signIdToken(subject),
        ...(this.rotateRefreshTokens ? { refresh_token: refreshToken } : {}),
      },
    };
  }
}
