import type { Clock } from '../core/clock.js';
import { StorageError } from '../core/errors.js';
import { FILE_SIZE_LIMITS, readBoundedTextFile } from '../core/files.js';
import type { Logger } from '../core/logger.js';
import type { AttemptContext } from '../core/operation.js';
import { SecretString } from '../core/secret-string.js';
import { backendError, retryAfterMs } from '../core/transport.js';
import type { VaultHttpClient, VaultResponse } from './hashicorp-vault-client.js';
import { vaultStatusError } from './hashicorp-vault-errors.js';
import { HASHICORP_VAULT as PROVIDER } from './hashicorp-vault-options.js';

/** How the provider authenticates (secrets already wrapped). */
export type VaultAuth =
  | { kind: 'token'; token: SecretString }
  | { kind: 'appRole'; roleId: SecretString; secretId: SecretString; mount: string };

/** What the token manager knows about the current token. */
export interface VaultTokenState {
  /** Expiry (ms since the epoch), or undefined for a token without TTL (root). */
  expiresAt: number | undefined;
  renewable: boolean;
  policies: string[];
}

/**
 * Reads a token file (`auth.tokenFile`, or `~/.vault-token` where `vault login` leaves the token) into a
 * SecretString the caller owns. A missing or empty file is `InvalidConfig` saying every way to give a token.
 */
export async function readVaultTokenFile(path: string, signal: AbortSignal): Promise<SecretString> {
  const ways =
    'give auth ({ token }, { tokenFile } or { appRole }), set VAULT_TOKEN, or run "vault login" (which writes ~/.vault-token)';
  let text: string;
  try {
    text = await readBoundedTextFile(path, {
      maxBytes: FILE_SIZE_LIMITS.token,
      what: 'the Vault token file',
      option: 'auth.tokenFile',
      provider: PROVIDER,
      operation: 'connect',
      signal,
    });
  } catch (error) {
    if (!(error instanceof StorageError) || error.code !== 'InvalidConfig') throw error;
    throw new StorageError({
      code: 'InvalidConfig',
      message: `no Vault token: ${error.message}; ${ways}`,
      provider: PROVIDER,
      operation: 'connect',
      details: error.details,
      cause: error,
    });
  }
  const token = text.trim();
  if (token === '') {
    throw new StorageError({
      code: 'InvalidConfig',
      message: `no Vault token: the token file ${JSON.stringify(path)} is empty; ${ways}`,
      provider: PROVIDER,
      operation: 'connect',
      details: { issues: [{ path: 'auth.tokenFile', message: 'the file is empty' }] },
    });
  }
  return new SecretString(token);
}

/**
 * Keeps a usable Vault token without timers: at connect it looks the token up (or logs in with AppRole);
 * before each operation `ensureFresh` compares the remaining TTL (from the lookup and the injected clock)
 * with the threshold and renews the token, re-logs in with AppRole when it cannot be renewed further, or,
 * for a static token, fails with `AuthenticationFailed` naming the expiry once it has passed. Concurrent
 * operations share one renewal.
 */
export class VaultTokenManager {
  readonly #client: VaultHttpClient;
  readonly #auth: VaultAuth;
  readonly #clock: Clock;
  readonly #thresholdMs: number;
  readonly #logger: Logger;
  #token: SecretString | undefined;
  #state: VaultTokenState | undefined;
  #refreshing: Promise<void> | undefined;
  #warnedStatic = false;
  /** Requests this manager made (lookups, renewals, logins), for tests and metrics. */
  readonly counts = { lookup: 0, renew: 0, login: 0 };

  constructor(client: VaultHttpClient, auth: VaultAuth, clock: Clock, thresholdMs: number, logger: Logger) {
    this.#client = client;
    this.#auth = auth;
    this.#clock = clock;
    this.#thresholdMs = thresholdMs;
    this.#logger = logger;
    if (auth.kind === 'token') this.#token = auth.token;
  }

