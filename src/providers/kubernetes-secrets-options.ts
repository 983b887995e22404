import { maxSocketsOption } from '../core/connection-pool.js';
// The options of the Kubernetes provider: their documentation, defaults and validation.
import { defineProviderOptions, type OptionsOf, type SettingsOf } from '../core/options.js';
import { option } from '../core/options-schema.js';
import type { PeerPackage } from '../core/peer.js';
import { insecureHttpOption, tlsOptions } from '../core/transport-security.js';

/**
 * The Kubernetes provider's name, as `createStorageProvider` takes it.
 *
 * @example
 * ```ts
 * import { KUBERNETES } from 'nebula-credential/kubernetes';
 * const config = { provider: KUBERNETES, namespace: 'apps' };
 * ```
 */
export const KUBERNETES = 'kubernetes';

/**
 * The client this provider drives, loaded by `connect()` (an optional peer dependency).
 *
 * @example
 * ```ts
 * import { KUBERNETES_SDK } from 'nebula-credential/kubernetes';
 * console.log(`npm install ${KUBERNETES_SDK.name}@${KUBERNETES_SDK.range}`);
 * ```
 */
export const KUBERNETES_SDK: PeerPackage = {
  name: '@kubernetes/client-node',
  // 2.x needs Node 22.19+ (undici 8); 1.x is the line for Node 20.
  range: '^1.4.0 || ^2.0.0',
  load: () => import('@kubernetes/client-node'),
};

/** Where a pod's service account files live (the kubelet mounts them here). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

// Any encoded id (which may start with "-") appended must give a DNS-1123 subdomain: dot-separated labels that
// start and end alphanumeric, the last one completed by the id.
const DNS_PREFIX = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z0-9][-a-z0-9]*$/;

/**
 * The Kubernetes provider's options, declared once (type, validation, defaults, docs table). Without a
 * kubeconfig option the client's standard chain applies: `KUBECONFIG`, `~/.kube/config`, the pod's
 * service account.
 *
 * @example
 * ```ts
 * import { KUBERNETES_OPTIONS } from 'nebula-credential/kubernetes';
 * console.log(KUBERNETES_OPTIONS.resolve({}).values.prefix); // nebula-
 * ```
 */
export const KUBERNETES_OPTIONS = defineProviderOptions(
  KUBERNETES,
  {
    namespace: option.string({
      doc: 'namespace of the Secrets',
      maxLength: 63,
      pattern: /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
      rule: 'a DNS-1123 label: lower-case letters, digits and -, starting and ending alphanumeric',
      defaultDoc: "the pod's namespace in-cluster, else the kubeconfig context's, else `default`",
    }),
    kubeconfigPath: option.path({
      doc: 'path of a kubeconfig file (wins over `KUBECONFIG` and `~/.kube/config`)',
      defaultDoc: '`KUBECONFIG` (colon-separated files are merged), then `~/.kube/config`',
    }),
    context: option.string({
      doc: 'kubeconfig context to use',
      defaultDoc: "the kubeconfig's `current-context`",
    }),
    inCluster: option.boolean({
      doc: "`true` forces the pod's service account; `false` forces a kubeconfig",
      defaultDoc:
        'auto: a kubeconfig when one is given or found, else the service account when `KUBERNETES_SERVICE_HOST` is set',
    }),
    serviceAccountDir: option.path({
      doc: "folder holding the service account's `token`, `ca.crt` and `namespace` (tests point it at a temporary folder)",
      default: SERVICE_ACCOUNT_DIR,
    }),
    tokenRefreshMs: option.number({
      doc: 'how often the in-cluster or kubeconfig `token-file` token is re-read; a 401 also re-reads it at once',
      integer: true,
      min: 1000,
      max: 3_600_000,
      default: 60_000,
    }),
    prefix: option.string({
      doc: 'put before every Secret name; must start with a lower-case letter or digit',
      maxLength: 200,
      pattern: DNS_PREFIX,
      rule: 'lower-case letters, digits, - and ., starting with a letter or digit, not ending in . (e.g. "nebula-" or "team.app-")',
      default: 'nebula-',
    }),
    dataKey: option.string({
      doc: 'data key holding the encrypted credential document',
      maxLength: 253,
      pattern: /^[-._a-zA-Z0-9]+$/,
      rule: 'letters, digits, -, _ and .',
      default: 'credential',
    }),
    listPageSize: option.number({
      doc: 'Secrets per list request (`limit`; the rest follows with `continue`)',
      integer: true,
      min: 1,
      max: 10_000,
      default: 250,
    }),
    tls: tlsOptions({
      caFile: "PEM file of CA certificates to trust besides the cluster's `certificate-authority`",
      ca: 'PEM text of such CA certificates',
      caFileDefault: "none: only the kubeconfig's or the service account's CA",
    }),
    dangerouslyAllowInsecureHttp: insecureHttpOption('the bearer token'),
    maxSockets: maxSocketsOption(),
  },
  {
    // Three retries with exponential backoff, then Unavailable (still overridable).
    retry: { maxRetries: 3 },
    check: (values, report) => {
      if (values.inCluster === true && values.kubeconfigPath !== undefined) {
        report('inCluster', 'cannot be true together with kubeconfigPath: choose one way to authenticate');
      }
    },
  },
);

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
export type KubernetesSecretsOptions = OptionsOf<typeof KUBERNETES_OPTIONS>;

/** The provider's options with defaults applied. */
export type ResolvedKubernetesOptions = SettingsOf<typeof KUBERNETES_OPTIONS>;
