import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { readBoundedBody, responseTooLargeError } from '../core/response-limit.js';
import type { SecretString } from '../core/secret-string.js';

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
  /** Destroys the request when it aborts. */
  signal?: AbortSignal | undefined;
  /**
   * The attempt of the operation this request belongs to: the cheaper alternative to `signal` (its
   * `onStop` destroys the request at the deadline without an AbortSignal being made).
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
 * A small typed client over `node:http(s)` with one keep-alive agent: TLS settings (custom CA, verification)
 * live on the agent, so they apply to this client only (no global dispatcher), every request takes the
 * operation's AbortSignal, and idle sockets are unref'd by Node so they never keep the process alive.
 * `LIST` is sent as `GET ?list=true`, which Vault treats identically and every proxy understands.
 */
export class VaultHttpClient {
  readonly #settings: VaultClientSettings;
  readonly #agent: HttpAgent;
  readonly #https: boolean;
  /** What every request shares, worked out once: the path before `v1/`, the host and the port. */
  readonly #base: string;
  readonly #hostname: string;
  readonly #port: string | number;

  constructor(settings: VaultClientSettings) {
    this.#settings = settings;
    this.#https = settings.address.protocol === 'https:';
    this.#base = `${settings.address.pathname.replace(/\/+$/, '')}/v1/`;
    this.#hostname = settings.address.hostname.replace(/^\[|\]$/g, '');
    this.#port = settings.address.port || (this.#https ? 443 : 80);
    const common = {
      keepAlive: true,
      keepAliveMsecs: 15_000,
      maxSockets: settings.maxSockets,
      maxFreeSockets: settings.maxSockets,
      scheduling: 'lifo' as const,
    };
    this.#agent = this.#https
      ? new HttpsAgent({
          ...common,
          ...(settings.ca ? { ca: settings.ca } : {}),
          rejectUnauthorized: settings.rejectUnauthorized,
        })
      : new HttpAgent(common);
  }

  /** Sends `request` with `token` in `X-Vault-Token` (none for a login). */
  send(request: VaultRequest, token?: SecretString): Promise<VaultResponse> {
    const { address, namespace } = this.#settings;
    let path = `${this.#base}${request.path}`;
    let method: string = request.method;
    if (method === 'LIST') {
      method = 'GET';
      path += `${path.includes('?') ? '&' : '?'}list=true`;
    }
    const json = request.json ?? (request.body === undefined ? undefined : JSON.stringify(request.body));
    const payload = json === undefined ? undefined : Buffer.from(json, 'utf8');
    const headers: Record<string, string | number> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] =
        request.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
      headers['content-length'] = payload.length;
    }
    if (namespace) headers['x-vault-namespace'] = namespace;
    if (token) headers['x-vault-token'] = token.expose();
    const send = this.#https ? httpsRequest : httpRequest;
    return new Promise<VaultResponse>((resolve, reject) => {
      // Removes the attempt's stop listener once the exchange settles (set below, when there is one).
      let settled: (() => void) | undefined;
      const req = send(
        {
          protocol: address.protocol,
          hostname: this.#hostname,
          port: this.#port,
          path,
          method,
          headers,
          agent: this.#agent,
        },
        (res) => {
          readBoundedBody(res, this.#settings.maxResponseBytes, res.headers['content-length']).then(
            (bytes) => {
              const text = bytes.toString('utf8');
              let body: VaultBody | undefined;
              if (NOT_BLANK.test(text)) {
                try {
                  body = JSON.parse(text) as VaultBody;
                } catch {
                  // Proxies and load balancers answer with HTML; keep the status, drop the body.
                  body = { errors: [] };
                }
              }
              settled?.();
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
            },
            (error: unknown) => {
              settled?.();
              reject(
                responseTooLargeError(error, {
                  provider: 'hashicorp-vault',
                  service: 'Vault',
                  details: { path: request.path.split('?')[0] },
                }) ?? error,
              );
            },
          );
        },
      );
      // One stop listener per request instead of `request({ signal })`, whose stream plumbing costs more
      // than the loopback round trip itself; stopping destroys the socket either way. Inside an operation
      // the attempt's own hook is used, which needs no AbortSignal at all.
      const { signal, attempt } = request;
      if (attempt) {
        settled = attempt.onStop((reason) => req.destroy(reason));
      } else if (signal) {
        const onAbort = () =>
          req.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        if (signal.aborted) onAbort();
        else {
          signal.addEventListener('abort', onAbort, { once: true });
          settled = () => signal.removeEventListener('abort', onAbort);
        }
      }
      req.on('error', (error) => {
        settled?.();
        reject(error);
      });
      req.end(payload);
    });
  }

  /** Closes idle and active sockets. */
  close(): void {
    this.#agent.destroy();
  }
}
