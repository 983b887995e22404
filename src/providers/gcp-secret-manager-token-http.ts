// The one transport of every Google token request the provider makes, its own (service account and
// authorized user grants, the metadata server) and google-auth-library's for workload identity federation
// (STS, impersonation, url and AWS subject tokens): bodies read through a bound, https through the core's
// bounded CONNECT tunnel when the environment names a proxy (NO_PROXY respected), and plain http (the
// metadata server, as gcloud does) never proxied; an x509 workload identity's client certificate rides an
// agent of its own, tunnelled the same way. gaxios would send through https-proxy-agent instead, which
// reads the CONNECT reply head without a bound, and buffer whole bodies.

import http from 'node:http';
import https from 'node:https';
import { requestBounded } from '../core/bounded-request.js';
import { proxyTunnelRoutes } from '../core/proxy-route.js';
import { isResponseTooLarge } from '../core/response-limit.js';

const PROVIDER = 'gcp-secret-manager';
/** Token answers are a few hundred bytes; the bound keeps a wrong endpoint from filling memory. */
export const TOKEN_RESPONSE_LIMIT = 1024 * 1024;

/** One request as the token manager sends it. */
export interface TokenRequestInit {
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer | undefined;
  signal?: AbortSignal | undefined;
  /**
   * An agent the caller must use. One of {@link GcpTokenHttp.clientCertificateAgent} still goes through the
   * bounded tunnel when the environment proxies the URL (presenting its certificate inside it); any other
   * connects as it is, no proxy.
   */
  agent?: http.Agent | undefined;
}

/** A whole, bounded answer (the core's bounded request answer, spelled out: that one is internal). */
export interface TokenResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * The bounded, proxy-aware token transport of one provider connection.
 *
 * @example
 * ```ts
 * const http = new GcpTokenHttp({ ca, timeoutMs: 2000 });
 * const answer = await http.send('https://oauth2.googleapis.com/token', { method: 'POST', headers, body, signal });
 * ```
 */
export class GcpTokenHttp {
  readonly #direct: https.Agent;
  readonly #tunnels: ReturnType<typeof proxyTunnelRoutes>;
  readonly #limit: number;
  readonly #ca: string | undefined;
  readonly #timeoutMs: number;
  readonly #env: NodeJS.ProcessEnv | undefined;
  /** The client certificate agent of this connection, its pair, and its tunnels (carrying the same pair). */
  #certified:
    | {
        agent: https.Agent;
        cert: Buffer;
        key: Buffer;
        tunnels: ReturnType<typeof proxyTunnelRoutes>;
      }
    | undefined;

