// One bound on every response body a provider reads, whichever client reads it: a proxy or a hostile
// server answering with gigabytes must cost a connection, not the process's memory.

import { Transform, type TransformCallback } from 'node:stream';
import { StorageError } from './errors.js';

/**
 * The `code` a cut body carries through every SDK's error wrapping (they copy or keep `code`).
 *
 * @example
 * ```ts
 * import { RESPONSE_TOO_LARGE_CODE } from 'nebula-credential';
 * if ((error as { code?: string }).code === RESPONSE_TOO_LARGE_CODE) console.log('body over the bound');
 * ```
 */
export const RESPONSE_TOO_LARGE_CODE = 'ERR_NEBULA_RESPONSE_TOO_LARGE';

/**
 * The largest response body a provider reads: one credential document (base64 costs 4/3) plus room for a
 * listing page and the service's envelope. It follows `maxCredentialSize`, so raising that raises it.
 *
 * @example
 * ```ts
 * import { responseBodyLimit } from 'nebula-credential';
 * console.log(responseBodyLimit(64 * 1024)); // 8475990
 * ```
 */
export function responseBodyLimit(maxCredentialSize: number): number {
  return Math.ceil((maxCredentialSize * 4) / 3) + 8 * 1024 * 1024;
}

/**
 * Raised inside an SDK's response handling when a body passes its bound; {@link responseTooLargeError}
 * turns it into the `SizeLimitExceeded` the caller sees.
 *
 * @example
 * ```ts
 * import { ResponseTooLargeError } from 'nebula-credential';
 * const cut = new ResponseTooLargeError(9_000_000, false, 8_000_000);
 * console.log(cut.code); // ERR_NEBULA_RESPONSE_TOO_LARGE
 * ```
 */
export class ResponseTooLargeError extends Error {
  /** Always {@link RESPONSE_TOO_LARGE_CODE}: what survives when an SDK re-wraps the error. */
  readonly code = RESPONSE_TOO_LARGE_CODE;
  /** Bytes announced (Content-Length) or read so far. */
  readonly size: number;
  /** True when `size` is the announced Content-Length. */
  readonly announced: boolean;
  /** The bound, in bytes. */
  readonly limit: number;

  /** A body of `size` bytes (announced, or read so far) against a bound of `limit`. */
  constructor(size: number, announced: boolean, limit: number) {
    super(`response body of ${announced ? size : `more than ${limit}`} bytes exceeds the bound of ${limit}`);
    this.name = 'ResponseTooLargeError';
    this.size = size;
    this.announced = announced;
    this.limit = limit;
  }
}

/**
 * A Content-Length header above `limit`, as the error to fail with; undefined when absent or within. For a
 * client that reads bodies chunk by chunk itself and checks the announced length first.
 *
 * @example
 * ```ts
 * import { announcedTooLarge } from 'nebula-credential';
 * console.log(announcedTooLarge('2048', 1024)?.size); // 2048
 * ```
 */
export function announcedTooLarge(contentLength: unknown, limit: number): ResponseTooLargeError | undefined {
  const announced = Number(Array.isArray(contentLength) ? contentLength[0] : contentLength);
  return Number.isFinite(announced) && announced > limit
    ? new ResponseTooLargeError(announced, true, limit)
    : undefined;
}

/** True for a Content-Length header that is a plain byte count no larger than `limit`. */
function announcedWithin(contentLength: unknown, limit: number): boolean {
  const value = Array.isArray(contentLength) ? contentLength[0] : contentLength;
  if (typeof value !== 'string' && typeof value !== 'number') return false;
  const announced = typeof value === 'number' ? value : /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
  return Number.isSafeInteger(announced) && announced >= 0 && announced <= limit;
}

/** What {@link limitResponseStream} and {@link readBoundedBody} need of a response body stream. */
export interface ResponseBodyStream extends NodeJS.ReadableStream {
  /** Drops the stream and its connection (an IncomingMessage has it). */
  destroy?(error?: Error): unknown;
}

/**
 * Passes `body` through unchanged up to `limit` bytes; past it (or when `contentLength` announces more) the
 * returned stream fails with a {@link ResponseTooLargeError} and `body` is destroyed, which drops its
 * connection instead of returning a half-read socket to the pool. For SDKs that read the body themselves.
 * A `contentLength` within the limit returns `body` itself: pass it only for a body whose transport stops at
 * the announced length (Node's HTTP parser does), which then bounds it at no cost.
 *
 * @example
 * ```ts
 * import { limitResponseStream } from 'nebula-credential';
 * const bounded = limitResponseStream(response, 8 * 1024 * 1024, response.headers['content-length']);
 * ```
 */
export function limitResponseStream(
  body: ResponseBodyStream,
  limit: number,
  contentLength?: unknown,
): ResponseBodyStream {
  if (announcedWithin(contentLength, limit)) return body;
  let length = 0;
  const cut = (error: ResponseTooLargeError) => {
    body.destroy?.();
    bounded.destroy(error);
  };
  const bounded = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      length += chunk.length;
      if (length > limit) cut(new ResponseTooLargeError(length, false, limit));
      else done(null, chunk);
    },
  });
  const announced = announcedTooLarge(contentLength, limit);
  if (announced) {
    queueMicrotask(() => cut(announced));
    return bounded;
  }
  body.on('error', (error: Error) => bounded.destroy(error));
  body.pipe(bounded);
  return bounded;
}