  get state(): VaultTokenState | undefined {
    return this.#state ? { ...this.#state, policies: [...this.#state.policies] } : undefined;
  }

  /** The current token; `connect` must have run. */
  get token(): SecretString {
    if (!this.#token)
      throw new StorageError({
        code: 'AuthenticationFailed',
        message: 'not logged in to Vault',
        provider: PROVIDER,
      });
    return this.#token;
  }

  /** Connect: AppRole login, or lookup-self of the static token (an invalid one fails fast). */
  async connect(signal: AbortSignal): Promise<void> {
    if (this.#auth.kind === 'appRole') await this.#login(signal);
    else await this.lookup(signal);
  }

  /** lookup-self: refreshes the TTL; 403 means the token is invalid, expired or revoked. */
  async lookup(signal: AbortSignal): Promise<VaultResponse> {
    this.counts.lookup++;
    const res = await this.#client.send(
      {
        method: 'GET',
        path: 'auth/token/lookup-self',
        signal,
      },
      this.token,
    );
    if (res.status === 200) {
      const d = (res.body?.data ?? {}) as Record<string, unknown>;
      const ttl = Number(d.ttl ?? 0);
      const hasExpiry = d.expire_time !== null && d.expire_time !== undefined && ttl > 0;
      this.#state = {
        expiresAt: hasExpiry ? this.#clock.now() + ttl * 1000 : undefined,
        renewable: d.renewable === true,
        policies: Array.isArray(d.policies) ? (d.policies as string[]) : [],
      };
    } else if (res.status === 403) {
      throw this.#invalidToken();
    } else {
      // A sealed or unavailable Vault at connect is the same outage as on any other call: mapped the same
      // way and retried by the same policy, never taken for a valid token.
      throw vaultStatusError(res, {
        operation: 'connect',
        credentialId: undefined,
        path: 'auth/token/lookup-self',
        capabilities: ['read'],
        now: this.#clock.now(),
      });
    }
    return res;
  }

  /** True when lookup-self succeeds with the current token: a 403 elsewhere was then a policy denial. */
  async tokenIsValid(signal: AbortSignal): Promise<boolean> {
    const res = await this.lookup(signal).catch((error: unknown) => {
      if (error instanceof StorageError && error.code === 'AuthenticationFailed') return undefined;
      throw error;
    });
    return res?.status === 200;
  }

