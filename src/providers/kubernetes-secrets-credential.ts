// The credentials the Kubernetes provider obtains itself instead of client-node's authenticators (an exec
// plugin's, an oidc auth provider's): what one is, and how it is kept, as client-go keeps them: cached until
// it expires, obtained again after a 401 unless another caller already replaced it, one refresh at a time.

import type { Agent as HttpsAgent } from 'node:https';
import { inspect } from 'node:util';
import { untilAborted } from '../core/abort.js';
import type { Clock } from '../core/clock.js';
import { StorageError } from '../core/errors.js';
import { REDACTED, SecretString } from '../core/secret-string.js';
import { SingleFlight } from '../core/single-flight.js';
import { KUBERNETES as PROVIDER } from './kubernetes-secrets-options.js';

/**
 * One credential: a bearer token, a client certificate (with the agent that presents it), or both.
 *
 * @example
 * ```ts
 * const credential = new KubeCredential('eyJ...', undefined, Date.now() + 3_600_000);
 * console.log(JSON.stringify(credential)); // {"token":"[REDACTED]","clientCertificate":false,"expiresAt":...}
 * ```
 */
export class KubeCredential {
  readonly #token: SecretString | undefined;
  // Private: the agent's options hold the private key, which util.inspect would otherwise print.
  readonly #agent: HttpsAgent | undefined;
  /** When it expires (ms since the epoch); undefined: valid for the life of the process. */
  readonly expiresAt: number | undefined;
  readonly #certificate: string | undefined;

  /** @internal */
  constructor(
    token: string | undefined,
    agent: HttpsAgent | undefined,
    expiresAt: number | undefined,
    certificate?: string,
  ) {
    this.#token = token ? new SecretString(token) : undefined;
    this.#agent = agent;
    this.expiresAt = expiresAt;
    this.#certificate = certificate;
  }

  /** A keep-alive agent presenting the client certificate; undefined for a token-only credential. */
  get agent(): HttpsAgent | undefined {
    return this.#agent;
  }

  /** The bearer token, if there is one. */
  get token(): string | undefined {
    // A replaced credential is wiped: a caller still holding it sends no stale token.
    return this.#token && !this.#token.disposed ? this.#token.expose() : undefined;
  }

  /** The client certificate (PEM, not secret), to tell a rotation from a token-only refresh. */
  get certificate(): string | undefined {
    return this.#certificate;
  }

  /** Wipes the token and, unless a newer credential still presents the same certificate, closes its connections. */
  dispose(keepAgent = false): void {
    this.#token?.dispose();
    if (!keepAgent) this.#agent?.destroy();
  }

  /** A summary without the token or key. */
  toJSON(): Record<string, unknown> {
    return {
      token: this.#token ? REDACTED : undefined,
      clientCertificate: this.#certificate !== undefined,
      expiresAt: this.expiresAt,
    };
  }

  /** The same summary for `util.inspect` and `console.log`. */
  [inspect.custom](): Record<string, unknown> {
    return this.toJSON();
  }
}

/**
 * A credential kept as client-go keeps an exec plugin's or an oidc provider's: cached while
 * {@link RefreshingKubeCredentialSource.usable}, obtained again after a 401 unless another caller already
 * replaced it (client-go's maybeRefreshCreds), one {@link RefreshingKubeCredentialSource.obtain} at a time
 * however many calls wait (each waits under its own signal; `obtain` gets a signal that stops it when the
 * source is disposed).
 *
 * @example
 * ```ts
 * const credential = await source.current(attempt.signal);
 * const header = credential.token ? `Bearer ${credential.token}` : undefined;
 * // after a 401 with it:
 * const fresh = await source.refresh(credential, attempt.signal);
 * ```
 */
export abstract class RefreshingKubeCredentialSource {
  /** The health report's auth kind: `kubeconfig-exec` or `kubeconfig-oidc`. */
  abstract readonly kind: string;
  protected readonly clock: Clock;
  readonly #flights = new SingleFlight<'obtain', KubeCredential>();
  readonly #closed = new AbortController();
  #credential: KubeCredential | undefined;

  /** @internal */
  constructor(clock: Clock, initial?: KubeCredential) {
    this.clock = clock;
    this.#credential = initial;
  }

  /** When the current credential expires, if known. */
  get expiresAt(): number | undefined {
    return this.#credential?.expiresAt;
  }

  /** The credential in use (undefined before the first one). */
  protected get cached(): KubeCredential | undefined {
    return this.#credential;
  }

  /** False when a 401 cannot be answered with a new credential (an oidc user without a refresh token). */
  get renewable(): boolean {
    return true;
  }

  /** What the health report adds to the auth kind (the plugin's command, the issuer). */
  abstract healthFacts(): Record<string, unknown>;

  /** The cached credential, or a new one when there is none or it is no longer usable. */
  current(signal?: AbortSignal): Promise<KubeCredential> {
    const cached = this.#credential;
    if (cached && this.usable(cached, this.clock.now())) return Promise.resolve(cached);
    return this.#refreshed(signal);
  }

  /** After a 401 with `stale`: a new credential, unless the cached one is already another. */
  refresh(stale: KubeCredential, signal?: AbortSignal): Promise<KubeCredential> {
    if (this.#credential && this.#credential !== stale) return this.current(signal);
    return this.#refreshed(signal);
  }

  /** Stops a running refresh and forgets the credential. */
  dispose(): void {
    this.#closed.abort(
      new StorageError({
        code: 'Aborted',
        message: 'the provider was closed',
        provider: PROVIDER,
        operation: 'close',
      }),
    );
    this.#credential?.dispose();
    this.#credential = undefined;
  }

  /** Whether `credential` may still be sent at `now` (client-go's expiry rule of each kind). */
  protected usable(credential: KubeCredential, now: number): boolean {
    return credential.expiresAt === undefined || now <= credential.expiresAt;
  }

  /** Obtains a new credential (`closed` aborts when the source is disposed). */
  protected abstract obtain(closed: AbortSignal): Promise<KubeCredential>;

  #refreshed(signal: AbortSignal | undefined): Promise<KubeCredential> {
    const { promise } = this.#flights.run('obtain', async () => {
      const credential = await this.obtain(this.#closed.signal);
      const previous = this.#credential;
      this.#credential = credential;
      // client-go closes the connections only when the certificate rotates; a token needs no new handshake.
      previous?.dispose(previous.agent === credential.agent);
      return credential;
    });
    return signal ? untilAborted(promise, signal) : promise;
  }
}
