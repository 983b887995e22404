// The HTTP library under client-node's generated API: its default (node-fetch) buffers every body whole
// with no bound, so each call hands the client this one instead, which reads through the core bound.

import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readBoundedBody } from '../core/response-limit.js';

type Sdk = typeof import('@kubernetes/client-node');

/** What this library uses of client-node's RequestContext (the same in 1.x and 2.x). */
interface KubeRequest {
  getUrl(): string;
  getHttpMethod(): string;
  getHeaders(): Record<string, string>;
  getBody(): unknown;
  getSignal(): AbortSignal | undefined;
  getAgent(): import('node:http').Agent | undefined;
}

/**
 * A client-node `HttpLibrary` (per-call `httpApi`) that sends over the request's agent (the provider's
 * keep-alive agent with the cluster's TLS settings) and reads at most `maxBytes` of the answer: a larger one
 * fails with the core ResponseTooLargeError, mapped to `SizeLimitExceeded`, and its connection is dropped.
 * @internal
 */
export function boundedKubeHttpLibrary(sdk: Sdk, maxBytes: number) {
  return {
    send(request: KubeRequest) {
      const promise = new Promise<InstanceType<Sdk['ResponseContext']>>((resolve, reject) => {
        const url = new URL(request.getUrl());
        const body = requestBytes(request.getBody());
        const signal = request.getSignal();
        const headers: Record<string, string | number> = { ...request.getHeaders() };
        // Node sends a DELETE body only with an explicit length (no chunked encoding by default for it).
        if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
        const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
          url,
          {
            method: request.getHttpMethod(),
            headers,
            agent: request.getAgent(),
            ...(signal ? { signal } : {}),
          },
          (res) => {
            readBoundedBody(res, maxBytes, res.headers['content-length']).then((bytes) => {
              resolve(
                new sdk.ResponseContext(res.statusCode ?? 0, flatHeaders(res.headers), {
                  text: async () => bytes.toString('utf8'),
                  binary: async () => bytes,
                }),
              );
            }, reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      // The generated client takes anything with toPromise() as its Observable.
      return { toPromise: () => promise };
    },
  };
}

/** The request body as the generated client builds it: JSON text, or protobuf / patch bytes. */
function requestBytes(body: unknown): string | Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return String(body);
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}
