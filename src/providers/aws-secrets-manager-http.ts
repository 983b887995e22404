import type { Dispatcher } from 'undici';
import {
  dispatchBounded,
  type ExchangeStop,
  joinedHeaders,
  simpleRequestBody,
} from '../core/undici-exchange.js';

/** What this handler reads of a smithy `HttpRequest` (the signed request). */
interface SmithyRequest {
  protocol: string;
  hostname: string;
  port?: number | undefined;
  method: string;
  path: string;
  query?: Record<string, string | string[] | null> | undefined;
  headers: Record<string, string>;
  body?: unknown;
}

/** A smithy `HttpResponse` (the SDK checks its shape, not its class). */
interface SmithyResponse {
  statusCode: number;
  reason?: string | undefined;
  headers: Record<string, string>;
  /** The whole body: the SDK's `collectBody` takes bytes as they are. */
  body: Uint8Array;
}

/** smithy's URI escaping (RFC 3986 unreserved kept), as its own query builder does. */
function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * The query string smithy's NodeHttpHandler would send for `query` (repeated keys for arrays): the same
 * bytes, so what the server reads is what was signed.
 * @internal
 */
export function queryString(query: NonNullable<SmithyRequest['query']>): string {
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    const name = escapeUri(key);
    if (Array.isArray(value)) for (const item of value) parts.push(`${name}=${escapeUri(item)}`);
    else parts.push(value || typeof value === 'string' ? `${name}=${escapeUri(value)}` : name);
  }
  return parts.join('&');
}

/**
 * A smithy HTTP handler (the SDK's `requestHandler`) over one undici dispatcher: the signed request is sent
 * as is, the answer is read whole within `limit` by the core {@link dispatchBounded} and handed to the SDK as
 * bytes (its deserializers take a byte body as they take a stream). The stop (the SDK's `abortSignal`, or the
 * operation's own on the request) cancels the request and drops its connection. In place of the SDK's
 * NodeHttpHandler, which reads every body through Node's streams.
 *
 * @example
 * ```ts
 * import { Agent } from 'undici';
 * const handler = new UndiciSmithyHandler(new Agent({ connections: 50 }), 8 << 20);
 * new SecretsManagerClient({ region: 'eu-west-1', requestHandler: handler });
 * ```
 */
export class UndiciSmithyHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };
  readonly #dispatcher: Dispatcher;
  readonly #limit: number;
  readonly #config: Record<string, unknown> = {};

  constructor(dispatcher: Dispatcher, limit: number) {
    this.#dispatcher = dispatcher;
    this.#limit = limit;
  }

  async handle(
    request: SmithyRequest,
    options: { abortSignal?: ExchangeStop['signal']; requestTimeout?: number } = {},
  ): Promise<{ response: SmithyResponse }> {
    const { hostname } = request;
    const host = hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname;
    const origin = `${request.protocol}//${host}${request.port ? `:${request.port}` : ''}`;
    const query = request.query ? queryString(request.query) : '';
    const res = await dispatchBounded(
      this.#dispatcher,
      {
        origin,
        path: query ? `${request.path}?${query}` : request.path,
        method: request.method as Dispatcher.HttpMethod,
        headers: request.headers,
        // Secrets Manager, STS and SSO send JSON or form text; a stream body is for other services.
        body: simpleRequestBody(request.body, 'AWS request handler'),
      },
      this.#limit,
      { signal: options.abortSignal, timeoutMs: options.requestTimeout },
    );
    return {
      response: {
        statusCode: res.status,
        reason: res.statusText,
        headers: joinedHeaders(res.headers, ','),
        body: res.body,
      },
    };
  }

  updateHttpClientConfig(key: string, value: unknown): void {
    this.#config[key] = value;
  }

  httpHandlerConfigs(): Record<string, unknown> {
    return this.#config;
  }

  destroy(): void {
    this.#dispatcher.destroy().catch(() => {});
  }
}
