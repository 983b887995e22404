// One HTTP(S) request over a node:http agent whose whole answer is read through the core body bound: what a
// provider's own small exchanges (token endpoints, an API call over a CONNECT tunnel) are made of.

import { type Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readBoundedBody } from './response-limit.js';

/**
 * One request: the agent carries the TLS settings (or a CONNECT tunnel); `signal` or `onStop` (an attempt's
 * stop hook, which costs no AbortController) cancels it and drops its socket.
 *
 * @internal
 */
export interface BoundedRequestInit {
  method: string;
  headers: Record<string, string | number>;
  body?: string | Uint8Array | undefined;
  agent?: Agent | undefined;
  signal?: AbortSignal | undefined;
  onStop?: ((cancel: (reason: Error) => void) => () => void) | undefined;
}

/**
 * A whole answer, at most the bound's bytes.
 *
 * @internal
 */
export interface BoundedAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * Sends one request and reads its whole answer through `limit` bytes: a larger one (announced or streamed)
 * rejects with the core ResponseTooLargeError and its connection is dropped. A body is sent with an explicit
 * Content-Length (Node sends a DELETE body only with one).
 *
 * @example
 * ```ts
 * const answer = await requestBounded(new URL('https://idp.example/token'),
 *   { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, agent, signal }, 1 << 20);
 * console.log(answer.status, JSON.parse(answer.body.toString('utf8')));
 * ```
 *
 * @internal
 */
export function requestBounded(url: URL, init: BoundedRequestInit, limit: number): Promise<BoundedAnswer> {
  return new Promise<BoundedAnswer>((resolve, reject) => {
    const headers = { ...init.headers };
    if (init.body !== undefined) headers['content-length'] = Buffer.byteLength(init.body);
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      {
        method: init.method,
        headers,
        ...(init.agent ? { agent: init.agent } : {}),
        ...(init.signal ? { signal: init.signal } : {}),
      },
      (res) => {
        readBoundedBody(res, limit, res.headers['content-length']).then(
          (body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }),
          reject,
        );
      },
    );
    if (init.onStop)
      req.once(
        'close',
        init.onStop((reason) => req.destroy(reason)),
      );
    req.on('error', reject);
    req.end(init.body);
  });
}
