// Which proxy, if any, a request to a URL goes through when the environment names one: the variables the
// Azure SDK reads, in its order, and NO_PROXY read the way curl and Go read it (a superset of Azure's rules,
// so nothing Azure bypasses is proxied here).
import { BlockList, isIP, isIPv6 } from 'node:net';
import { StorageError } from './errors.js';

/**
 * The proxy variables, in the order they are tried (the Azure SDK's: `HTTPS_PROXY`, then `ALL_PROXY`, then
 * `HTTP_PROXY`); for each, the upper-case name wins over the lower-case one when both are set, as in the
 * Azure SDK and Go's `httpproxy`.
 *
 * @example
 * ```ts
 * import { PROXY_ENV_VARIABLES } from 'nebula-credential';
 * console.log(PROXY_ENV_VARIABLES[0]); // HTTPS_PROXY
 * ```
 */
export const PROXY_ENV_VARIABLES: readonly string[] = ['HTTPS_PROXY', 'ALL_PROXY', 'HTTP_PROXY'];

function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name] || env[name.toLowerCase()];
  return value?.trim() ? value.trim() : undefined;
}

/**
 * Parses a proxy URL: `http://` or `https://`, with optional `user:password@`; a bare `host:port` means
 * `http://`, as Go reads it. SOCKS and anything else is `InvalidConfig` naming `source`, never the password.
 *
 * @example
 * ```ts
 * import { parseProxyUrl } from 'nebula-credential';
 * console.log(parseProxyUrl('proxy.corp:3128', 'HTTPS_PROXY').href); // http://proxy.corp:3128/
 * ```
 */
export function parseProxyUrl(text: string, source: string, provider?: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    url = undefined;
  }
  const problem = !url
    ? 'is not a URL (expected http://host:port or https://host:port)'
    : url.protocol !== 'http:' && url.protocol !== 'https:'
      ? `uses ${url.protocol.slice(0, -1)}, which is not supported: only http:// and https:// proxies (HTTP CONNECT) are`
      : url.hostname === ''
        ? 'names no host'
        : undefined;
  if (url && !problem) return url;
  const message = `the proxy in ${source} ${problem}`;
  throw new StorageError({
    code: 'InvalidConfig',
    message,
    provider,
    operation: 'connect',
    retryable: false,
    details: { source, issues: [{ path: source, message }] },
  });
}

function bareHost(host: string): string {
  return host
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
}

/** One NO_PROXY entry against a host and port (curl's and Go's rules). */
function entryMatches(entry: string, host: string, port: string): boolean {
  if (entry === '*') return true;
  if (entry.includes('/')) {
    const [address, bits] = entry.split('/');
    const family = isIP(address ?? '');
    if (family === 0 || isIP(host) !== family) return false;
    const list = new BlockList();
    try {
      list.addSubnet(address!, Number(bits), family === 6 ? 'ipv6' : 'ipv4');
    } catch {
      return false;
    }
    return list.check(host, family === 6 ? 'ipv6' : 'ipv4');
  }
  let name = entry;
  // `host:port` and `[v6]:port` limit the entry to one port; a bare IPv6 address has colons but no port.
  const withPort = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
  if (withPort && !isIPv6(entry)) {
    if (withPort[2] !== port) return false;
    name = withPort[1]!;
  }
  name = bareHost(name).replace(/^\*?\./, '');
  if (isIP(name) !== 0 || isIP(host) !== 0) return name === host;
  return host === name || host.endsWith(`.${name}`);
}

/**
 * True when NO_PROXY (upper case winning over `no_proxy`) exempts `target`: `*`; a name, which covers its
 * subdomains too (`example.com`, `.example.com` and `*.example.com` alike); `host:port`; an IP address; a
 * CIDR block. Entries are separated by commas or spaces.
 *
 * @example
 * ```ts
 * import { bypassesProxy } from 'nebula-credential';
 * bypassesProxy(new URL('https://vault.example.com'), { NO_PROXY: '.example.com' }); // true
 * bypassesProxy(new URL('https://10.1.2.3:8443'), { NO_PROXY: '10.0.0.0/8' }); // true
 * ```
 */
export function bypassesProxy(target: URL, env: NodeJS.ProcessEnv = process.env): boolean {
  const list = envValue(env, 'NO_PROXY');
  if (!list) return false;
  const host = bareHost(target.hostname);
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  return list
    .split(/[\s,]+/)
    .filter((entry) => entry !== '')
    .some((entry) => entryMatches(entry.toLowerCase(), host, port));
}

/**
 * The proxy the environment names for a request to `target` (see {@link PROXY_ENV_VARIABLES}), or undefined
 * when none is set or NO_PROXY exempts the target ({@link bypassesProxy}). Loopback targets are proxied
 * unless NO_PROXY lists them, as the Azure SDK does. A malformed or SOCKS proxy is `InvalidConfig`.
 *
 * @example
 * ```ts
 * import { proxyFromEnvironment } from 'nebula-credential';
 * const proxy = proxyFromEnvironment(new URL('https://my-vault.vault.azure.net'));
 * console.log(proxy?.host); // e.g. proxy.corp:3128
 * ```
 */
export function proxyFromEnvironment(
  target: URL,
  env: NodeJS.ProcessEnv = process.env,
  provider?: string,
): URL | undefined {
  for (const name of PROXY_ENV_VARIABLES) {
    const value = envValue(env, name);
    if (value === undefined) continue;
    return bypassesProxy(target, env) ? undefined : parseProxyUrl(value, name, provider);
  }
  return undefined;
}
