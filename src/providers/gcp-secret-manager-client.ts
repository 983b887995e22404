// The Secret Manager SDK client, set up so the core owns retries, deadlines and tokens: SDK retries off per
// call, the deadline's signal cancels the call (gax's cancellable promise), the CA bundle in the channel
// credentials (gRPC) or in this module's own https fetch (REST), and the bearer token of GcpTokenManager.
import http from 'node:http';
import https from 'node:https';
import { connect as netConnect } from 'node:net';
import { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { DEFAULT_MAX_SOCKETS } from '../core/connection-pool.js';
import { StorageError } from '../core/errors.js';
import { type AttemptContext, backstopTimeoutMs } from '../core/operation.js';
import { requireBesidePeer } from '../core/peer.js';
import { readBoundedBody } from '../core/response-limit.js';
import type { GcpTokenManager } from './gcp-secret-manager-auth.js';

const PROVIDER = 'gcp-secret-manager';
/** How much later than the core deadline gax's own deadline is set. */

/** The loaded `@google-cloud/secret-manager` module. @internal */
export type GcpSdk = typeof import('@google-cloud/secret-manager');
/** The client class's instances. @internal */
export type GcpClient = InstanceType<GcpSdk['SecretManagerServiceClient']>;

/** Where and how to reach the service. */
export interface GcpEndpoint {
  host: string;
  port: number;
  /** `http` only for REST to loopback or with dangerouslyAllowInsecureHttp. */
  protocol: 'https' | 'http';
}

/** A cancellable gax call (what innerApiCalls methods return). */
type GaxCall<T> = Promise<T> & { cancel?: () => void };

/**
 * Builds the SDK client for one transport.
 *
 * @example
 * ```ts
 * const client = createGcpClient(sdk, 'grpc', { host: 'secretmanager.googleapis.com', port: 443, protocol: 'https' }, tokens, ca);
 * ```
 *
 * @internal
 */
export function createGcpClient(
  sdk: GcpSdk,
  transport: 'grpc' | 'rest',
  endpoint: GcpEndpoint,
  tokens: GcpTokenManager,
  ca: string | undefined,
  maxResponseBytes: number,
  maxSockets: number = DEFAULT_MAX_SOCKETS,
): GcpClient {
  const authClient = {
    universeDomain: 'googleapis.com',
    getRequestHeaders: async () => new Headers({ authorization: `Bearer ${tokens.bearer}` }),
    fetch: restFetch(tokens, ca, maxResponseBytes, maxSockets),
  };
  const common = { apiEndpoint: endpoint.host, port: endpoint.port, authClient: authClient as never };
  if (transport === 'rest') {
    return new sdk.SecretManagerServiceClient({
      ...common,
      fallback: true,
      protocol: endpoint.protocol,
    } as never);
  }
  if (endpoint.protocol === 'http') {
    throw new StorageError({
      code: 'InvalidConfig',
      message:
        'gRPC over plain text is not supported (the token would go in clear); use transport: "rest" with dangerouslyAllowInsecureHttp, or https',
      provider: PROVIDER,
      operation: 'connect',
    });
  }
  // The SDK's own grpc-js (through its google-gax), so the credentials objects are of the instance it uses.
  const { grpc } = requireBesidePeer<{ grpc: typeof import('@grpc/grpc-js') }>(
    '@google-cloud/secret-manager',
    'google-gax',
  );
  const calls = grpc.credentials.createFromMetadataGenerator((_params, callback) => {
    const metadata = new grpc.Metadata();
    metadata.add('authorization', `Bearer ${tokens.bearer}`);
    callback(null, metadata);
  });
  const loopback = endpoint.host === '127.0.0.1' || endpoint.host === '::1' || endpoint.host === '[::1]';
  return new sdk.SecretManagerServiceClient({
    ...common,
    sslCreds: grpc.credentials.combineChannelCredentials(
      grpc.credentials.createSsl(ca ? Buffer.from(ca) : null),
      calls,
    ),
    // The core's response bound, as gRPC's own message limit.
    'grpc.max_receive_message_length': maxResponseBytes,
    // An IP address is not a TLS server name: a loopback certificate names localhost.
    ...(loopback ? { 'grpc.ssl_target_name_override': 'localhost' } : {}),
  } as never);
}

/** gax's REST transport calls `authClient.fetch`: this one adds the bearer token and trusts the CA bundle. */
function restFetch(
  tokens: GcpTokenManager,
  ca: string | undefined,
  maxResponseBytes: number,
  maxSockets: number,
) {
  // The REST pool is bounded by `maxSockets`; gRPC multiplexes every call over one HTTP/2 connection.
  const agent = new https.Agent({ keepAlive: true, maxSockets, ...(ca ? { ca } : {}) });
  const plain = new http.Agent({ keepAlive: true, maxSockets });
  return (
    url: string | URL,
    init: { method?: string; headers?: Headers; body?: string | Buffer; signal?: AbortSignal },
  ) =>
    new Promise<unknown>((resolve, reject) => {
      const target = new URL(String(url));
      const headers: Record<string, string> = {};
      init.headers?.forEach((value, key) => {
        headers[key] = value;
      });
      headers.authorization = `Bearer ${tokens.bearer}`;
      const request = (target.protocol === 'http:' ? http : https).request(
        target,
        {
          method: init.method ?? 'GET',
          headers,
          agent: target.protocol === 'http:' ? plain : agent,
          signal: init.signal,
        },
        (res) => {
          readBoundedBody(res, maxResponseBytes, res.headers['content-length']).then((body) => {
            const status = res.statusCode ?? 0;
            resolve({
              ok: status >= 200 && status < 300,
              status,
              headers: new Headers(
                Object.entries(res.headers).flatMap(([k, v]) =>
                  v === undefined ? [] : [[k, String(v)]],
                ) as [string, string][],
              ),
              arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength),
              body: Readable.from([body]),
            });
          }, reject);
        },
      );
      request.on('error', reject);
      request.end(init.body);
    });
}

