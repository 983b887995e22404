// The one HTTP CONNECT tunnel of the library: the proxy's reply head is read through a bound and under a
// deadline (https-proxy-agent buffers it without either), the proxy password never reaches a message, and
// the target's TLS runs over the tunnel with the provider's own CA and server name.
import { type ClientRequestArgs, Agent as HttpAgent, type AgentOptions as HttpAgentOptions } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import { isIP, connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { StorageError, type StorageErrorCode } from './errors.js';

/**
 * The largest CONNECT reply head read, in bytes: Node's default `maxHeaderSize`, which bounds every other
 * response head the library reads.
 *
 * @example
 * ```ts
 * import { PROXY_HEAD_LIMIT } from 'nebula-credential';
 * console.log(PROXY_HEAD_LIMIT); // 16384
 * ```
 */
export const PROXY_HEAD_LIMIT = 16 * 1024;

/**
 * The `code` a tunnel failure carries through SDK wrappers that keep only `code` and `message`.
 *
 * @example
 * ```ts
 * import { PROXY_TUNNEL_ERROR_CODE } from 'nebula-credential';
 * console.log(PROXY_TUNNEL_ERROR_CODE); // ERR_NEBULA_PROXY_TUNNEL
 * ```
 */
export const PROXY_TUNNEL_ERROR_CODE = 'ERR_NEBULA_PROXY_TUNNEL';

/**
 * What went wrong opening a tunnel: `unreachable` (no connection to the proxy), `status` (a non-2xx
 * reply), `head-too-large`, `timeout`, `closed` (the proxy hung up before its reply ended).
 *
 * @example
 * ```ts
 * const kind: ProxyTunnelFailure = 'head-too-large';
 * ```
 */
export type ProxyTunnelFailure = 'unreachable' | 'status' | 'head-too-large' | 'timeout' | 'closed';

/**
 * A failed CONNECT, raised inside an SDK's request; {@link proxyTunnelError} turns it into the StorageError.
 * Its message names the proxy by scheme, host and port only.
 *
 * @example
 * ```ts
 * import { ProxyTunnelError } from 'nebula-credential';
 * const failure = new ProxyTunnelError('status', 'the proxy http://proxy:3128 refused', { status: 403 });
 * console.log(failure.code); // ERR_NEBULA_PROXY_TUNNEL
 * ```
 */
export class ProxyTunnelError extends Error {
  /** Always `'ProxyTunnelError'`. */
  override readonly name = 'ProxyTunnelError';
  /** Always {@link PROXY_TUNNEL_ERROR_CODE}. */
  readonly code = PROXY_TUNNEL_ERROR_CODE;
  /** What went wrong; decides the StorageError code. */
  readonly failure: ProxyTunnelFailure;
  /** The proxy's reply status, for `status`. */
  readonly status: number | undefined;
  /** The bound, for `head-too-large`. */
  readonly limitBytes: number | undefined;
  /** The deadline in ms, for `timeout`. */
  readonly durationMs: number | undefined;

  /** A failure of kind `failure`; `message` must not hold the proxy's userinfo. */
  constructor(
    failure: ProxyTunnelFailure,
    message: string,
    facts: { status?: number; limitBytes?: number; durationMs?: number; cause?: unknown } = {},
  ) {
    super(message, facts.cause === undefined ? undefined : { cause: facts.cause });
    this.failure = failure;
    this.status = facts.status;
    this.limitBytes = facts.limitBytes;
    this.durationMs = facts.durationMs;
    remember(this);
  }
}

// Azure's RestError keeps only `code` and `message` of a request error; the facts are found again by message.
const recent = new Map<string, ProxyTunnelError>();
function remember(error: ProxyTunnelError): void {
  recent.delete(error.message);
  recent.set(error.message, error);
  if (recent.size > 32) recent.delete(recent.keys().next().value!);
}

/**
 * The {@link ProxyTunnelError} in `error`'s cause chain, also when an SDK kept only its code and message.
 *
 * @example
 * ```ts
 * import { findProxyTunnelError } from 'nebula-credential';
 * console.log(findProxyTunnelError(new Error('x'))); // undefined
 * ```
 */
export function findProxyTunnelError(error: unknown): ProxyTunnelError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    if (current instanceof ProxyTunnelError) return current;
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (code === PROXY_TUNNEL_ERROR_CODE && typeof message === 'string') return recent.get(message);
    current = cause;
  }
  return undefined;
}

