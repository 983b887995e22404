// Which endpoints a provider may talk to, and which CAs it trusts: the https-only rule (plain http only to
// loopback, or with the one loudly named opt-in) for every source of an endpoint, and CA bundles loaded and
// checked the same way on every provider.
import { X509Certificate } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { StorageError, type StorageOperation } from './errors.js';
import { FILE_SIZE_LIMITS, readBoundedFile } from './files.js';
import type { OptionsValidator } from './options.js';

/**
 * The one opt-in to plain http to a host that is not loopback, shared by every network provider.
 *
 * @example
 * ```ts
 * import { INSECURE_HTTP_OPTION } from 'nebula-credential';
 * console.log(INSECURE_HTTP_OPTION); // dangerouslyAllowInsecureHttp
 * ```
 */
export const INSECURE_HTTP_OPTION = 'dangerouslyAllowInsecureHttp';

/**
 * True for a loopback host: `localhost`, an address in 127.0.0.0/8, `::1` (brackets allowed), or an
 * IPv4-mapped loopback address. Names under `.localhost` are not included: nothing guarantees they
 * resolve to this machine.
 *
 * @example
 * ```ts
 * import { isLoopbackHost } from 'nebula-credential';
 * isLoopbackHost('127.0.0.1'); // true
 * isLoopbackHost('[::1]'); // true
 * isLoopbackHost('vault.internal'); // false
 * ```
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  if (!isIPv6(host)) return false;
  if (host === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(host)) return true;
  // IPv4-mapped: `::ffff:127.0.0.1`, which URL parsing rewrites as `::ffff:7f00:1`.
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host)?.[1];
  if (dotted !== undefined) return dotted.startsWith('127.');
  const high = /^::ffff:([0-9a-f]{1,4}):[0-9a-f]{1,4}$/.exec(host)?.[1];
  return high !== undefined && Number.parseInt(high, 16) >> 8 === 127;
}

/**
 * Checks one endpoint against the https-only rule: `https:` always, `http:` only to a loopback host or
 * with `allowInsecureHttp`. Returns the parsed URL, or the problem in words (for an options issue).
 *
 * @example
 * ```ts
 * import { checkEndpoint } from 'nebula-credential';
 * checkEndpoint('http://10.0.0.5:8200', false).problem; // 'uses plain http to a host that is not loopback ...'
 * checkEndpoint('http://127.0.0.1:8200', false).url?.port; // '8200'
 * ```
 */
export function checkEndpoint(
  endpoint: string,
  allowInsecureHttp: boolean,
): { url: URL; problem?: undefined } | { url?: undefined; problem: string } {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return { problem: 'must be an absolute URL such as https://host:port' };
  }
  if (url.protocol === 'https:') return { url };
  if (url.protocol !== 'http:') return { problem: `must be an https:// URL (got ${url.protocol})` };
  if (isLoopbackHost(url.hostname) || allowInsecureHttp) return { url };
  return {
    problem:
      `uses plain http to ${url.hostname}, which is not a loopback host, so credentials and tokens would cross ` +
      `the network in clear text: use https, or set ${INSECURE_HTTP_OPTION}: true if this network is trusted`,
  };
}

/**
 * Reads an endpoint option and `dangerouslyAllowInsecureHttp` into `v`, adding an issue at `path` when the
 * endpoint breaks the https-only rule. Returns the parsed URL and the text as given (both only when valid),
 * and the opt-in.
 *
 * @example
 * ```ts
 * import { OptionsValidator, readEndpointOption } from 'nebula-credential';
 * const v = new OptionsValidator('hashicorp-vault', { address: 'http://10.0.0.5:8200' });
 * const { url } = readEndpointOption(v, 'address', { required: true });
 * v.throwIfInvalid(); // InvalidConfig: address: uses plain http to 10.0.0.5, ...
 * ```
 */
export function readEndpointOption(
  v: OptionsValidator,
  path: string,
  rules: { required?: boolean; rule?: string } = {},
): { url: URL | undefined; text: string | undefined; allowInsecureHttp: boolean } {
  const text = v.string(path, { nonEmpty: true, ...rules });
  const allowInsecureHttp = v.boolean(INSECURE_HTTP_OPTION) ?? false;
  if (text === undefined || text === '') return { url: undefined, text: undefined, allowInsecureHttp };
  const checked = checkEndpoint(text, allowInsecureHttp);
  if (checked.problem) v.add(path, checked.problem);
  return { url: checked.url, text: checked.url ? text : undefined, allowInsecureHttp };
}

/**
 * Where an endpoint came from, for {@link assertSecureEndpoint}.
 *
 * @example
 * ```ts
 * const where: EndpointSource = { provider: 'aws-secrets-manager', source: 'AWS_ENDPOINT_URL', allowInsecureHttp: false };
 * ```
 */
export interface EndpointSource {
  provider: string;
  /** The option, environment variable or file that named the endpoint (`endpoint`, `AWS_ENDPOINT_URL`, `kubeconfig <path>`). */
  source: string;
  /** The provider's `dangerouslyAllowInsecureHttp`. */
  allowInsecureHttp: boolean;
  operation?: StorageOperation | undefined;
}

/**
 * {@link checkEndpoint} for an endpoint found at run time (an SDK's environment variable, a kubeconfig):
 * throws `InvalidConfig` naming the source.
 *
 * @example
 * ```ts
 * import { assertSecureEndpoint } from 'nebula-credential';
 * const url = assertSecureEndpoint(process.env.AWS_ENDPOINT_URL ?? 'https://secretsmanager.eu-west-1.amazonaws.com',
 *   { provider: 'aws-secrets-manager', source: 'AWS_ENDPOINT_URL', allowInsecureHttp: false });
 * ```
 */