  constructor(options: {
    ca?: string | undefined;
    timeoutMs: number;
    limit?: number | undefined;
    env?: NodeJS.ProcessEnv | undefined;
  }) {
    this.#direct = new https.Agent({ keepAlive: true, ...(options.ca ? { ca: options.ca } : {}) });
    this.#tunnels = proxyTunnelRoutes({
      provider: PROVIDER,
      timeoutMs: options.timeoutMs,
      ca: options.ca,
      env: options.env,
    });
    this.#limit = options.limit ?? TOKEN_RESPONSE_LIMIT;
    this.#ca = options.ca;
    this.#timeoutMs = options.timeoutMs;
    this.#env = options.env;
  }

  /** One request, its whole answer read through the bound (a cut rejects with ResponseTooLargeError). */
  send(url: string, init: TokenRequestInit): Promise<TokenResponse> {
    const target = new URL(url);
    return requestBounded(target, { ...init, agent: this.#agentFor(target, init.agent) }, this.#limit);
  }

  /**
   * The agent presenting a client certificate (workload identity federation with an x509 source) to hand
   * gaxios as `agent`: keep-alive, the provider's CA, the PEM `cert` and `key`. A request given it still
   * takes the bounded tunnel when the environment proxies its URL, the TLS inside the tunnel presenting the
   * same pair; so a proxy rule applies to mTLS exchanges as to every other token request. The same pair
   * gives the same agent; a new pair (a rotated certificate) replaces it, the old one closed.
   */
  clientCertificateAgent(pair: { cert: Buffer; key: Buffer }): https.Agent {
    const current = this.#certified;
    if (current?.cert.equals(pair.cert) && current.key.equals(pair.key)) return current.agent;
    const tls = { cert: pair.cert, key: pair.key };
    this.#certified = {
      ...tls,
      agent: new https.Agent({ keepAlive: true, ...(this.#ca ? { ca: this.#ca } : {}), ...tls }),
      tunnels: proxyTunnelRoutes({
        provider: PROVIDER,
        timeoutMs: this.#timeoutMs,
        ca: this.#ca,
        env: this.#env,
        clientCertificate: tls,
      }),
    };
    // Token requests of one connection are one at a time (the token manager's), so none is on the old one.
    current?.agent.destroy();
    current?.tunnels.destroy();
    return this.#certified.agent;
  }

  #agentFor(target: URL, given: http.Agent | undefined): http.Agent | undefined {
    if (target.protocol !== 'https:') return given;
    if (!given) return this.#tunnels.route(target) ?? this.#direct;
    const certified = this.#certified;
    return certified?.agent === given ? (certified.tunnels.route(target) ?? given) : given;
  }

  /**
   * A `fetch` for gaxios (`fetchImplementation`) sending through {@link send}: gaxios hands it the prepared
   * request (its `agent` only for an mTLS certificate, {@link clientCertificateAgent}'s set in the
   * transporter defaults, since the options this library gives it turn its own proxy agent off) and reads
   * the answer as a `Response`.
   */
  readonly fetch = async (
    url: string | URL,
    init: {
      method?: string;
      headers?: ConstructorParameters<typeof Headers>[0];
      body?: unknown;
      signal?: AbortSignal;
      agent?: unknown;
    } = {},
  ): Promise<Response> => {
    const method = (init.method ?? 'GET').toUpperCase();
    // A Request normalises every body gaxios may pass (string, URLSearchParams, Buffer, stream) and adds the
    // content type a form or text body implies.
    const normalised = new Request(String(url), {
      method,
      headers: init.headers ?? {},
      ...(init.body === undefined || init.body === null || method === 'GET' || method === 'HEAD'
        ? {}
        : { body: init.body, duplex: 'half' }),
    } as ConstructorParameters<typeof Request>[1]);
    const headers: Record<string, string> = {};
    normalised.headers.forEach((value, key) => {
      headers[key] = value;
    });
    const body = normalised.body ? Buffer.from(await normalised.arrayBuffer()) : undefined;
    const answer = await this.send(String(url), {
      method,
      headers,
      body,
      signal: init.signal,
      agent: init.agent instanceof http.Agent ? init.agent : undefined,
    });
    const responseHeaders = new Headers();
    for (const [key, value] of Object.entries(answer.headers)) {
      if (value === undefined) continue;
      for (const one of Array.isArray(value) ? value : [value]) responseHeaders.append(key, one);
    }
    const empty = answer.status === 204 || answer.status === 304 || method === 'HEAD';
    return new Response(empty ? null : answer.body, { status: answer.status, headers: responseHeaders });
  };

  /**
   * What google-auth-library's clients take (`transporterOptions`, or a transporter's `defaults`): this
   * transport as gaxios's fetch, and gaxios's own proxy agent off for every URL (`noProxy` matching all),
   * since the transport picks the bounded tunnel itself.
   */
  get gaxiosOptions(): { fetchImplementation: GcpTokenHttp['fetch']; noProxy: RegExp[] } {
    return { fetchImplementation: this.fetch, noProxy: [/^/] };
  }

  /**
   * Defaults for a transporter whose every request is retried (google-auth-library's STS exchange, which
   * gaxios sends twice more when no answer came): an answer cut at the bound is not retried, since the
   * endpoint would send the same endless body again. Only for such a transporter: a `retryConfig` in the
   * defaults turns gaxios's retries on for requests that asked for none.
   */
  get gaxiosRetryGuard(): { retryConfig: { onRetryAttempt(error: unknown): void } } {
    return {
      retryConfig: {
        onRetryAttempt: (error) => {
          if (!isResponseTooLarge(error)) return;
          // Thrown from here, the error skips the redaction gaxios applies to a final error (authorization
          // headers, client secrets): redacted first, as any other final error.
          const redact = (error as { config?: { errorRedactor?: unknown } }).config?.errorRedactor;
          if (typeof redact === 'function') redact(error);
          throw error;
        },
      },
    };
  }

  close(): void {
    this.#direct.destroy();
    this.#tunnels.destroy();
    this.#certified?.agent.destroy();
    this.#certified?.tunnels.destroy();
    this.#certified = undefined;
  }
}