/**
 * The StorageError for a tunnel failure anywhere in `error`'s cause chain, or undefined when there is none:
 *
 * | failure | code | retryable |
 * | --- | --- | --- |
 * | 407 (proxy credentials missing or wrong) | `AuthenticationFailed` | no |
 * | other non-2xx reply | `Unavailable`, `details.status` | 5xx only |
 * | reply head over {@link PROXY_HEAD_LIMIT} | `Unavailable`, `details.limitBytes` | no |
 * | no reply within the deadline; proxy unreachable or hung up | `Unavailable` | yes |
 *
 * @example
 * ```ts
 * import { proxyTunnelError } from 'nebula-credential';
 * const mapped = proxyTunnelError(caught, { provider: 'kubernetes', operation: 'connect' });
 * if (mapped) throw mapped;
 * ```
 */
export function proxyTunnelError(
  error: unknown,
  context: { provider: string; operation?: StorageError['operation']; credentialId?: string | undefined },
): StorageError | undefined {
  const found = findProxyTunnelError(error);
  if (!found) return undefined;
  const status = found.status;
  const [code, retryable]: [StorageErrorCode, boolean] =
    found.failure === 'status' && status === 407
      ? ['AuthenticationFailed', false]
      : found.failure === 'status'
        ? ['Unavailable', status !== undefined && status >= 500]
        : ['Unavailable', found.failure !== 'head-too-large'];
  return new StorageError({
    code,
    message: found.message,
    provider: context.provider,
    operation: context.operation,
    credentialId: context.credentialId,
    retryable,
    details: {
      transport: 'proxy',
      proxyFailure: found.failure,
      ...(status === undefined ? {} : { status }),
      ...(found.limitBytes === undefined ? {} : { limitBytes: found.limitBytes }),
      ...(found.durationMs === undefined ? {} : { durationMs: found.durationMs }),
    },
    cause: found,
  });
}

/**
 * How to reach the proxy: its URL (userinfo becomes `Proxy-Authorization: Basic`), how long the CONNECT may
 * take, and for an https proxy the TLS trust (by default the target's, as Go's transport does).
 *
 * @example
 * ```ts
 * const proxy: ProxyTunnelOptions = { proxy: new URL('http://user:pass@proxy.corp:3128'), timeoutMs: 2000 };
 * ```
 */
export interface ProxyTunnelOptions {
  proxy: URL;
  /** Deadline of the connection to the proxy and its CONNECT reply. */
  timeoutMs: number;
  /** CA certificates for an https proxy; default: Node's roots. */
  ca?: string | Buffer | undefined;
  rejectUnauthorized?: boolean | undefined;
}

