import { generateKeyPairSync, type KeyObject, randomBytes, randomInt, verify } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import { type RecordedRequest, sendJson } from '../emulator-kit/server.js';

// Google's authentication as the emulator speaks it: service accounts with RSA keys and key files, the OAuth
// 2.0 token endpoint (JWT-bearer grant, RFC 7523), opaque `ya29.` access tokens that expire on the emulator's
// clock, self-signed JWTs used directly as bearer tokens (what google-auth-library sends for a service
// account key when the client sets `useJWTAccessWithScope`, as every GAPIC client does), and the GCE
// metadata server's token and project endpoints.

/** The OAuth scope Secret Manager needs. */
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

/** Token endpoints a JWT-bearer assertion may name as its audience (google-auth-library signs for the first). */
const GOOGLE_TOKEN_AUDIENCES = [
  'https://oauth2.googleapis.com/token',
  'https://www.googleapis.com/oauth2/v4/token',
  'https://accounts.google.com/o/oauth2/token',
];

/** Audiences a self-signed JWT may carry instead of a scope. */
const SERVICE_AUDIENCES = ['https://secretmanager.googleapis.com/', 'https://secretmanager.googleapis.com'];

/** Longest lifetime Google accepts for a signed JWT (assertion or self-signed bearer). */
const MAX_JWT_LIFETIME_SECONDS = 3600;
/** Clock skew tolerated on `iat`. */
const SKEW_SECONDS = 300;

/** A service account of the emulated project.
 *
 * @example
 * ```ts
 * const account: GcpServiceAccount = emulator.serviceAccount;
 * console.log(account.email, account.keyFile);
 * ```
 */
export interface GcpServiceAccount {
  email: string;
  /** Numeric OAuth client id. */
  clientId: string;
  /** Id of its key (`private_key_id`, the `kid` of what it signs). */
  privateKeyId: string;
  /** Path of its JSON key file (mode 0600), or '' for an account without one (the metadata server's). */
  keyFile: string;
  readonly publicKey: KeyObject;
}

interface AccountEntry extends GcpServiceAccount {
  privateKeyPem: string;
}

/** Claims of a JWT a service account signed. */
interface SignedClaims {
  iss?: unknown;
  sub?: unknown;
  aud?: unknown;
  scope?: unknown;
  iat?: unknown;
  exp?: unknown;
  target_audience?: unknown;
}

/** Why a bearer credential was refused. */
export type BearerRejection = 'missing' | 'malformed' | 'unknown' | 'expired' | 'signature' | 'audience';

/** A caller the emulator authenticated. */
export interface GcpCaller {
  email: string;
  scopes: readonly string[];
  /** An emulator-issued access token, or a JWT the service account signed itself. */
  via: 'access-token' | 'self-signed-jwt';
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const b64urlJson = (part: string) => parseJsonObject(Buffer.from(part, 'base64url').toString('utf8'));

/**
 * The service accounts and tokens of the emulated project: creates accounts and their key files, issues
 * access tokens and checks every bearer credential against the emulator's clock.
 *
 * @example
 * ```ts
 * const token = emulator.auth.issueAccessToken(emulator.serviceAccount.email).accessToken;
 * emulator.auth.lifetimeSeconds = 60; // later tokens expire after one emulated minute
 * ```
 */
export class GcpAuthority {
  /** Lifetime of issued access tokens, in seconds. */
  lifetimeSeconds: number;
  /** Access tokens issued so far (token endpoint, metadata server and {@link issueAccessToken}). */
  issued = 0;
  readonly #clock: Clock;
  readonly #projectId: string;
  readonly #accounts = new Map<string, AccountEntry>();
  readonly #tokens = new Map<string, { email: string; scopes: string[]; expiresAt: number }>();
  readonly #metadataCache = new Map<string, string>();
  readonly #dir = mkdtempSync(join(tmpdir(), 'nebula-gcp-'));

  constructor(clock: Clock, projectId: string, lifetimeSeconds: number) {
    this.#clock = clock;
    this.#projectId = projectId;
    this.lifetimeSeconds = lifetimeSeconds;
  }

