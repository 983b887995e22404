// Access tokens for Secret Manager, on the provider's clock: Application Default Credentials (an explicit
// key object, credentialsFile, GOOGLE_APPLICATION_CREDENTIALS, gcloud's application_default_credentials.json,
// then the metadata server at GCE_METADATA_HOST) or an explicit credentials object. A token is refreshed
// before an operation when less than REFRESH_MARGIN_MS of it is left, so no call ever runs with a token
// that expires under it, and no refresh happens during a call.

import { createSign } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../core/clock.js';
import { StorageError } from '../core/errors.js';
import { FILE_SIZE_LIMITS, readBoundedTextFile } from '../core/files.js';
import type { AttemptContext } from '../core/operation.js';
import { credentialEndpointCutError } from '../core/response-limit.js';
import { SecretString } from '../core/secret-string.js';
import { transportError } from '../core/transport.js';
import type { GcpTokenHttp } from './gcp-secret-manager-token-http.js';

const PROVIDER = 'gcp-secret-manager';
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';
const METADATA_DEFAULT_HOST = '169.254.169.254';
/** Refresh when less than this is left: Google's own libraries use 5 minutes. */
export const REFRESH_MARGIN_MS = 5 * 60_000;

/** Where the token comes from, for logs and `tokenState`. */
export type GcpTokenSourceKind =
  | 'service-account'
  | 'authorized-user'
  | 'metadata-server'
  | 'external-account';

interface Token {
  value: SecretString;
  expiresAt: number;
}

/** A key file's fields this provider uses (service_account, authorized_user, external_account). */
interface KeyJson {
  type?: string;
  client_email?: string;
  private_key?: string;
  private_key_id?: string;
  token_uri?: string;
  client_id?: string;
  client_secret?: string;
  refresh_token?: string;
  [key: string]: unknown;
}

/** How the provider finds its credentials, after option resolution. */
export interface GcpAuthSettings {
  /** An explicit key (parsed JSON), held as a secret. */
  credentials?: SecretString | undefined;
  credentialsFile?: string | undefined;
  /**
   * Loads google-auth-library for workload identity federation files (external_account); its requests go
   * through the given transport, and what it runs stops with the token request's signal.
   */
  externalAccount?:
    | ((
        json: KeyJson,
        http: GcpTokenHttp,
      ) => Promise<(signal: AbortSignal) => Promise<{ token: string; expiresAt: number }>>)
    | undefined;
}

/**
 * Keeps one access token fresh on the provider's clock.
 *
 * @example
 * ```ts
 * const tokens = new GcpTokenManager({ credentialsFile: '/etc/gcp/key.json' }, systemClock, new GcpTokenHttp({ ca, timeoutMs }));
 * const bearer = await tokens.ensureFresh(attempt);
 * ```
 */
export class GcpTokenManager {
  readonly #settings: GcpAuthSettings;
  readonly #clock: Clock;
  readonly #http: GcpTokenHttp;
  readonly #env: NodeJS.ProcessEnv;
  #token: Token | undefined;
  #source:
    | {
        kind: GcpTokenSourceKind;
        fetch: (signal: AbortSignal) => Promise<{ token: string; expiresIn: number }>;
      }
    | undefined;
  /** Token requests made so far. */
  readonly counts = { token: 0 };

  constructor(
    settings: GcpAuthSettings,
    clock: Clock,
    http: GcpTokenHttp,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.#settings = settings;
    this.#clock = clock;
    this.#env = env;
    this.#http = http;
  }