/** The proxy in messages: scheme, host and port, never the userinfo. */
function describe(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

function authorization(proxy: URL): string | undefined {
  if (proxy.username === '' && proxy.password === '') return undefined;
  const pair = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Opens a CONNECT tunnel to `host:port` through the proxy and resolves with the raw socket, ready for TLS
 * (or plain HTTP) to the target. The reply head is bounded by {@link PROXY_HEAD_LIMIT} and the whole exchange
 * by `timeoutMs`; every failure is a {@link ProxyTunnelError} and the socket is destroyed.
 *
 * @example
 * ```ts
 * import { openProxyTunnel } from 'nebula-credential';
 * const socket = await openProxyTunnel('vault.example.com', 443, { proxy: new URL('http://proxy:3128'), timeoutMs: 2000 });
 * ```
 */
export function openProxyTunnel(host: string, port: number, options: ProxyTunnelOptions): Promise<Socket> {
  const { proxy, timeoutMs } = options;
  const where = describe(proxy);
  const proxyHost = proxy.hostname.replace(/^\[|\]$/g, '');
  const proxyPort = Number(proxy.port || (proxy.protocol === 'https:' ? 443 : 80));
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new Promise<Socket>((resolve, reject) => {
    const socket: Socket =
      proxy.protocol === 'https:'
        ? tlsConnect({
            host: proxyHost,
            port: proxyPort,
            ...(isIP(proxyHost) === 0 ? { servername: proxyHost } : {}),
            ...(options.ca === undefined ? {} : { ca: options.ca }),
            ...(options.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
          })
        : netConnect({ host: proxyHost, port: proxyPort });
    let head = Buffer.alloc(0);
    let settled = false;
    const fail = (error: ProxyTunnelError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(
      () =>
        fail(
          new ProxyTunnelError(
            'timeout',
            `the proxy ${where} did not answer CONNECT ${authority} within ${timeoutMs} ms`,
            { durationMs: timeoutMs },
          ),
        ),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf(HEAD_END);
      if (end === -1 ? head.length > PROXY_HEAD_LIMIT : end > PROXY_HEAD_LIMIT) {
        fail(
          new ProxyTunnelError(
            'head-too-large',
            `the proxy ${where} answered CONNECT ${authority} with a reply head over ${PROXY_HEAD_LIMIT} bytes; the connection was dropped`,
            { limitBytes: PROXY_HEAD_LIMIT },
          ),
        );
        return;
      }
      if (end === -1) return;
      const statusLine = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      const status = Number(/^HTTP\/\d(?:\.\d)? (\d{3})/.exec(statusLine)?.[1] ?? Number.NaN);
      if (!(status >= 200 && status < 300)) {
        const said = Number.isNaN(status) ? 'a reply that is not HTTP' : `HTTP ${status}`;
        const hint =
          status === 407
            ? ': the proxy credentials (user:password in the proxy URL) are missing or wrong'
            : '; the proxy may not allow this host or port';
        fail(
          new ProxyTunnelError(
            'status',
            `the proxy ${where} answered CONNECT ${authority} with ${said}${hint}`,
            {
              ...(Number.isNaN(status) ? {} : { status }),
            },
          ),
        );
        return;
      }
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.pause();
      // Bytes after the head are already the target's.
      const rest = head.subarray(end + HEAD_END.length);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    const onError = (cause: Error & { code?: string }) =>
      fail(
        new ProxyTunnelError(
          'unreachable',
          `could not reach the proxy ${where}${cause.code ? ` (${cause.code})` : ''}; check the proxy URL and that it is running`,
          { cause },
        ),
      );
    const onClose = () =>
      fail(
        new ProxyTunnelError(
          'closed',
          `the proxy ${where} closed the connection before answering CONNECT ${authority}`,
        ),
      );
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    const auth = authorization(proxy);
    socket.write(
      `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth ? `Proxy-Authorization: ${auth}\r\n` : ''}\r\n`,
    );
  });
}

type Callback = (error: Error | null, stream: Duplex) => void;

/**
 * An https agent whose every connection is a {@link openProxyTunnel} tunnel, then TLS to the target with the
 * agent's (and request's) TLS options and the target's server name. Keep-alive pooling works as usual.
 *
 * @example
 * ```ts
 * import { ProxyTunnelAgent } from 'nebula-credential';
 * const agent = new ProxyTunnelAgent({ proxy: new URL('http://proxy:3128'), timeoutMs: 2000 }, { keepAlive: true, ca });
 * ```
 */
export class ProxyTunnelAgent extends HttpsAgent {
  readonly #tunnel: ProxyTunnelOptions;

  /** `tunnel` says how to reach the proxy (its `ca` defaults to the agent's); `options` are the https Agent's. */
  constructor(tunnel: ProxyTunnelOptions, options: HttpsAgentOptions = {}) {
    super(options);
    this.#tunnel = { ca: options.ca as string | Buffer | undefined, ...tunnel };
  }

  /** Node's Agent calls this for a new socket; the callback form lets the tunnel open first. */
  override createConnection(options: ClientRequestArgs, callback?: Callback): undefined {
    const host = options.host ?? 'localhost';
    const tls = options as ConnectionOptions;
    openProxyTunnel(host, Number(options.port ?? 443), this.#tunnel).then(
      (socket) => {
        const servername = tls.servername || (isIP(host) === 0 ? host : undefined);
        const { servername: _given, ...rest } = tls;
        callback?.(null, tlsConnect({ ...rest, socket, ...(servername ? { servername } : {}) }));
      },
      (error: Error) => callback?.(error, undefined as never),
    );
    return undefined;
  }
}

/**
 * The plain-http sibling of {@link ProxyTunnelAgent}: HTTP over a CONNECT tunnel (for an http server behind
 * a kubeconfig `proxy-url`).
 *
 * @example
 * ```ts
 * import { HttpProxyTunnelAgent } from 'nebula-credential';
 * const agent = new HttpProxyTunnelAgent({ proxy: new URL('http://proxy:3128'), timeoutMs: 2000 }, { keepAlive: true });
 * ```
 */
export class HttpProxyTunnelAgent extends HttpAgent {
  readonly #tunnel: ProxyTunnelOptions;

  /** `tunnel` says how to reach the proxy; `options` are the http Agent's. */
  constructor(tunnel: ProxyTunnelOptions, options: HttpAgentOptions = {}) {
    super(options);
    this.#tunnel = tunnel;
  }

  /** Node's Agent calls this for a new socket; the callback form lets the tunnel open first. */
  override createConnection(options: ClientRequestArgs, callback?: Callback): undefined {
    openProxyTunnel(options.host ?? 'localhost', Number(options.port ?? 80), this.#tunnel).then(
      (socket) => {
        socket.resume();
        callback?.(null, socket);
      },
      (error: Error) => callback?.(error, undefined as never),
    );
    return undefined;
  }
}