/**
 * Reads a whole response body of at most `limit` bytes; a larger one (announced or streamed) rejects with a
 * {@link ResponseTooLargeError} and `body` is destroyed, dropping its connection. For clients that read
 * the body in this library's own code.
 *
 * @example
 * ```ts
 * import { readBoundedBody } from 'nebula-credential';
 * const bytes = await readBoundedBody(response, 8 * 1024 * 1024, response.headers['content-length']);
 * ```
 */
export function readBoundedBody(
  body: ResponseBodyStream,
  limit: number,
  contentLength?: unknown,
): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const fail = (error: ResponseTooLargeError) => {
      reject(error);
      body.destroy?.();
    };
    const announced = announcedTooLarge(contentLength, limit);
    if (announced) return fail(announced);
    const chunks: Buffer[] = [];
    let length = 0;
    body.on('data', (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      length += bytes.length;
      if (length > limit) fail(new ResponseTooLargeError(length, false, limit));
      else chunks.push(bytes);
    });
    body.on('error', reject);
    body.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

/**
 * undici's own bound (`maxResponseSize` on an Agent, Pool or Client, what client-node 2.x sends through)
 * fails with this code: the same cut, so the same `SizeLimitExceeded`.
 */
const UNDICI_MAX_SIZE_CODE = 'UND_ERR_RES_EXCEEDED_MAX_SIZE';

function findResponseTooLarge(error: unknown): Partial<ResponseTooLargeError> | undefined {
  let current: unknown = error;
  let first: Partial<ResponseTooLargeError> | undefined;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    // The cut itself carries the sizes; a wrapper that copied its code (gaxios does) carries none.
    if (current instanceof ResponseTooLargeError) return current;
    const { code } = current as { code?: unknown };
    if (code === RESPONSE_TOO_LARGE_CODE || code === UNDICI_MAX_SIZE_CODE)
      first ??= current as ResponseTooLargeError;
    const next = current as { cause?: unknown; erroredSysCall?: unknown };
    current = next.cause ?? next.erroredSysCall;
  }
  return first;
}

/**
 * True when a response body bound cut the call: `error` or its cause chain is a {@link ResponseTooLargeError}
 * (or carries its code, as SDKs that copy only the code do).
 *
 * @example
 * ```ts
 * import { isResponseTooLarge, ResponseTooLargeError } from 'nebula-credential';
 * console.log(isResponseTooLarge(new Error('x', { cause: new ResponseTooLargeError(9, false, 8) }))); // true
 * ```
 */
export function isResponseTooLarge(error: unknown): boolean {
  return findResponseTooLarge(error) !== undefined;
}

/**
 * The {@link ResponseTooLargeError} anywhere in `error`'s cause chain (SDKs wrap it, keep it in `cause`, or
 * copy only its `code`), as the `SizeLimitExceeded` to throw: not retryable, since the same answer would
 * come again. Undefined when the failure is something else.
 *
 * @example
 * ```ts
 * import { responseTooLargeError } from 'nebula-credential';
 * const mapped = responseTooLargeError(caught, { provider: 'aws-secrets-manager', service: 'AWS Secrets Manager' });
 * if (mapped) throw mapped;
 * ```
 */
export function responseTooLargeError(
  error: unknown,
  context: {
    provider: string;
    service: string;
    operation?: StorageError['operation'];
    credentialId?: string | undefined;
    details?: Record<string, unknown> | undefined;
  },
): StorageError | undefined {
  const found = findResponseTooLarge(error);
  if (!found) return undefined;
  const { size, announced, limit } = found;
  const said =
    limit === undefined
      ? 'a body over the bound'
      : `a body of ${announced ? size : `more than ${limit}`} bytes`;
  return new StorageError({
    code: 'SizeLimitExceeded',
    message: `${context.service} answered with ${said}; this client reads at most ${limit ?? 'its bound'} (a bound that follows maxCredentialSize) and dropped the connection`,
    provider: context.provider,
    operation: context.operation,
    credentialId: context.credentialId,
    retryable: false,
    details: {
      ...context.details,
      ...(size === undefined ? {} : { size }),
      ...(limit === undefined ? {} : { limit }),
    },
  });
}

/**
 * A cut answer of a credential or token endpoint (not the service itself) as the error to throw:
 * `Unavailable`, not retryable (the endpoint would send the same), `details.limitBytes` and `details.source`;
 * undefined when `error` holds no cut. `source` names the endpoint; nothing of the request or the body
 * (tokens, credentials) goes into the message. `hint` says what to check.
 *
 * @example
 * ```ts
 * const mapped = credentialEndpointCutError(caught, { provider: 'gcp-secret-manager', source: 'the STS endpoint' });
 * if (mapped) throw mapped;
 * ```
 *
 * @internal
 */
export function credentialEndpointCutError(
  error: unknown,
  context: { provider: string; source: string; hint?: string | undefined },
): StorageError | undefined {
  const cut = responseTooLargeError(error, { provider: context.provider, service: context.source });
  if (!cut) return undefined;
  const limit = cut.details['limit'] as number;
  return new StorageError({
    code: 'Unavailable',
    message: `${context.source} answered with a body over ${limit} bytes; the client stopped reading it and dropped the connection${context.hint ? ` (${context.hint})` : ''}`,
    provider: context.provider,
    operation: 'connect',
    retryable: false,
    details: { ...cut.details, limitBytes: limit, source: context.source },
    cause: error,
  });
}
