// The HTTP library under client-node's generated API: its default (node-fetch in 1.x, undici's fetch in 2.x)
// buffers every body whole with no bound, so each call hands the client this one instead, which reads through the core bound.

import { type Agent, type AgentOptions, Agent as HttpAgent, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import type { Dispatcher, Agent as UndiciAgent } from 'undici';
import { requestBounded } from '../core/bounded-request.js';
import type { AttemptContext } from '../core/operation.js';
import { DEFAULT_TIMEOUTS } from '../core/options.js';
import { parseProxyUrl } from '../core/proxy-env.js';
import { HttpProxyTunnelAgent, ProxyTunnelAgent, type ProxyTunnelOptions } from '../core/proxy-tunnel.js';
import { dispatchBounded, joinedHeaders } from '../core/undici-exchange.js';
import { KUBERNETES } from './kubernetes-secrets-options.js';

type Sdk = typeof import('@kubernetes/client-node');

/**
 * What this library uses of client-node's RequestContext (the same in 1.x and 2.x; 1.x also carries an
 * agent and 2.x an undici dispatcher, both the client's own per-request ones, which this library ignores).
 */
interface KubeRequest {
  getUrl(): string;
  getHttpMethod(): string;
  getHeaders(): Record<string, string>;
  getBody(): unknown;
  getSignal(): AbortSignal | undefined;
}

/**
 * A client-node `HttpLibrary` (per-call `httpApi`) that sends over the provider's own transport (an undici
 * dispatcher for a direct connection, the keep-alive agent for a CONNECT tunnel; both with the cluster's TLS
 * settings, so one pool serves every call, with client-node 1.x and 2.x alike) and reads at most `maxBytes`
 * of the answer: a larger one fails with the core ResponseTooLargeError, mapped to `SizeLimitExceeded`, and
 * its connection is dropped. The attempt's stop hook cancels the request at the deadline.
 * @internal
 */
export function boundedKubeHttpLibrary(
  sdk: Sdk,
  maxBytes: number,
  transport: { agent: Agent } | { dispatcher: Dispatcher },
  attempt?: Pick<AttemptContext, 'onStop'>,
) {
  return {
    send(request: KubeRequest) {
      const call = { sdk, maxBytes, request, attempt };
      const promise =
        'dispatcher' in transport
          ? sendThroughDispatcher(transport.dispatcher, call)
          : sendThroughAgent(transport.agent, call);
      // The generated client takes anything with toPromise() as its Observable.
      return { toPromise: () => promise };
    },
  };
}

/** One call of the generated client, with what reading its answer needs. */
interface KubeCall {
  sdk: Sdk;
  maxBytes: number;
  request: KubeRequest;
  attempt: Pick<AttemptContext, 'onStop'> | undefined;
}

/** One call over a node:http(s) agent: the provider's, or a CONNECT tunnel. */
function sendThroughAgent(agent: Agent, call: KubeCall): Promise<InstanceType<Sdk['ResponseContext']>> {
  const { sdk, maxBytes, request, attempt } = call;
  return requestBounded(
    new URL(request.getUrl()),
    {
      method: request.getHttpMethod(),
      headers: request.getHeaders(),
      body: requestBytes(request.getBody()),
      agent,
      signal: request.getSignal(),
      // The attempt's hook destroys the request at the deadline (and drops its socket) with no signal.
      onStop: attempt && ((cancel) => attempt.onStop(cancel)),
    },
    maxBytes,
  ).then((res) => responseContext(sdk, res.status, res.headers, res.body));
}

/**
 * One call over an undici dispatcher that connects as the provider's agent does (the core
 * {@link dispatchBounded}: the body bounded chunk by chunk, no stream per call): what direct connections take.
 */
function sendThroughDispatcher(
  dispatcher: Dispatcher,
  call: KubeCall,
): Promise<InstanceType<Sdk['ResponseContext']>> {
  const { sdk, maxBytes, request, attempt } = call;
  const url = new URL(request.getUrl());
  const body = requestBytes(request.getBody());
  return dispatchBounded(
    dispatcher,
    {
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: request.getHttpMethod() as Dispatcher.HttpMethod,
      headers: request.getHeaders(),
      body: body ?? null,
    },
    maxBytes,
    attempt ? { attempt } : { signal: request.getSignal() },
  ).then((res) => responseContext(sdk, res.status, res.headers, res.body));
}

/**
 * The options of an undici dispatcher that connects as `agent` does (its CA, client certificate, server name
 * and verification), or undefined for an agent that must stay: a CONNECT tunnel.
 * @internal
 */
export function undiciOptionsLike(agent: Agent, maxSockets: number): UndiciAgent.Options | undefined {
  if (agent instanceof ProxyTunnelAgent || agent instanceof HttpProxyTunnelAgent) return undefined;
  const o = (agent as Agent & { options: HttpsAgentOptions }).options;
  const connect = {
    ...(o.ca === undefined ? {} : { ca: o.ca }),
    ...(o.cert === undefined ? {} : { cert: o.cert }),
    ...(o.key === undefined ? {} : { key: o.key }),
    ...(o.servername === undefined ? {} : { servername: o.servername }),
    ...(o.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
  };
  // The operation's deadline is the one timeout; undici's own would cut a slow answer with another error.
  return { connections: maxSockets, headersTimeout: 0, bodyTimeout: 0, connect };
}

/** An answer as client-node's ResponseContext (1.x and 2.x). */
function responseContext(sdk: Sdk, status: number, headers: IncomingHttpHeaders, bytes: Buffer) {
  // 2.x's ResponseBody also has stream(), which may be null; the Secret calls read text.
  // (A variable, not a literal argument: 1.x's type has no stream.)
  const answer = {
    text: async () => bytes.toString('utf8'),
    binary: async () => bytes,
    stream: () => null,
  };
  return new sdk.ResponseContext(status, joinedHeaders(headers), answer);
}

/** The request body as the generated client builds it: JSON text, or protobuf / patch bytes. */
function requestBytes(body: unknown): string | Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  return String(body);
}

/**
 * A keep-alive agent of the current cluster with `options` (its TLS settings), through the bounded CONNECT
 * tunnel when the cluster names a `proxy-url` (http or https; SOCKS is `InvalidConfig`): client-node's own
 * proxy transport would read every body unbounded. As in client-go, the proxy applies to every request of
 * that cluster (no NO_PROXY), and an https proxy is trusted with the cluster's CA.
 * @internal
 */
export function clusterAgent(
  secure: boolean,
  options: HttpsAgentOptions,
  kc: { getCurrentCluster(): { name: string; proxyUrl?: string | undefined } | null },
  connectMs = DEFAULT_TIMEOUTS.connectMs,
): Agent {
  const cluster = kc.getCurrentCluster();
  if (!cluster?.proxyUrl) return secure ? new HttpsAgent(options) : new HttpAgent(options as AgentOptions);
  const proxy = parseProxyUrl(cluster.proxyUrl, `the proxy-url of cluster "${cluster.name}"`, KUBERNETES);
  const tunnel: ProxyTunnelOptions = {
    proxy,
    timeoutMs: connectMs,
    ...(options.ca === undefined ? {} : { ca: options.ca as string | Buffer }),
    ...(options.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
  };
  return secure
    ? new ProxyTunnelAgent(tunnel, options)
    : new HttpProxyTunnelAgent(tunnel, options as AgentOptions);
}
