// Which endpoints a provider may talk to, and which CAs it trusts: the https-only rule (plain http only to
// loopback, or with the one loudly named opt-in) for every source of an endpoint, and CA bundles loaded and
// checked the same way on every provider.
import { X509Certificate } from 'node:crypto';
import { StorageError, type StorageOperation } from './errors.js';
import { FILE_SIZE_LIMITS, readBoundedFile } from './files.js';
import { option, type Shape } from './options-schema.js';

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
  // node:net is fetched here, not imported: loading it costs ~1.5 ms of every CLI start, local `get`
  // included, and only a network provider's checks need it.
  const { isIPv4, isIPv6 } = process.getBuiltinModule('node:net');
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
 * What is wrong with an endpoint URL whatever the transport rule (not absolute, not http or https), for a
 * field's `check`; the https-only rule itself needs the opt-in and is {@link secureEndpointCheck}'s.
 *
 * @example
 * ```ts
 * import { endpointSyntaxProblem } from 'nebula-credential';
 * endpointSyntaxProblem('vault:8200'); // 'must be an https:// URL (got vault:)'
 * ```
 */
export function endpointSyntaxProblem(text: string): string | undefined {
  return checkEndpoint(text, true).problem;
}

/**
 * The `dangerouslyAllowInsecureHttp` declaration every network provider shares: plain http is otherwise
 * accepted only to a loopback host.
 *
 * @example
 * ```ts
 * import { defineProviderOptions, insecureHttpOption } from 'nebula-credential';
 * const KV_OPTIONS = defineProviderOptions('kv', { dangerouslyAllowInsecureHttp: insecureHttpOption('the API key') });
 * ```
 */
export function insecureHttpOption(what: string) {
  return option.boolean({
    doc: `allow plain \`http:\` to a host that is not loopback: ${what} would cross the network in clear (trusted networks only)`,
    default: false,
  });
}

/**
 * A schema check applying the https-only rule to the endpoint options at `paths` (text or URL values),
 * with the provider's `dangerouslyAllowInsecureHttp`.
 *
 * @example
 * ```ts
 * const KV_OPTIONS = defineProviderOptions('kv', { url: option.string({ doc: 'URL' }), dangerouslyAllowInsecureHttp: insecureHttpOption('the key') },
 *   { check: (values, report) => secureEndpointCheck(values, ['url'], report) });
 * ```
 */
export function secureEndpointCheck(
  values: object,
  paths: readonly string[],
  report: (path: string, message: string) => void,
): void {
  const given = values as Record<string, unknown>;
  const allow = given[INSECURE_HTTP_OPTION] === true;
  for (const path of paths) {
    const value = given[path];
    const text = value instanceof URL ? value.href : value;
    if (typeof text !== 'string') continue;
    const { problem } = checkEndpoint(text, allow);
    if (problem) report(path, problem);
  }
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

/**
 * The URL without credentials, query or fragment: safe for a message.
 *
 * @example
 * ```ts
 * describeEndpoint('https://user:pw@dex.example/auth?x=1'); // https://dex.example/auth
 * ```
 *
 * @internal
 */
export function describeEndpoint(endpoint: string): string {
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
 * The `tls` options every network provider declares, under one name per concept: `caFile` (a PEM file,
 * read at `connect()`; a CLI config file resolves it against itself) and `ca` (PEM text, every certificate
 * checked); both may be given and both are trusted. An environment variable (`VAULT_CACERT`,
 * `AWS_CA_BUNDLE`) may stand in for `caFile`, unless `ca` is given. `more` adds provider-specific fields.
 *
 * @example
 * ```ts
 * import { defineProviderOptions, tlsOptions } from 'nebula-credential';
 * const KV_OPTIONS = defineProviderOptions('kv', {
 *   tls: tlsOptions({ caFile: 'PEM file of the CA that signed the server certificate', env: 'KV_CACERT' }),
 * });
 * ```
 */
export function tlsOptions<const M extends Shape = Record<never, never>>(
  docs: { caFile: string; ca?: string; env?: string; caFileDefault?: string },
  more?: M,
) {
  return option.object({
    caFile: option.path({
      doc: docs.caFile,
      env: docs.env,
      envUnless: ['ca'],
      defaultDoc: docs.caFileDefault,
    }),
    ca: option.string({
      doc: docs.ca ?? 'PEM text of CA certificates, trusted too',
      check: (text) => {
        const problem = pemCertificatesProblem(text);
        return problem ? `${problem}; give PEM text here, or a file path in tls.caFile` : undefined;
      },
    }),
    ...(more ?? ({} as M)),
  });
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