  /** What is known of the current token; undefined before the first one. */
  get state(): { source: GcpTokenSourceKind; expiresAt: Date } | undefined {
    return this.#token && this.#source
      ? { source: this.#source.kind, expiresAt: new Date(this.#token.expiresAt) }
      : undefined;
  }

  /** The current bearer token (call {@link ensureFresh} first). */
  get bearer(): string {
    return this.#token?.value.expose() ?? '';
  }

  /** Gets a token when there is none or it expires within the margin; returns the bearer token. */
  async ensureFresh(attempt: Pick<AttemptContext, 'signal'>): Promise<string> {
    const now = this.#clock.now();
    if (this.#token && this.#token.expiresAt - now > REFRESH_MARGIN_MS) return this.#token.value.expose();
    // Read only now: `signal` makes an AbortSignal, which only a token request needs.
    const signal = attempt.signal;
    this.#source ??= await this.#discover(signal);
    this.counts.token++;
    const source = this.#source;
    const { token, expiresIn } = await source.fetch(signal).catch((error: unknown) => {
      // A token answer is a few hundred bytes: one past the bound is an endpoint or proxy gone wrong.
      throw (
        credentialEndpointCutError(error, {
          provider: PROVIDER,
          source: `the ${source.kind} token endpoint`,
          hint: 'check the token_uri or token_url of the credentials and any proxy',
        }) ?? error
      );
    });
    this.#token?.value.dispose();
    this.#token = { value: new SecretString(token), expiresAt: this.#clock.now() + expiresIn * 1000 };
    return token;
  }

  /** Forgets the token (after UNAUTHENTICATED), so the next operation gets a new one. */
  invalidate(): void {
    this.#token?.value.dispose();
    this.#token = undefined;
  }

  close(): void {
    this.invalidate();
    this.#http.close();
  }

  async #discover(signal: AbortSignal) {
    const s = this.#settings;
    if (s.credentials) {
      let json: KeyJson;
      try {
        json = JSON.parse(s.credentials.expose()) as KeyJson;
      } catch {
        throw invalidKey(
          'the credentials option is not JSON: give a parsed key file object or its JSON text',
        );
      }
      return this.#fromKey(json, 'the credentials option');
    }
    const file = s.credentialsFile ?? (this.#env.GOOGLE_APPLICATION_CREDENTIALS || undefined);
    if (file) return this.#fromKey(await readKeyFile(file, signal), file);
    const gcloud = join(
      this.#env.CLOUDSDK_CONFIG || join(homedir(), '.config', 'gcloud'),
      'application_default_credentials.json',
    );
    const found = await readKeyFile(gcloud, signal).catch(() => undefined);
    if (found) return this.#fromKey(found, gcloud);
    return this.#metadataServer();
  }

  #fromKey(json: KeyJson, where: string) {
    if (json.type === 'service_account') {
      if (typeof json.client_email !== 'string' || typeof json.private_key !== 'string') {
        throw invalidKey(`${where} is a service_account key without client_email or private_key`);
      }
      const key = new SecretString(json.private_key);
      const tokenUri = json.token_uri || DEFAULT_TOKEN_URI;
      return {
        kind: 'service-account' as const,
        fetch: (signal: AbortSignal) => {
          const iat = Math.floor(this.#clock.now() / 1000);
          const assertion = signJwt(
            { iss: json.client_email, scope: SCOPE, aud: tokenUri, iat, exp: iat + 3600 },
            key,
            json.private_key_id,
          );
          return this.#tokenRequest(
            tokenUri,
            { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion },
            signal,
          );
        },
      };
    }
    if (json.type === 'authorized_user') {
      const tokenUri = json.token_uri || DEFAULT_TOKEN_URI;
      return {
        kind: 'authorized-user' as const,
        fetch: (signal: AbortSignal) =>
          this.#tokenRequest(
            tokenUri,
            {
              grant_type: 'refresh_token',
              client_id: String(json.client_id),
              client_secret: String(json.client_secret),
              refresh_token: String(json.refresh_token),
            },
            signal,
          ),
      };
    }
    if (json.type === 'external_account' && this.#settings.externalAccount) {
      const load = this.#settings.externalAccount;
      let get: ((signal: AbortSignal) => Promise<{ token: string; expiresAt: number }>) | undefined;
      return {
        kind: 'external-account' as const,
        fetch: async (signal: AbortSignal) => {
          get ??= await load(json, this.#http);
          const { token, expiresAt } = await get(signal);
          return { token, expiresIn: Math.max(60, Math.floor((expiresAt - Date.now()) / 1000)) };
        },
      };
    }
    throw invalidKey(
      `${where} has type "${String(json.type)}"; expected service_account, authorized_user or external_account`,
    );
  }

  #metadataServer() {
    const host = this.#env.GCE_METADATA_HOST || this.#env.GCE_METADATA_IP || METADATA_DEFAULT_HOST;
    return {
      kind: 'metadata-server' as const,
      fetch: async (signal: AbortSignal) => {
        // Plain http, never proxied (gcloud and google-auth-library reach it directly too).
        const res = await this.#http
          .send(
            `http://${host}/computeMetadata/v1/instance/service-accounts/default/token?scopes=${encodeURIComponent(SCOPE)}`,
            {
              method: 'GET',
              headers: { 'Metadata-Flavor': 'Google' },
              signal,
            },
          )
          .catch((error: unknown) => {
            const network = transportError(error, {
              provider: PROVIDER,
              operation: 'connect',
              service: 'the GCE metadata server',
              endpointSource: 'GCE_METADATA_HOST',
            });
            throw new StorageError({
              code: 'AuthenticationFailed',
              message: `no Google credentials: no credentials option, credentialsFile or GOOGLE_APPLICATION_CREDENTIALS, and the metadata server at ${host} did not answer (${network?.details.backendCode ?? 'error'})`,
              provider: PROVIDER,
              operation: 'connect',
              retryable: network?.retryable ?? false,
              cause: error,
            });
          });
        return tokenAnswer(res, 'the metadata server');
      },
    };
  }

