// One connection pool per provider for both majors of @kubernetes/client-node. Both create a fresh agent (so
// a fresh TLS handshake) for every request; the provider instead hands each request one keep-alive pool
// through a per-call middleware. 1.x sends with node-fetch and takes a node:http(s) Agent (`setAgent`); 2.x
// sends with undici's fetch and takes an undici Dispatcher (`setDispatcher`).

import type { Agent } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { createAgent } from './kubernetes-secrets-auth.js';

/** The request context methods the middleware uses; 1.x has `setAgent`, 2.x `setDispatcher`. */
interface KubeRequestContext {
  setSignal(signal: AbortSignal): void;
  setHeaderParam(key: string, value: string): void;
  setAgent?(agent: Agent): void;
  setDispatcher?(dispatcher: unknown): void;
}

/** An undici Dispatcher, as far as closing it goes. */
interface Dispatcher {
  destroy(): Promise<void>;
}

/**
 * The keep-alive pool every request of one connection goes through.
 * @internal
 */
export interface KubeTransport {
  readonly kind: 'agent' | 'dispatcher';
  apply(context: KubeRequestContext): void;
  close(): Promise<void>;
}

/** The loaded SDK, as far as telling the majors apart goes. */
interface SdkShape {
  RequestContext?: { prototype: object };
}

/**
 * The pool for this configuration, or undefined where the client must keep its own per-request agents:
 * proxies, and credential plugins (which may hand out a client certificate per call).
 * @internal
 */
export async function createKubeTransport(
  sdk: SdkShape,
  kc: KubeConfig,
  signal?: AbortSignal,
): Promise<KubeTransport | undefined> {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster || cluster.proxyUrl || user?.exec || user?.authProvider) return undefined;
  if (!('setDispatcher' in (sdk.RequestContext?.prototype ?? {}))) {
    const agent = await createAgent(kc, signal);
    return {
      kind: 'agent',
      apply: (context) => context.setAgent?.(agent),
      close: async () => agent.destroy(),
    };
  }
  // 2.x builds an undici Agent from the kubeconfig's TLS material on every request; building it once here,
  // through the same public method, keeps the client's own TLS handling (CA, client certificate, server
  // name, skip-verify) and adds reuse.
  let dispatcher: Dispatcher | undefined;
  await kc.applySecurityAuthentication({
    setHeaderParam: () => {},
    setDispatcher: (d: Dispatcher) => {
      dispatcher = d;
    },
  } as unknown as Parameters<KubeConfig['applySecurityAuthentication']>[0]);
  // No TLS material at all: the client sends through undici's global pool, which already keeps connections.
  if (!dispatcher) return undefined;
  const pool = dispatcher;
  return {
    kind: 'dispatcher',
    apply: (context) => context.setDispatcher?.(pool),
    close: () => pool.destroy(),
  };
}

/**
 * The middleware of one call: the deadline's signal, the pool and the (fresh) in-cluster token. The generated
 * client runs it as its minimal Observable: anything with `toPromise()`.
 * @internal
 */
export function perCallMiddleware(
  signal: AbortSignal,
  transport: KubeTransport | undefined,
  token: string | undefined,
) {
  const observable = <R>(value: R) => ({ toPromise: () => Promise.resolve(value) });
  return {
    pre: (context: KubeRequestContext) => {
      context.setSignal(signal);
      transport?.apply(context);
      if (token !== undefined) context.setHeaderParam('Authorization', `Bearer ${token}`);
      return observable(context);
    },
    post: <R>(context: R) => observable(context),
  };
}
