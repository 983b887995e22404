// Which agent an https request of a provider's own transport goes through when the environment names a
// proxy: one bounded CONNECT tunnel agent per proxy, chosen per URL as proxy-env.ts reads the environment.

import { proxyFromEnvironment } from './proxy-env.js';
import { ProxyTunnelAgent } from './proxy-tunnel.js';

/**
 * Picks the agent of one request: a {@link ProxyTunnelAgent} for an https URL the environment proxies,
 * `null` for an https URL it does not (connect directly), `undefined` for any other scheme (plain http
 * keeps its caller's choice).
 *
 * @example
 * ```ts
 * const agent = route(new URL('https://oauth2.googleapis.com/token')) ?? directAgent;
 * ```
 *
 * @internal
 */
export type ProxyTunnelRoute = (url: URL) => ProxyTunnelAgent | null | undefined;

/**
 * The bounded CONNECT tunnels of one provider connection: one keep-alive agent per proxy, trusting `ca` for
 * the target (and an https proxy), each CONNECT under `timeoutMs`. `destroy` closes every tunnel's sockets.
 * With `clientCertificate`, the TLS to the target (inside the tunnel) presents that pair; the proxy never
 * sees it (an https proxy's own TLS takes the CA only).
 *
 * @example
 * ```ts
 * const tunnels = proxyTunnelRoutes({ provider: 'gcp-secret-manager', timeoutMs: 2000 });
 * const agent = tunnels.route(new URL('https://oauth2.googleapis.com/token'));
 * ```
 *
 * @internal
 */
export function proxyTunnelRoutes(options: {
  provider: string;
  timeoutMs: number;
  ca?: string | undefined;
  maxSockets?: number | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  clientCertificate?: { cert: string | Buffer; key: string | Buffer } | undefined;
}): { route: ProxyTunnelRoute; destroy(): void } {
  const agents = new Map<string, ProxyTunnelAgent>();
  const route: ProxyTunnelRoute = (url) => {
    if (url.protocol !== 'https:') return undefined;
    const proxy = proxyFromEnvironment(url, options.env ?? process.env, options.provider);
    if (!proxy) return null;
    let agent = agents.get(proxy.href);
    if (!agent) {
      agent = new ProxyTunnelAgent(
        { proxy, timeoutMs: options.timeoutMs },
        {
          keepAlive: true,
          ...(options.maxSockets === undefined ? {} : { maxSockets: options.maxSockets }),
          ...(options.ca ? { ca: options.ca } : {}),
          ...options.clientCertificate,
        },
      );
      agents.set(proxy.href, agent);
    }
    return agent;
  };
  return {
    route,
    destroy: () => {
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
    },
  };
}