  async #tokenRequest(uri: string, form: Record<string, string>, signal: AbortSignal) {
    const res = await this.#http.send(uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
      signal,
    });
    return tokenAnswer(res, `the token endpoint ${uri}`);
  }
}

function invalidKey(message: string): StorageError {
  return new StorageError({ code: 'InvalidConfig', message, provider: PROVIDER, operation: 'connect' });
}

async function readKeyFile(path: string, signal: AbortSignal): Promise<KeyJson> {
  const text = await readBoundedTextFile(path, {
    provider: PROVIDER,
    operation: 'connect',
    maxBytes: FILE_SIZE_LIMITS.keyFile,
    what: 'the Google credentials file',
    option: 'credentialsFile',
    signal,
  });
  try {
    return JSON.parse(text) as KeyJson;
  } catch {
    throw invalidKey(`${path} is not a JSON credentials file`);
  }
}

function tokenAnswer(
  res: { status: number; body: Buffer },
  from: string,
): { token: string; expiresIn: number } {
  let json: { access_token?: unknown; expires_in?: unknown; error?: unknown } = {};
  try {
    json = JSON.parse(res.body.toString('utf8'));
  } catch {
    // Checked below.
  }
  if (res.status === 200 && typeof json.access_token === 'string') {
    const expiresIn = Number(json.expires_in ?? 3600);
    return {
      token: json.access_token,
      expiresIn: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600,
    };
  }
  const oauthError = typeof json.error === 'string' ? json.error : undefined;
  throw new StorageError({
    code: res.status === 429 || res.status >= 500 ? 'Unavailable' : 'AuthenticationFailed',
    message: `${from} refused the credentials (HTTP ${res.status}${oauthError ? `, ${oauthError}` : ''}): check the key file or the instance's service account`,
    provider: PROVIDER,
    operation: 'connect',
    retryable: res.status === 429 || res.status >= 500,
    details: { status: res.status, ...(oauthError ? { backendCode: oauthError } : {}) },
  });
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function signJwt(claims: Record<string, unknown>, key: SecretString, kid: string | undefined): string {
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', ...(kid ? { kid } : {}) }));
  const body = base64url(JSON.stringify(claims));
  const signer = createSign('RSA-SHA256');
  signer.update(`${header}.${body}`);
  return `${header}.${body}.${base64url(signer.sign(key.expose()))}`;
}