/**
 * Runs one RPC as one attempt: SDK retries off (`retry.retryCodes: []`; gax's `maxRetries: 0` would turn
 * the error into DEADLINE_EXCEEDED), gax's timeout just after the core deadline, and the attempt's stop
 * cancelling the call (gax's cancellable promise).
 *
 * @example
 * ```ts
 * const [version] = await callGcp(client, 'accessSecretVersion', { name }, attempt);
 * ```
 *
 * @internal
 */
export async function callGcp<T = unknown>(
  client: GcpClient,
  method: string,
  request: Record<string, unknown>,
  attempt: AttemptContext,
  extra: Record<string, unknown> = {},
): Promise<T> {
  const inner = (
    client as unknown as { innerApiCalls: Record<string, (r: unknown, o: unknown) => GaxCall<T>> }
  ).innerApiCalls[method]!;
  const routed = (request.name ?? request.parent) as string | undefined;
  const call = inner(request, {
    retry: { retryCodes: [] },
    // The routing header the generated method would add (it is bypassed to keep the cancellable promise).
    ...(routed
      ? {
          otherArgs: {
            headers: {
              'x-goog-request-params': `${request.name ? 'name' : 'parent'}=${encodeURIComponent(routed)}`,
            },
          },
        }
      : {}),
    // A backstop only: the core deadline (which cancels the call) must fire first, so the error is Timeout.
    timeout: backstopTimeoutMs(attempt),
    ...extra,
  });
  // onStop, not the attempt's AbortSignal: no AbortController per call (a stop that already happened
  // cancels at once, and the runner reports its reason).
  const removeCancel = attempt.onStop(() => call.cancel?.());
  try {
    return await call;
  } finally {
    removeCancel();
  }
}

/**
 * Opens (and closes) one connection to the API endpoint, TLS included, before the first call. grpc-js
 * reports a refused port, an unknown host or an untrusted certificate only as UNAVAILABLE with text;
 * this check surfaces the Node.js error itself, so the core transport policy decides what it means, the
 * same way on both transports.
 *
 * @example
 * ```ts
 * await probeEndpoint({ host: 'secretmanager.googleapis.com', port: 443, protocol: 'https' }, undefined, signal);
 * ```
 */
export function probeEndpoint(
  endpoint: GcpEndpoint,
  ca: string | undefined,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const loopback = endpoint.host === '127.0.0.1' || endpoint.host === '::1';
    const socket =
      endpoint.protocol === 'http'
        ? netConnect({ host: endpoint.host, port: endpoint.port })
        : tlsConnect({
            host: endpoint.host,
            port: endpoint.port,
            servername: loopback ? 'localhost' : endpoint.host,
            ALPNProtocols: ['h2', 'http/1.1'],
            ...(ca ? { ca } : {}),
          });
    const done = (error?: unknown) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    const onAbort = () => done(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once(endpoint.protocol === 'http' ? 'connect' : 'secureConnect', () => done());
    socket.once('error', done);
  });
}
