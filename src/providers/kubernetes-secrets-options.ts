// The options of the Kubernetes provider: their documentation, defaults and validation.
import { readMaxSockets } from '../core/connection-pool.js';
import { type CommonProviderOptions, OptionsValidator, type ResolvedCommonOptions } from '../core/options.js';
import { readTlsOptions, type TlsTrustOptions } from '../core/transport-security.js';
import { type KubeAuthOptions, SERVICE_ACCOUNT_DIR } from './kubernetes-secrets-auth.js';

const PROVIDER_NAME = 'kubernetes';
// Any encoded id (which may start with "-") appended must give a DNS-1123 subdomain: dot-separated labels that
// start and end alphanumeric, the last one completed by the id.
const DNS_PREFIX = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z0-9][-a-z0-9]*$/;

/**
 * Options of the Kubernetes Secrets provider.
 *
 * @example
 * ```ts
 * import { KubernetesSecretsProvider } from 'nebula-credential/kubernetes';
 * // in a pod: the service account's token, CA and namespace are used
 * const inPod = new KubernetesSecretsProvider({});
 * // elsewhere: a kubeconfig
 * const local = new KubernetesSecretsProvider({ kubeconfigPath: '/home/me/.kube/config', context: 'staging', namespace: 'apps' });
 * ```
 */
export interface KubernetesSecretsOptions extends CommonProviderOptions {
  /**
   * Namespace of the Secrets.
   * @default the pod's namespace in-cluster, else the kubeconfig context's namespace, else `default`
   */
  namespace?: string | undefined;
  /**
   * Path of a kubeconfig file (wins over `KUBECONFIG` and `~/.kube/config`).
   * @default `KUBECONFIG` (colon-separated files are merged), then `~/.kube/config`
   */
  kubeconfigPath?: string | undefined;
  /**
   * Kubeconfig context to use.
   * @default the kubeconfig's `current-context`
   */
  context?: string | undefined;
  /**
   * `true` forces the pod's service account; `false` forces a kubeconfig.
   * @default auto: a kubeconfig when one is given or found, else the service account when `KUBERNETES_SERVICE_HOST` is set
   */
  inCluster?: boolean | undefined;
  /**
   * Folder holding the service account's `token`, `ca.crt` and `namespace` (tests point it at a temp folder).
   * @default `/var/run/secrets/kubernetes.io/serviceaccount`
   */
  serviceAccountDir?: string | undefined;
  /**
   * How often the in-cluster token file is re-read (projected tokens rotate); a 401 also re-reads it at once.
   * @default 60000
   */
  tokenRefreshMs?: number | undefined;
  /**
   * Prefix of every Secret name; must start with a lower-case letter or digit.
   * @default `nebula-`
   */
  prefix?: string | undefined;
  /**
   * Data key holding the encrypted credential document.
   * @default `credential`
   */
  dataKey?: string | undefined;
  /**
   * Secrets per list request (`limit`; the rest follows with `continue`).
   * @default 250
   */
  listPageSize?: number | undefined;
  /**
   * CA certificates to trust besides the cluster's `certificate-authority`: a PEM file (`caFile`) and/or
   * PEM text (`ca`).
   * @default only the kubeconfig's or the service account's CA
   */
  tls?: TlsTrustOptions | undefined;
  /**
   * Allow a kubeconfig whose server is plain `http://` on a host that is not loopback (the bearer token
   * crosses the network in clear).
   * @default false
   */
  dangerouslyAllowInsecureHttp?: boolean | undefined;
  /** Most sockets the HTTP agent keeps open to the backend at once (1-1024); calls beyond it queue. @default 50 */
  maxSockets?: number | undefined;
}

/** The provider's own options with defaults applied. */
export interface ResolvedKubernetesOptions {
  prefix: string;
  dataKey: string;
  listPageSize: number;
  auth: KubeAuthOptions;
}

/** Validates every option, reporting all problems in one `InvalidConfig`. */
export function resolveKubernetesOptions(options: KubernetesSecretsOptions): {
  common: ResolvedCommonOptions;
  resolved: ResolvedKubernetesOptions;
} {
  // Three retries with exponential backoff, then Unavailable (still overridable).
  const given = options as unknown;
  const retry = (given as { retry?: unknown } | null)?.retry;
  const withDefaults =
    typeof given === 'object' &&
    given !== null &&
    !Array.isArray(given) &&
    (retry === undefined || typeof retry === 'object')
      ? { ...options, retry: { maxRetries: 3, ...(retry as object | undefined) } }
      : given;
  const v = new OptionsValidator(PROVIDER_NAME, withDefaults);
  v.noUnknownKeys([
    'namespace',
    'kubeconfigPath',
    'context',
    'inCluster',
    'serviceAccountDir',
    'tokenRefreshMs',
    'prefix',
    'dataKey',
    'listPageSize',
    'tls',
    'dangerouslyAllowInsecureHttp',
    'maxSockets',
  ]);
  const namespace = v.string('namespace', {
    nonEmpty: true,
    maxLength: 63,
    pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    rule: 'a DNS-1123 label: lower-case letters, digits and -, starting and ending alphanumeric',
  });
  const kubeconfigPath = v.string('kubeconfigPath', { nonEmpty: true });
  const context = v.string('context', { nonEmpty: true });
  const inCluster = v.boolean('inCluster');
  const serviceAccountDir = v.string('serviceAccountDir', { nonEmpty: true }) ?? SERVICE_ACCOUNT_DIR;
  const tokenRefreshMs = v.number('tokenRefreshMs', { min: 1000, max: 3_600_000, integer: true }) ?? 60_000;
  const prefix =
    v.string('prefix', {
      maxLength: 200,
      pattern: DNS_PREFIX,
      rule: 'lower-case letters, digits, - and ., starting with a letter or digit, not ending in . (e.g. "nebula-" or "team.app-")',
    }) ?? 'nebula-';
  if (prefix === '') v.add('prefix', 'must not be empty (Secret names must start with a letter or digit)');
  const dataKey =
    v.string('dataKey', {
      maxLength: 253,
      pattern: /^[-._a-zA-Z0-9]+$/,
      rule: 'letters, digits, -, _ and .',
    }) ?? 'credential';
  const listPageSize = v.number('listPageSize', { min: 1, max: 10_000, integer: true }) ?? 250;
  const tls = readTlsOptions(v);
  const allowInsecureHttp = v.boolean('dangerouslyAllowInsecureHttp') ?? false;
  const maxSockets = readMaxSockets(v);
  if (inCluster === true && kubeconfigPath !== undefined) {
    v.add('inCluster', 'cannot be true together with kubeconfigPath: choose one way to authenticate');
  }
  const common = v.common();
  v.throwIfInvalid();
  return {
    common,
    resolved: {
      prefix,
      dataKey,
      listPageSize,
      auth: {
        inCluster,
        kubeconfigPath,
        context,
        namespace,
        serviceAccountDir,
        tokenRefreshMs,
        tls,
        allowInsecureHttp,
        maxSockets,
      },
    },
  };
}