  /** Creates a service account with a fresh RSA key. `email` may be a bare name (`app` → `app@<project>.iam.gserviceaccount.com`). */
  createAccount(email: string): GcpServiceAccount {
    const full = email.includes('@') ? email : `${email}@${this.#projectId}.iam.gserviceaccount.com`;
    if (this.#accounts.has(full)) throw new Error(`service account ${full} already exists`);
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const entry: AccountEntry = {
      email: full,
      clientId: `1${Array.from({ length: 20 }, () => randomInt(10)).join('')}`,
      privateKeyId: randomBytes(20).toString('hex'),
      keyFile: '',
      publicKey,
      privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    this.#accounts.set(full, entry);
    return entry;
  }

  account(email: string): GcpServiceAccount | undefined {
    return this.#accounts.get(email);
  }

  /**
   * Writes the account's key file (the JSON the Cloud console downloads), with every URL on the emulator's
   * origin, and returns its path.
   */
  writeKeyFile(email: string, origin: string): string {
    const a = this.#accounts.get(email);
    if (!a) throw new Error(`unknown service account ${email}`);
    const path = join(this.#dir, `${a.email.split('@')[0]}-${a.privateKeyId.slice(0, 8)}.json`);
    writeFileSync(path, `${JSON.stringify(this.keyFileContents(email, origin), null, 2)}\n`, { mode: 0o600 });
    a.keyFile = path;
    return path;
  }

  /** The key file's JSON. */
  keyFileContents(email: string, origin: string): Record<string, string> {
    const a = this.#accounts.get(email);
    if (!a) throw new Error(`unknown service account ${email}`);
    return {
      type: 'service_account',
      project_id: this.#projectId,
      private_key_id: a.privateKeyId,
      private_key: a.privateKeyPem,
      client_email: a.email,
      client_id: a.clientId,
      auth_uri: `${origin}/o/oauth2/auth`,
      token_uri: `${origin}/token`,
      auth_provider_x509_cert_url: `${origin}/oauth2/v1/certs`,
      client_x509_cert_url: `${origin}/robot/v1/metadata/x509/${encodeURIComponent(a.email)}`,
      universe_domain: 'googleapis.com',
    };
  }

  /** Issues an access token for an account, valid for {@link lifetimeSeconds} of emulator time. */
  issueAccessToken(
    email: string,
    scopes: readonly string[] = [CLOUD_PLATFORM_SCOPE],
  ): { accessToken: string; expiresIn: number } {
    if (!this.#accounts.has(email)) throw new Error(`unknown service account ${email}`);
    const accessToken = `ya29.emu.${randomBytes(48).toString('base64url')}`;
    this.#tokens.set(accessToken, {
      email,
      scopes: [...scopes],
      expiresAt: this.#clock.now() + this.lifetimeSeconds * 1000,
    });
    this.issued++;
    return { accessToken, expiresIn: this.lifetimeSeconds };
  }

  /** Seconds left on an issued access token (0 when unknown or expired). */
  remainingSeconds(accessToken: string): number {
    const t = this.#tokens.get(accessToken);
    return t ? Math.max(0, Math.floor((t.expiresAt - this.#clock.now()) / 1000)) : 0;
  }

  /** Checks an `Authorization` header value. */
  authenticate(
    authorization: string | undefined,
  ): { ok: true; caller: GcpCaller } | { ok: false; reason: BearerRejection } {
    if (!authorization) return { ok: false, reason: 'missing' };
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) return { ok: false, reason: 'malformed' };
    const token = m[1]!;
    const issued = this.#tokens.get(token);
    if (issued) {
      if (issued.expiresAt <= this.#clock.now()) return { ok: false, reason: 'expired' };
      return { ok: true, caller: { email: issued.email, scopes: issued.scopes, via: 'access-token' } };
    }
    if (token.split('.').length !== 3 || token.startsWith('ya29.')) return { ok: false, reason: 'unknown' };
    const checked = this.#verifySignedJwt(token);
    if (!checked.ok) return checked;
    const { claims, account } = checked;
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
    if (scopes.length === 0 && !SERVICE_AUDIENCES.includes(String(claims.aud)))
      return { ok: false, reason: 'audience' };
    return {
      ok: true,
      caller: {
        email: account.email,
        scopes: scopes.length ? scopes : [CLOUD_PLATFORM_SCOPE],
        via: 'self-signed-jwt',
      },
    };
  }

  /** Verifies a JWT signed (RS256) by one of the accounts: header, signature, `iss`, `iat`/`exp` (≤ 1 h). */
  #verifySignedJwt(
    jwt: string,
  ): { ok: true; claims: SignedClaims; account: AccountEntry } | { ok: false; reason: BearerRejection } {
    const [head, body, sig] = jwt.split('.') as [string, string, string];
    const header = b64urlJson(head);
    const claims = b64urlJson(body) as SignedClaims | undefined;
    if (!header || !claims || header['alg'] !== 'RS256') return { ok: false, reason: 'malformed' };
    const account = typeof claims.iss === 'string' ? this.#accounts.get(claims.iss) : undefined;
    if (!account) return { ok: false, reason: 'unknown' };
    if (header['kid'] !== undefined && header['kid'] !== account.privateKeyId)
      return { ok: false, reason: 'signature' };
    if (!verify('sha256', Buffer.from(`${head}.${body}`), account.publicKey, Buffer.from(sig, 'base64url'))) {
      return { ok: false, reason: 'signature' };
    }
    const now = Math.floor(this.#clock.now() / 1000);
    const { iat, exp } = claims;
    if (
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      exp - iat > MAX_JWT_LIFETIME_SECONDS ||
      iat > now + SKEW_SECONDS
    ) {
      return { ok: false, reason: 'malformed' };
    }
    if (exp <= now) return { ok: false, reason: 'expired' };
    return { ok: true, claims, account };
  }

  /**
   * The OAuth 2.0 token endpoint (`POST /token`, the key file's `token_uri`): the JWT-bearer grant with an
   * assertion signed by an account's key, answered with a `ya29.` access token. Google's error bodies
   * (`{"error": "invalid_grant", "error_description": ...}`). Returns false for other paths.
   */
  handleTokenRequest(request: RecordedRequest, res: ServerResponse, tokenUri: string): boolean {
    if (request.path !== '/token') return false;
    const oauthError = (status: number, error: string, description: string) =>
      sendJson(res, status, { error, error_description: description });
    if (request.method !== 'POST') {
      oauthError(405, 'invalid_request', 'The token endpoint only accepts POST.');
      return true;
    }
    const text = request.body.toString('utf8');
    // A form is what clients send; a JSON body is accepted too.
    const json = String(request.headers['content-type'] ?? '').includes('json')
      ? parseJsonObject(text)
      : undefined;
    const form = json
      ? new URLSearchParams(Object.entries(json).map(([k, v]): [string, string] => [k, String(v)]))
      : new URLSearchParams(text);
    const grant = form.get('grant_type');
    if (grant !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      oauthError(400, 'unsupported_grant_type', `Invalid grant_type: ${String(grant ?? '').slice(0, 100)}`);
      return true;
    }
    const assertion = form.get('assertion');
    if (assertion?.split('.').length !== 3) {
      oauthError(400, 'invalid_request', 'Missing required parameter: assertion');
      return true;
    }
    const checked = this.#verifySignedJwt(assertion);
    if (!checked.ok) {
      const descriptions: Record<string, string> = {
        unknown: 'Invalid grant: account not found',
        signature: 'Invalid JWT Signature.',
        malformed:
          'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
        expired:
          'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      };
      oauthError(400, 'invalid_grant', descriptions[checked.reason] ?? 'Invalid JWT.');
      return true;
    }
    const { claims, account } = checked;
    if (typeof claims.aud !== 'string' || ![tokenUri, ...GOOGLE_TOKEN_AUDIENCES].includes(claims.aud)) {
      oauthError(
        400,
        'invalid_grant',
        `Invalid JWT: Failed audience check. The right audience is ${tokenUri}`,
      );
      return true;
    }
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
    if (scopes.length === 0) {
      oauthError(400, 'invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
      return true;
    }
    const token = this.issueAccessToken(account.email, scopes);
    // Google answers one second short of the lifetime (3599 for an hour).
    sendJson(res, 200, {
      access_token: token.accessToken,
      expires_in: token.expiresIn - 1,
      token_type: 'Bearer',
    });
    return true;
  }

  /** A token for the metadata server: the cached one while it has more than 5 minutes left, as GCE does. */
  metadataToken(email: string, scopes: readonly string[]): { accessToken: string; expiresIn: number } {
    const key = `${email} ${[...scopes].sort().join(' ')}`;
    const cached = this.#metadataCache.get(key);
    if (cached && this.remainingSeconds(cached) > 300)
      return { accessToken: cached, expiresIn: this.remainingSeconds(cached) };
    const fresh = this.issueAccessToken(email, scopes);
    this.#metadataCache.set(key, fresh.accessToken);
    return fresh;
  }
}

/** What the metadata server describes. */
export interface MetadataServerContext {
  projectId: string;
  projectNumber: string;
  /** The instance's default service account. */
  account: GcpServiceAccount;
  /** OAuth scopes the instance was given. */
  scopes: readonly string[];
  authority: GcpAuthority;
}

/**
 * The GCE metadata server (plain http, as on a VM, GKE node or Cloud Run): refuses requests without
 * `Metadata-Flavor: Google` (403), tags every answer with that header, and serves the service-account token,
 * email and scopes, the project id and number, the universe domain and the directory listings that clients
 * probe to detect GCE.
 *
 * @example
 * ```ts
 * const server = new EmulatorHttpServer({}, (req, res) => handleMetadataRequest(req, res, context));
 * ```
 */
export function handleMetadataRequest(
  request: RecordedRequest,
  res: ServerResponse,
  ctx: MetadataServerContext,
): void {
  const send = (status: number, body: string, type = 'application/text') => {
    res.writeHead(status, {
      'metadata-flavor': 'Google',
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      server: 'Metadata Server for VM',
    });
    res.end(body);
  };
  if (request.headers['metadata-flavor'] !== 'Google' || request.headers['x-forwarded-for'] !== undefined) {
    send(
      403,
      'Missing required header "Metadata-Flavor": "Google". Your client does not have permission to get this URL from this server.',
      'text/html; charset=UTF-8',
    );
    return;
  }
  if (request.method !== 'GET') {
    send(405, 'Method not allowed.');
    return;
  }
  const path = request.path.replace(/\/+$/, '/');
  const account = ctx.account;
  const accountPath = /^\/computeMetadata\/v1\/instance\/service-accounts\/([^/]+)\/?(.*)$/.exec(path);
  if (accountPath) {
    const who = decodeURIComponent(accountPath[1]!);
    if (who !== 'default' && who !== account.email) {
      send(404, 'Not Found');
      return;
    }
    const leaf = accountPath[2]!;
    if (leaf === '' && request.query.get('recursive') === 'true') {
      sendJsonWithFlavor(res, { aliases: ['default'], email: account.email, scopes: ctx.scopes });
    } else if (leaf === 'token') {
      const asked = request.query.get('scopes');
      const scopes = asked ? asked.split(',').filter(Boolean) : ctx.scopes;
      const t = ctx.authority.metadataToken(account.email, scopes);
      sendJsonWithFlavor(res, { access_token: t.accessToken, expires_in: t.expiresIn, token_type: 'Bearer' });
    } else {
      const texts: Record<string, string> = {
        '': 'aliases\nemail\nidentity\nscopes\ntoken\n',
        email: account.email,
        aliases: 'default\n',
        scopes: `${ctx.scopes.join('\n')}\n`,
      };
      const text = texts[leaf];
      if (text === undefined) send(404, 'Not Found');
      else send(200, text);
    }
    return;
  }
  const leaves: Record<string, string> = {
    '/': 'computeMetadata/\n',
    '/computeMetadata/': 'v1/\n',
    '/computeMetadata/v1/': 'instance/\nproject/\nuniverse/\n',
    '/computeMetadata/v1/instance': 'attributes/\nhostname\nid\nservice-accounts/\nzone\n',
    '/computeMetadata/v1/instance/': 'attributes/\nhostname\nid\nservice-accounts/\nzone\n',
    '/computeMetadata/v1/instance/service-accounts/': `default/\n${account.email}/\n`,
    '/computeMetadata/v1/instance/id': '4520031799277581759',
    '/computeMetadata/v1/instance/zone': `projects/${ctx.projectNumber}/zones/us-central1-a`,
    '/computeMetadata/v1/instance/hostname': 'nebula-emulator.us-central1-a.c.internal',
    '/computeMetadata/v1/project/project-id': ctx.projectId,
    '/computeMetadata/v1/project/numeric-project-id': ctx.projectNumber,
    '/computeMetadata/v1/universe/universe-domain': 'googleapis.com',
  };
  const body = leaves[path];
  if (body === undefined) send(404, 'Not Found');
  else send(200, body);
}

function sendJsonWithFlavor(res: ServerResponse, body: unknown): void {
  sendJson(res, 200, body, { 'metadata-flavor': 'Google', server: 'Metadata Server for VM' });
}