export function assertSecureEndpoint(endpoint: string, where: EndpointSource): URL {
  const result = checkEndpoint(endpoint, where.allowInsecureHttp);
  if (result.url) return result.url;
  const message = `${where.source} (${describeEndpoint(endpoint)}) ${result.problem}`;
  throw new StorageError({
    code: 'InvalidConfig',
    message,
    provider: where.provider,
    operation: where.operation ?? 'connect',
    retryable: false,
    details: { source: where.source, issues: [{ path: where.source, message: result.problem }] },
  });
}

/** The URL without credentials, query or fragment: safe for a message. */
function describeEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
  } catch {
    return 'not a URL';
  }
}

/**
 * The CA bundle option every network provider shares. Both may be given; the certificates of both are
 * trusted. Either replaces Node's default roots for that provider's connections.
 *
 * @example
 * ```ts
 * const tls: TlsTrustOptions = { caFile: '/etc/ssl/private-ca.pem' };
 * ```
 */
export interface TlsTrustOptions {
  /** Path of a PEM file of CA certificates, read at `connect()`. */
  caFile?: string | undefined;
  /** PEM text of CA certificates. */
  ca?: string | undefined;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Why `text` is not a usable PEM bundle of certificates (none in it, or one that does not parse), or
 * undefined when every certificate parses.
 *
 * @example
 * ```ts
 * import { pemCertificatesProblem } from 'nebula-credential';
 * pemCertificatesProblem('not a pem'); // 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)'
 * ```
 */
export function pemCertificatesProblem(text: string): string | undefined {
  const blocks = text.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) return 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)';
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch {
      return `certificate ${index + 1} of ${blocks.length} is not a valid X.509 certificate`;
    }
  }
  return undefined;
}

/**
 * Validates the `tls` option object into `v`: `caFile` a non-empty path, `ca` PEM certificates, and no
 * other keys than those and `extraKeys` (a provider's own, such as Vault's `rejectUnauthorized`).
 *
 * @example
 * ```ts
 * import { OptionsValidator, readTlsOptions } from 'nebula-credential';
 * const v = new OptionsValidator('hashicorp-vault', { tls: { caFile: '/etc/ssl/vault-ca.pem' } });
 * const tls = readTlsOptions(v);
 * v.throwIfInvalid();
 * ```
 */
export function readTlsOptions(
  v: OptionsValidator,
  extraKeys: readonly string[] = [],
): TlsTrustOptions | undefined {
  const tls = v.get('tls');
  if (tls === undefined) return undefined;
  if (typeof tls !== 'object' || tls === null || Array.isArray(tls)) {
    v.add('tls', 'must be an object such as { caFile: "/path/ca.pem" }');
    return undefined;
  }
  for (const key of Object.keys(tls)) {
    if (key !== 'caFile' && key !== 'ca' && !extraKeys.includes(key)) {
      v.add(`tls.${key}`, `unknown option (known: caFile, ca${extraKeys.map((k) => `, ${k}`).join('')})`);
    }
  }
  const caFile = v.string('tls.caFile', { nonEmpty: true });
  const ca = v.string('tls.ca', { nonEmpty: true });
  if (ca !== undefined && ca.length > 0) {
    const problem = pemCertificatesProblem(ca);
    if (problem) v.add('tls.ca', `${problem}; give PEM text here, or a file path in tls.caFile`);
  }
  return { caFile, ca };
}

/**
 * Context of {@link loadCaBundle}.
 *
 * @example
 * ```ts
 * const context: CaBundleContext = { provider: 'aws-secrets-manager', fileSource: 'AWS_CA_BUNDLE' };
 * ```
 */
export interface CaBundleContext {
  provider: string;
  /** Aborts the file read: pass the connect deadline's signal. */
  signal?: AbortSignal | undefined;
  /** The setting that named the file, for messages. Default `tls.caFile`. */
  fileSource?: string | undefined;
  operation?: StorageOperation | undefined;
}

/**
 * The PEM text to trust: `tls.ca`, and the certificates of `tls.caFile` (read with the bounded, FIFO-safe
 * {@link readBoundedFile}), each checked to be PEM certificates. Undefined when neither is given (Node's
 * default roots then apply). Every failure is `InvalidConfig` naming the option, never the content.
 *
 * @example
 * ```ts
 * import { loadCaBundle } from 'nebula-credential';
 * const ca = await loadCaBundle({ caFile: '/etc/ssl/vault-ca.pem' }, { provider: 'hashicorp-vault' });
 * ```
 */
export async function loadCaBundle(
  tls: TlsTrustOptions | undefined,
  context: CaBundleContext,
): Promise<string | undefined> {
  const parts: string[] = [];
  if (tls?.ca) parts.push(tls.ca);
  if (tls?.caFile) {
    const option = context.fileSource ?? 'tls.caFile';
    const text = (
      await readBoundedFile(tls.caFile, {
        maxBytes: FILE_SIZE_LIMITS.caBundle,
        what: 'the CA bundle',
        option,
        provider: context.provider,
        operation: context.operation ?? 'connect',
        signal: context.signal,
      })
    ).toString('utf8');
    const problem = pemCertificatesProblem(text);
    if (problem) {
      const message = `the CA bundle ${JSON.stringify(tls.caFile)} (${option}) ${problem}`;
      throw new StorageError({
        code: 'InvalidConfig',
        message,
        provider: context.provider,
        operation: context.operation ?? 'connect',
        details: { path: tls.caFile, option, issues: [{ path: option, message: problem }] },
      });
    }
    parts.push(text);
  }
  return parts.length === 0 ? undefined : parts.join('\n');
}
