import type { IncomingHttpHeaders } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync, type ZlibOptions } from 'node:zlib';
import type { Dispatcher } from 'undici';
import type { PeerPackage } from './peer.js';
import { announcedTooLarge, ResponseTooLargeError } from './response-limit.js';

/**
 * undici, the Node.js project's own HTTP/1.1 client (the one inside Node's `fetch`), which the Vault and
 * Azure Key Vault providers send with. A regular dependency, not an optional peer; loaded with a provider's
 * SDKs, before `connect()` and outside its deadline, and never by the core alone.
 *
 * @example
 * ```ts
 * import { UNDICI_PACKAGE } from 'nebula-credential';
 * console.log(UNDICI_PACKAGE.name); // undici
 * ```
 */
export const UNDICI_PACKAGE: PeerPackage = {
  name: 'undici',
  range: '^7.30.2',
  load: () => import('undici'),
};

/** The undici module, as {@link UNDICI_PACKAGE} loads it. */
export type UndiciModule = typeof import('undici');

/** A whole response as {@link dispatchBounded} reads it. */
export interface BoundedResponse {
  status: number;
  /** The reason phrase of the status line (`Not Found`), empty when the server sent none. */
  statusText: string;
  headers: IncomingHttpHeaders;
  /** The body's bytes (empty for none). */
  body: Buffer;
}

/**
 * Response headers with one string per name, a repeated header's values joined with `separator` (what each
 * SDK's own HTTP client gives its deserializers: `', '` for Azure and client-node, `','` for smithy).
 *
 * @example
 * ```ts
 * import { joinedHeaders } from 'nebula-credential';
 * joinedHeaders({ 'set-cookie': ['a=1', 'b=2'], etag: '"x"' }); // { 'set-cookie': 'a=1, b=2', etag: '"x"' }
 * ```
 */
export function joinedHeaders(headers: IncomingHttpHeaders, separator = ', '): Record<string, string> {
  const joined: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) joined[name] = Array.isArray(value) ? value.join(separator) : value;
  }
  return joined;
}

/**
 * A request body an SDK hands its HTTP client, as {@link dispatchBounded} sends it: text or bytes (`null` for
 * none). The clients here send JSON or form text only; a stream or form body is a programming error.
 *
 * @example
 * ```ts
 * import { simpleRequestBody } from 'nebula-credential';
 * simpleRequestBody('{"a":1}', 'example'); // '{"a":1}'
 * ```
 */
export function simpleRequestBody(body: unknown, client: string): string | Uint8Array | null {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  throw new TypeError(`the ${client} sends string or byte bodies only`);
}

/** What can cancel one exchange: the attempt's stop hook, or a signal (an `AbortSignal` or alike). */
export interface ExchangeStop {
  /** The attempt of an operation: `onStop` cancels without an AbortSignal being made. */
  attempt?: { onStop(listener: (reason: Error) => void): () => void } | undefined;
  signal?:
    | {
        readonly aborted: boolean;
        readonly reason?: unknown;
        addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
        removeEventListener(type: 'abort', listener: () => void): void;
      }
    | undefined;
  /** A request timeout of the caller's own, in ms (0 or undefined: none). */
  timeoutMs?: number | undefined;
}

/**
 * Sends one request through an undici dispatcher (a `Pool` or an `Agent`) and reads its whole body within
 * `limit` bytes, through undici's handler interface: no stream per body, the bound costs one comparison per
 * chunk, and a body announced or found larger is cut with a {@link ResponseTooLargeError}, dropping its
 * connection. A stop (the attempt's deadline, a signal, a timeout) aborts the request, which also drops its
 * connection, so a hung request never keeps a socket of the pool. Network failures reject with undici's own
 * errors (their `code` is what the core transport policy classifies). The shared transport of the providers
 * that send with undici.
 *
 * @example
 * ```ts
 * import { Pool } from 'undici';
 * import { dispatchBounded } from 'nebula-credential';
 * const pool = new Pool('http://127.0.0.1:8200', { connections: 4 });
 * const res = await dispatchBounded(pool, { origin: 'http://127.0.0.1:8200', path: '/v1/sys/health', method: 'GET' }, 1 << 20);
 * console.log(res.status, res.body.toString());
 * ```
 */
