import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher, Pool } from 'undici';
import { responseTooLargeError } from '../core/response-limit.js';
import type { SecretString } from '../core/secret-string.js';
import { dispatchBounded, type UndiciModule } from '../core/undici-exchange.js';

/** A parsed Vault HTTP response. */
export interface VaultResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or undefined for an empty one (204). */
  body: VaultBody | undefined;
}

/** Vault's JSON envelope (and error shape). */
export interface VaultBody {
  data?: Record<string, unknown> | null;
  auth?: Record<string, unknown> | null;
  warnings?: string[] | null;
  errors?: string[];
  [key: string]: unknown;
}

/** One request to Vault. */
export interface VaultRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'LIST';
  /** API path after `/v1/`, already URL-encoded per segment. */
  path: string;
  body?: unknown;
  /** The body as JSON text already (instead of `body`), for a caller that has it encoded. */
  json?: string | undefined;
  /** Cancels the request when it aborts. */
  signal?: AbortSignal | undefined;
  /**
   * The attempt of the operation this request belongs to: the cheaper alternative to `signal` (its
   * `onStop` cancels the request at the deadline without an AbortSignal being made).
   */
  attempt?: { onStop(listener: (reason: Error) => void): () => void } | undefined;
}

/** Connection settings of {@link VaultHttpClient}. */
export interface VaultClientSettings {
  address: URL;
  /** The pool size (`maxSockets`). */
  maxSockets: number;
  namespace?: string | undefined;
  ca?: string | undefined;
  rejectUnauthorized: boolean;
  /**
   * Largest response body read, in bytes. A larger one (announced by Content-Length, or found while
   * reading) is refused with `SizeLimitExceeded` and its connection dropped: a proxy or a hostile server
   * must not make the client buffer without end.
   */
  maxResponseBytes: number;
}

const NOT_BLANK = /\S/;

/**
 * A small typed client over one undici connection pool: TLS settings (custom CA, verification) live on the
 * pool, so they apply to this client only (no global dispatcher); every request can be cancelled by the
 * operation's stop; idle sockets are unref'd by undici, so they never keep the process alive. Requests go
 * through undici's handler interface, with no stream per body: the body is counted and kept chunk by
 * chunk, so the size bound costs one comparison per chunk. `LIST` is sent as `GET ?list=true`, which Vault
 * treats identically and every proxy understands.
 *
 * @example
 * ```ts
 * import * as undici from 'undici';
 * const client = new VaultHttpClient(undici, {
 *   address: new URL('http://127.0.0.1:8200'), maxSockets: 16, rejectUnauthorized: true, maxResponseBytes: 1 << 20,
 * });
 * const res = await client.send({ method: 'GET', path: 'sys/health' });
 * console.log(res.status);
 * await client.close();
 * ```
 */
export class VaultHttpClient {
  readonly #settings: VaultClientSettings;
  readonly #pool: Pool;
  /** What every request shares, worked out once: the origin and the path before `v1/`. */
  readonly #base: string;
  readonly #origin: string;

  constructor(undici: UndiciModule, settings: VaultClientSettings) {
    this.#settings = settings;
    this.#base = `${settings.address.pathname.replace(/\/+$/, '')}/v1/`;
    this.#origin = settings.address.origin;
    const https = settings.address.protocol === 'https:';
    this.#pool = new undici.Pool(settings.address.origin, {
      connections: settings.maxSockets,
      // The operation's deadline is the only timeout: undici's own (300 s each) would cut a long wait
      // with an error of its own instead.
      headersTimeout: 0,
      bodyTimeout: 0,
      ...(https
        ? {
            connect: {
              ...(settings.ca ? { ca: settings.ca } : {}),
              rejectUnauthorized: settings.rejectUnauthorized,
            },
          }
        : {}),
    });
  }

  /** Sends `request` with `token` in `X-Vault-Token` (none for a login). */
  send(request: VaultRequest, token?: SecretString): Promise<VaultResponse> {
    const { namespace, maxResponseBytes } = this.#settings;
    let path = `${this.#base}${request.path}`;
    let method: string = request.method;
    if (method === 'LIST') {
      method = 'GET';
      path += `${path.includes('?') ? '&' : '?'}list=true`;
    }
    const json = request.json ?? (request.body === undefined ? undefined : JSON.stringify(request.body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (json !== undefined) {
      headers['content-type'] =
        request.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
    }
    if (namespace) headers['x-vault-namespace'] = namespace;
    if (token) headers['x-vault-token'] = token.expose();
    // The attempt's stop hook rather than `signal` inside an operation: it needs no AbortSignal at all.
    const { signal, attempt } = request;
    return dispatchBounded(
      this.#pool,
      { origin: this.#origin, method: method as Dispatcher.HttpMethod, path, headers, body: json ?? null },
      maxResponseBytes,
      attempt ? { attempt } : { signal },
    ).then(
      (res) => {
        const text = res.body.toString('utf8');
        let body: VaultBody | undefined;
        if (NOT_BLANK.test(text)) {
          try {
            body = JSON.parse(text) as VaultBody;
          } catch {
            // Proxies and load balancers answer with HTML; keep the status, drop the body.
            body = { errors: [] };
          }
        }
        return { status: res.status, headers: res.headers, body };
      },
      (error: unknown) => {
        throw (
          responseTooLargeError(error, {
            provider: 'hashicorp-vault',
            service: 'Vault',
            details: { path: request.path.split('?')[0] },
          }) ?? error
        );
      },
    );
  }

  /** Closes idle and active sockets. */
  close(): Promise<void> {
    return this.#pool.destroy();
  }
}