  /** Forgets an AppRole token that Vault rejected, so the next attempt logs in again. */
  invalidate(): boolean {
    if (this.#auth.kind !== 'appRole') return false;
    this.#token = undefined;
    this.#state = undefined;
    return true;
  }

  /** Before each operation: renew or re-login when the TTL is below the threshold. */
  ensureFresh(attempt: Pick<AttemptContext, 'signal'>): Promise<void> | undefined {
    // The attempt, not its signal: reading `signal` makes an AbortSignal, needed only when a request is made.
    // Not async: a token that needs nothing (every operation but a few) costs no promise.
    if (!this.#token && this.#auth.kind === 'appRole') {
      this.#refreshing ??= this.#login(attempt.signal).finally(() => {
        this.#refreshing = undefined;
      });
      return this.#refreshing;
    }
    const expiresAt = this.#state?.expiresAt;
    if (expiresAt === undefined) return undefined;
    if (expiresAt - this.#clock.now() >= this.#thresholdMs) return undefined;
    this.#refreshing ??= this.#refresh(attempt.signal).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(signal: AbortSignal): Promise<void> {
    const state = this.#state!;
    const expired = state.expiresAt !== undefined && state.expiresAt <= this.#clock.now();
    if (state.renewable && !expired) {
      this.counts.renew++;
      const res = await this.#client.send(
        { method: 'POST', path: 'auth/token/renew-self', body: {}, signal },
        this.token,
      );
      if (res.status === 200) {
        const lease = Number(res.body?.auth?.lease_duration ?? 0);
        state.expiresAt = this.#clock.now() + lease * 1000;
        state.renewable = res.body?.auth?.renewable === true;
        this.#logger.debug({ provider: PROVIDER, ttlSeconds: lease }, 'vault token renewed');
        // A renewal capped below the threshold means the token is at its max TTL.
        if (lease * 1000 >= this.#thresholdMs) return;
      } else if (res.status === 403) {
        if (this.#auth.kind === 'appRole') return this.#login(signal);
        throw this.#invalidToken();
      } else if (res.status >= 500 || res.status === 429) {
        // Transient: keep using the token while it is still valid; the next operation retries the renewal.
        if (state.expiresAt !== undefined && state.expiresAt > this.#clock.now()) return;
      }
    }
    if (this.#auth.kind === 'appRole') return this.#login(signal);
    const expiresAt = state.expiresAt ?? 0;
    if (expiresAt <= this.#clock.now()) {
      throw new StorageError({
        code: 'AuthenticationFailed',
        message: `the Vault token expired at ${new Date(expiresAt).toISOString()} and cannot be renewed (${
          state.renewable ? 'it reached its max TTL' : 'it is not renewable'
        }); issue a new token or configure AppRole auth`,
        provider: PROVIDER,
        retryable: false,
        details: { expiredAt: new Date(expiresAt).toISOString(), renewable: state.renewable },
      });
    }
    if (!this.#warnedStatic) {
      this.#warnedStatic = true;
      this.#logger.warn(
        { provider: PROVIDER, expiresAt: new Date(expiresAt).toISOString() },
        'vault token cannot be renewed and will expire; issue a new token or configure AppRole auth',
      );
    }
  }

  async #login(signal: AbortSignal): Promise<void> {
    if (this.#auth.kind !== 'appRole') return;
    this.counts.login++;
    const auth = this.#auth;
    const res = await this.#client.send({
      method: 'POST',
      path: `auth/${auth.mount.split('/').map(encodeURIComponent).join('/')}/login`,
      body: { role_id: auth.roleId.expose(), secret_id: auth.secretId.expose() },
      signal,
    });
    if (res.status !== 200 || typeof res.body?.auth?.client_token !== 'string') {
      if (res.status === 429 || res.status >= 500) {
        throw backendError({
          provider: PROVIDER,
          service: 'Vault',
          status: res.status,
          message: `Vault AppRole login at auth/${auth.mount} failed with HTTP ${res.status}; retrying may help`,
          retryAfterMs: retryAfterMs(res.headers, this.#clock.now()),
        });
      }
      throw new StorageError({
        code: 'AuthenticationFailed',
        message: `Vault AppRole login at auth/${auth.mount} was refused (HTTP ${res.status}); check auth.appRole.roleId, secretId and mount`,
        provider: PROVIDER,
        retryable: false,
        details: { status: res.status },
      });
    }
    const a = res.body.auth!;
    this.#token?.dispose();
    this.#token = new SecretString(String(a.client_token));
    const lease = Number(a.lease_duration ?? 0);
    this.#state = {
      expiresAt: lease > 0 ? this.#clock.now() + lease * 1000 : undefined,
      renewable: a.renewable === true,
      policies: Array.isArray(a.policies) ? (a.policies as string[]) : [],
    };
    this.#logger.debug({ provider: PROVIDER, ttlSeconds: lease }, 'vault AppRole login');
  }

  #invalidToken(): StorageError {
    const expired = this.#state?.expiresAt !== undefined && this.#state.expiresAt <= this.#clock.now();
    return new StorageError({
      code: 'AuthenticationFailed',
      message: expired
        ? `the Vault token expired at ${new Date(this.#state!.expiresAt!).toISOString()}; issue a new token or configure AppRole auth`
        : 'Vault rejected the token (invalid, expired or revoked); check auth.token or the AppRole credentials',
      provider: PROVIDER,
      retryable: this.#auth.kind === 'appRole',
      details: {
        status: 403,
        ...(expired ? { expiredAt: new Date(this.#state!.expiresAt!).toISOString() } : {}),
      },
    });
  }
}