export function dispatchBounded(
  dispatcher: Dispatcher,
  request: Dispatcher.DispatchOptions,
  limit: number,
  stop: ExchangeStop = {},
): Promise<BoundedResponse> {
  return new Promise<BoundedResponse>((resolve, reject) => {
    const exchange = new BoundedExchange(limit, resolve, reject);
    const { attempt, signal, timeoutMs } = stop;
    const cleanups: (() => void)[] = [];
    if (attempt) cleanups.push(attempt.onStop((reason) => exchange.cancel(reason)));
    if (signal) {
      const onAbort = () =>
        exchange.cancel(
          signal.reason instanceof Error ? signal.reason : abortError('the request was aborted'),
        );
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        cleanups.push(() => signal.removeEventListener('abort', onAbort));
      }
    }
    if (timeoutMs !== undefined && timeoutMs > 0) {
      const timer = setTimeout(
        () => exchange.cancel(abortError(`the request timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      cleanups.push(() => clearTimeout(timer));
    }
    if (cleanups.length === 1) exchange.unlisten = cleanups[0];
    else if (cleanups.length > 1) {
      exchange.unlisten = () => {
        for (const cleanup of cleanups) cleanup();
      };
    }
    dispatcher.dispatch(request, exchange);
  });
}

const DECODERS: Record<string, (body: Buffer, options: ZlibOptions) => Buffer> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

/**
 * A compressed body (a server or proxy that compresses without being asked: the clients here send no
 * Accept-Encoding) decoded within the same bound, so a small body that inflates without end is cut too.
 */
function decodeWithin(body: Buffer, encoding: string, limit: number): Buffer {
  const decode = DECODERS[encoding.trim().toLowerCase()];
  if (!decode) {
    throw Object.assign(
      new Error(`the response has a Content-Encoding this client does not read (${encoding})`),
      {
        code: 'ERR_NEBULA_CONTENT_ENCODING',
      },
    );
  }
  try {
    return decode(body, { maxOutputLength: limit });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ResponseTooLargeError(limit + 1, false, limit);
    }
    throw error;
  }
}

function abortError(message: string): Error {
  const error = new Error(message);
  error.name = 'AbortError';
  return error;
}

/** One request's handler: the body's chunks within the bound, and the cancel that drops the exchange. */
class BoundedExchange implements Dispatcher.DispatchHandler {
  unlisten: (() => void) | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  /** A stop that came before undici started the request: applied as soon as it starts. */
  #stopped: Error | undefined;
  #settled = false;
  #status = 0;
  #statusText = '';
  #headers: IncomingHttpHeaders = {};
  #chunks: Buffer[] = [];
  #length = 0;
  readonly #limit: number;
  readonly #resolve: (response: BoundedResponse) => void;
  readonly #reject: (error: unknown) => void;

  constructor(limit: number, resolve: (response: BoundedResponse) => void, reject: (error: unknown) => void) {
    this.#limit = limit;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  cancel(reason: Error): void {
    if (this.#settled) return;
    if (this.#controller) this.#controller.abort(reason);
    else this.#stopped = reason;
    this.#fail(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#stopped) controller.abort(this.#stopped);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    this.#status = statusCode;
    this.#statusText = statusMessage ?? '';
    this.#headers = headers;
    const announced = announcedTooLarge(headers['content-length'], this.#limit);
    if (announced) this.#cut(controller, announced);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#length += chunk.length;
    if (this.#length > this.#limit) {
      this.#cut(controller, new ResponseTooLargeError(this.#length, false, this.#limit));
    } else this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.unlisten?.();
    const chunks = this.#chunks;
    let body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    const encoding = this.#headers['content-encoding'];
    if (typeof encoding === 'string' && encoding !== 'identity') {
      try {
        body = decodeWithin(body, encoding, this.#limit);
      } catch (error) {
        this.#reject(error);
        return;
      }
    }
    this.#resolve({ status: this.#status, statusText: this.#statusText, headers: this.#headers, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#fail(error);
  }

  #cut(controller: Dispatcher.DispatchController, error: ResponseTooLargeError): void {
    this.#chunks = [];
    controller.abort(error);
    this.#fail(error);
  }

  #fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.unlisten?.();
    this.#reject(error);
  }
}
