// How the Kubernetes provider finds its cluster: the pod's service account (token, CA and namespace files
// plus KUBERNETES_SERVICE_HOST/PORT) or a kubeconfig (explicit path, KUBECONFIG, ~/.kube/config), and the
// keep-alive agent that carries its TLS settings.

import { existsSync } from 'node:fs';
import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent, AgentOptions as HttpsAgentOptions } from 'node:https';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import type { KubeConfig, User } from '@kubernetes/client-node';
import { type Clock, systemClock } from '../core/clock.js';
import { StorageError } from '../core/errors.js';
import { FILE_SIZE_LIMITS, readBoundedFile, readBoundedTextFile } from '../core/files.js';
import { type Logger, silentLogger } from '../core/logger.js';
import { DEFAULT_TIMEOUTS } from '../core/options.js';
import { requireBesidePeer } from '../core/peer.js';
import { SecretString } from '../core/secret-string.js';
import { assertSecureEndpoint, loadCaBundle, type TlsTrustOptions } from '../core/transport-security.js';
import type { RefreshingKubeCredentialSource } from './kubernetes-secrets-credential.js';
import {
  type ExecClusterInfo,
  ExecCredentialSource,
  parseExecConfig,
  resolveExecCommand,
} from './kubernetes-secrets-exec.js';
import { clusterAgent } from './kubernetes-secrets-http.js';
import { loadOidcConfig, OidcCredentialSource, type OidcProviderConfig } from './kubernetes-secrets-oidc.js';
import { KUBERNETES as PROVIDER } from './kubernetes-secrets-options.js';

/** A namespace name is at most 63 characters; the bound only has to stop a wrong file. */
const NAMESPACE_FILE_BYTES = 4096;

function invalid(message: string, cause?: unknown): StorageError {
  return new StorageError({
    code: 'InvalidConfig',
    message,
    provider: PROVIDER,
    operation: 'connect',
    cause,
  });
}

/** What a token file is, for messages and health: the pod's service account, or one a kubeconfig names. */
interface TokenFileSource {
  /** `service-account-token` or `kubeconfig-token-file`, the health report's auth kind. */
  kind: 'service-account-token' | 'kubeconfig-token-file';
  /** The file in the user's words, for messages. */
  what: string;
  /** Appended to the message when the file does not exist. */
  missingHint?: string | undefined;
}

const SERVICE_ACCOUNT_TOKEN_SOURCE: TokenFileSource = {
  kind: 'service-account-token',
  what: 'the service account token file',
  missingHint: 'is automountServiceAccountToken disabled for this pod?',
};

/**
 * A bearer token kept in a file that is rewritten before the token expires: the pod's projected service
 * account token (the kubelet rotates it), or a kubeconfig user's `token-file` (client-go re-reads it every
 * minute too). It is re-read every `refreshMs` and at once after a 401 (see {@link ServiceAccountToken.reload}),
 * always with a bounded, FIFO-safe read under the caller's signal.
 */
export class ServiceAccountToken {
  readonly path: string;
  /** What the file is: the health report's auth kind. */
  readonly kind: TokenFileSource['kind'];
  readonly #refreshMs: number;
  readonly #source: TokenFileSource;
  #value: SecretString | undefined;
  #readAt = 0;
  #mtimeMs = -1;

  constructor(path: string, refreshMs: number, source: TokenFileSource = SERVICE_ACCOUNT_TOKEN_SOURCE) {
    this.path = path;
    this.#refreshMs = refreshMs;
    this.#source = source;
    this.kind = source.kind;
  }

  /** The token, re-read when older than the refresh interval. */
  async current(now: number, signal?: AbortSignal): Promise<SecretString> {
    if (!this.#value || now - this.#readAt >= this.#refreshMs) await this.reload(now, signal);
    return this.#value!;
  }

  /**
   * Re-reads the file (a bounded read of a regular file, under the operation's `signal`); true when the
   * token changed (a 401 is then worth one more try).
   */
  async reload(now: number, signal?: AbortSignal): Promise<boolean> {
    let mtimeMs = this.#mtimeMs;
    const bytes = await readBoundedFile(this.path, {
      maxBytes: FILE_SIZE_LIMITS.token,
      what: this.#source.what,
      provider: PROVIDER,
      operation: 'connect',
      signal,
      missingHint: this.#source.missingHint,
      checkFile: (info) => {
        mtimeMs = info.mtimeMs;
        return undefined;
      },
    });
    const text = bytes.toString('utf8');
    bytes.fill(0);
    this.#mtimeMs = mtimeMs;
    // The kubelet's file has no newline, but hand-made ones often do; an untrimmed token is an illegal header.
    const token = text.trim();
    if (token === '') throw invalid(`${this.#source.what} ${this.path} is empty`);
    const changed = this.#value === undefined || this.#value.expose() !== token;
    if (changed) {
      this.#value?.dispose();
      this.#value = new SecretString(token);
    }
    this.#readAt = now;
    return changed;
  }

  get mtimeMs(): number {
    return this.#mtimeMs;
  }

  dispose(): void {
    this.#value?.dispose();
    this.#value = undefined;
  }
}

/** What the auth step resolved. @internal */
export interface KubeAccess {
  kubeConfig: KubeConfig;
  namespace: string;
  /** `in-cluster` or `kubeconfig <path> (context <name>)`, for messages. */
  source: string;
  /**
   * Set for in-cluster auth and for a kubeconfig user's `token-file`: the provider adds the bearer header
   * itself, so rotation takes effect at once and client-node never reads the file.
   */
  token: ServiceAccountToken | undefined;
  /**
   * Set for a kubeconfig user's `exec` plugin or `oidc` auth provider: the provider runs the plugin or
   * refreshes the id-token itself (bounded, under the connect deadline) and sends the token and client
   * certificate itself; client-node never sees either.
   */
  credentials: RefreshingKubeCredentialSource | undefined;
  /** Keep-alive agent with the cluster's TLS settings (through the cluster's proxy-url, if any). */
  agent: HttpAgent;
}

/** The auth-related options, already validated. */
export interface KubeAuthOptions {
  inCluster: boolean | undefined;
  kubeconfigPath: string | undefined;
  context: string | undefined;
  namespace: string | undefined;
  serviceAccountDir: string;
  tokenRefreshMs: number;
  /** Extra CA certificates to trust besides the cluster's. */
  tls: TlsTrustOptions | undefined;
  /** `dangerouslyAllowInsecureHttp`: a plain-http server on a host that is not loopback. */
  dangerouslyAllowInsecureHttp: boolean;
  /** The pool size (`maxSockets`). */
  maxSockets: number;
  /**
   * `connectMs` bounds one exec plugin run, one oidc refresh and a proxy CONNECT. Default: the core's
   * connect deadline.
   */
  timeouts?: { connectMs: number } | undefined;
  /** When an exec credential expires. Default: the system clock. */
  clock?: Clock | undefined;
  logger?: Logger | undefined;
}

/**
 * Resolves in-cluster or kubeconfig access, with the https-only rule on the server URL and the extra CA of
 * `tls`; throws `InvalidConfig` with what to fix. Files are read under `signal` (the connect deadline).
 * @internal
 */
export async function resolveKubeAccess(
  sdk: typeof import('@kubernetes/client-node'),
  options: KubeAuthOptions,
  signal?: AbortSignal,
  env: NodeJS.ProcessEnv = process.env,
): Promise<KubeAccess> {
  const kc = new sdk.KubeConfig();
  const envKubeconfig = (env['KUBECONFIG'] ?? '').split(delimiter).filter((f) => f !== '');
  const home = env['HOME'] || homedir();
  const defaultKubeconfig = home ? join(home, '.kube', 'config') : undefined;
  const inCluster =
    options.inCluster ??
    (options.kubeconfigPath === undefined &&
      envKubeconfig.length === 0 &&
      !(defaultKubeconfig && existsSync(defaultKubeconfig)) &&
      Boolean(env['KUBERNETES_SERVICE_HOST']));

  if (inCluster) {
    const host = env['KUBERNETES_SERVICE_HOST'];
    const port = env['KUBERNETES_SERVICE_PORT'];
    if (!host || !port) {
      throw invalid(
        'in-cluster auth needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (set by Kubernetes in every pod); ' +
          'outside a cluster pass kubeconfigPath or set KUBECONFIG',
      );
    }
    const dir = options.serviceAccountDir;
    const caFile = join(dir, 'ca.crt');
    if (!existsSync(caFile))
      throw invalid(`the cluster CA file ${caFile} does not exist (service account not mounted?)`);
    let namespace = options.namespace;
    if (namespace === undefined) {
      namespace = (
        await readBoundedTextFile(join(dir, 'namespace'), {
          maxBytes: NAMESPACE_FILE_BYTES,
          what: 'the service account namespace file',
          provider: PROVIDER,
          operation: 'connect',
          signal,
          missingHint: 'pass the namespace option',
        })
      ).trim();
    }
    const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
    assertSecureEndpoint(server, {
      provider: PROVIDER,
      source: 'KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT',
      allowInsecureHttp: options.dangerouslyAllowInsecureHttp,
    });
    kc.loadFromOptions({
      clusters: [{ name: 'in-cluster', server, caFile, skipTLSVerify: false }],
      users: [{ name: 'service-account' }],
      contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'service-account', namespace }],
      currentContext: 'in-cluster',
    });
    await trustExtraCa(kc, options.tls, signal);
    return {
      kubeConfig: kc,
      namespace,
      source: 'in-cluster service account',
      token: new ServiceAccountToken(join(dir, 'token'), options.tokenRefreshMs),
      credentials: undefined,
      agent: (await createTransport(kc, options, signal)).agent,
    };
  }

  const files = options.kubeconfigPath !== undefined ? [options.kubeconfigPath] : envKubeconfig;
  let source: string;
  const setting = options.kubeconfigPath !== undefined ? 'kubeconfigPath' : 'KUBECONFIG';
  // Each user's token-file, by user name; the first file naming a user wins, as in the merge.
  const tokenFiles = new Map<string, string>();
  const keepFirst = (more: Map<string, string>) => {
    for (const [user, file] of more) if (!tokenFiles.has(user)) tokenFiles.set(user, file);
  };
  try {
    if (files.length > 0) {
      keepFirst(await loadKubeconfig(kc, files[0]!, setting, signal));
      for (const file of files.slice(1)) {
        const more = new sdk.KubeConfig();
        keepFirst(await loadKubeconfig(more, file, setting, signal));
        kc.mergeConfig(more);
      }
      source = `kubeconfig ${files.join(delimiter)}`;
    } else if (defaultKubeconfig && existsSync(defaultKubeconfig)) {
      keepFirst(await loadKubeconfig(kc, defaultKubeconfig, '~/.kube/config', signal));
      source = `kubeconfig ${defaultKubeconfig}`;
    } else {
      throw invalid(
        'no Kubernetes configuration found: not in a pod (KUBERNETES_SERVICE_HOST unset), KUBECONFIG unset and ' +
          `${defaultKubeconfig ?? '~/.kube/config'} missing; pass kubeconfigPath or inCluster`,
      );
    }
  } catch (error) {
    if (error instanceof StorageError) throw error;
    throw invalid(
      `cannot load kubeconfig ${files.join(delimiter) || defaultKubeconfig} (${(error as NodeJS.ErrnoException).code ?? (error as Error).name}): check the path and YAML`,
      error,
    );
  }
  if (options.context !== undefined) {
    if (!kc.getContextObject(options.context)) {
      throw invalid(
        `context "${options.context}" is not in ${source}; available: ${kc.contexts.map((c) => c.name).join(', ') || 'none'}`,
      );
    }
    kc.setCurrentContext(options.context);
  }
  const context = kc.getContextObject(kc.getCurrentContext());
  const cluster = kc.getCurrentCluster();
  if (!context || !cluster) {
    throw invalid(
      `${source} has no current context with a cluster: pass the context option or set current-context`,
    );
  }
  // insecure-skip-tls-verify never makes plain http to another machine acceptable: the token would travel in clear.
  const server = assertSecureEndpoint(cluster.server, {
    provider: PROVIDER,
    source: `the server of cluster "${cluster.name}" in ${source}`,
    allowInsecureHttp: options.dangerouslyAllowInsecureHttp,
  });
  if (server.protocol === 'http:' && !cluster.skipTLSVerify) {
    throw invalid(
      `cluster "${cluster.name}" uses plain http (${cluster.server}); use https, or set insecure-skip-tls-verify for a local test cluster`,
    );
  }
  await trustExtraCa(kc, options.tls, signal);
  await inlineNamedFiles(kc, signal);
  kc.users = kc.users.map((u) => (typeof u.token === 'string' ? { ...u, token: u.token.trim() } : u));
  refuseForeignAuthProvider(kc);
  // Read by connect() under its deadline (as the in-cluster token is): a missing, oversize or FIFO file fails it.
  const token = tokenFileOfCurrentUser(kc, tokenFiles, options.tokenRefreshMs);
  const exec = execOfCurrentUser(kc, token !== undefined);
  const oidc = await oidcOfCurrentUser(kc, token !== undefined, signal);
  const transport = await createTransport(kc, options, signal);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const timeoutMs = options.timeouts?.connectMs ?? DEFAULT_TIMEOUTS.connectMs;
  return {
    kubeConfig: kc,
    namespace: options.namespace ?? context.namespace ?? 'default',
    source: `${source} (context ${context.name})`,
    token,
    credentials: exec
      ? new ExecCredentialSource(exec, {
          cluster: execClusterInfo(kc),
          clientAgent: transport.clientAgent,
          timeoutMs,
          clock,
          logger,
          env,
        })
      : oidc &&
        new OidcCredentialSource(oidc, {
          timeoutMs,
          clock,
          logger,
          env,
          allowInsecureHttp: options.dangerouslyAllowInsecureHttp,
        }),
    agent: transport.agent,
  };
}

/**
 * Refuses what kubectl refuses of the current user's `auth-provider` (with its guidance), and client-node's
 * own form `auth-provider: { name: exec }` / `config.exec`, which kubectl does not know: client-node would
 * run those itself (gcp and azure with a synchronous `execSync`, its exec form unbounded). Left: `oidc`,
 * served by this library, and client-node's `config.tokenFile` form, read as a token file.
 */
function refuseForeignAuthProvider(kc: KubeConfig): void {
  const user = kc.getCurrentUser();
  const provider = user?.authProvider as { name?: unknown; config?: Record<string, unknown> } | undefined;
  if (!user || !provider) return;
  const name = typeof provider.name === 'string' ? provider.name : '';
  const who = `user "${user.name}" in the kubeconfig`;
  const removed = (plugin: string, guidance: string) =>
    invalid(
      `${who} uses auth-provider "${plugin}", which client-go removed in Kubernetes 1.26 and kubectl refuses: ` +
        `The ${plugin} auth plugin has been removed. ${guidance} (a user.exec credential plugin)`,
    );
  if (name === 'gcp') {
    throw removed(
      'gcp',
      'Please use the "gke-gcloud-auth-plugin" kubectl/client-go credential plugin instead. See https://cloud.google.com/blog/products/containers-kubernetes/kubectl-auth-changes-in-gke for further details',
    );
  }
  if (name === 'azure') {
    throw removed(
      'azure',
      'Please use the https://github.com/Azure/kubelogin kubectl/client-go credential plugin instead (`kubelogin convert-kubeconfig` rewrites the user). See https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins for further details',
    );
  }
  if (name === 'exec' || provider.config?.['exec'] !== undefined) {
    throw invalid(
      `${who} has auth-provider "${name}" with an exec command, a form only @kubernetes/client-node knows (kubectl and client-go refuse it): ` +
        'move the command to user.exec (apiVersion: client.authentication.k8s.io/v1, command, args, interactiveMode: Never)',
    );
  }
  if (name === 'oidc' || typeof provider.config?.['tokenFile'] === 'string') return;
  throw invalid(
    `${who} has auth-provider "${name}": no Auth Provider found for name ${JSON.stringify(name)} ` +
      '(client-go knows only oidc; use user.exec for a credential plugin)',
  );
}

/**
 * The current user's `oidc` auth provider, validated, and taken away from client-node (whose refresh goes
 * through openid-client's own, unbounded HTTP). As in client-go a token, token file or basic auth of the
 * same user is sent instead and the id-token is never used (a client certificate goes along with it).
 */
async function oidcOfCurrentUser(
  kc: KubeConfig,
  hasTokenFile: boolean,
  signal?: AbortSignal,
): Promise<OidcProviderConfig | undefined> {
  const user = kc.getCurrentUser();
  if (user?.authProvider?.name !== 'oidc') return undefined;
  if (user.exec) {
    throw invalid(
      `user "${user.name}" in the kubeconfig has both an auth-provider and an exec plugin; keep one (client-go refuses the pair)`,
    );
  }
  const config = await loadOidcConfig(user.authProvider.config as Record<string, unknown>, user.name, signal);
  kc.users = kc.users.map((u): User => {
    if (u !== user) return u;
    const { authProvider: _servedHere, ...rest } = u;
    return rest;
  });
  return hasTokenFile || user.token || user.username ? undefined : config;
}

/**
 * The token file the current user authenticates with, if any, taken away from client-node: a kubeconfig
 * `token-file` (unless an inline `token` wins, as in client-node) or a `tokenFile` auth provider (client-node's
 * FileAuth, which re-reads it synchronously and unbounded every minute, on the request path). The provider
 * then reads it bounded and sends the header itself, re-reading it every `tokenRefreshMs` and after a 401.
 */
function tokenFileOfCurrentUser(
  kc: KubeConfig,
  tokenFiles: ReadonlyMap<string, string>,
  refreshMs: number,
): ServiceAccountToken | undefined {
  const user = kc.getCurrentUser();
  if (!user) return undefined;
  const fromKubeconfig = user.token === undefined ? tokenFiles.get(user.name) : undefined;
  const config = user.authProvider?.config as Record<string, unknown> | undefined;
  // The gcp, azure and exec forms were refused already; client-node's FileAuth comes before its oidc.
  const fileAuth = typeof config?.['tokenFile'] === 'string' ? (config['tokenFile'] as string) : undefined;
  // Taken away even when a token-file wins: client-node would still re-read this one on every request.
  if (fileAuth !== undefined) {
    kc.users = kc.users.map((u) => {
      if (u !== user) return u;
      const { authProvider: _readHere, ...rest } = u;
      return rest;
    });
  }
  const path = fromKubeconfig ?? fileAuth;
  if (path === undefined) return undefined;
  return new ServiceAccountToken(path, refreshMs, {
    kind: 'kubeconfig-token-file',
    what: `the token file of user "${user.name}" in the kubeconfig`,
  });
}

/**
 * The current user's `exec` plugin, validated, and taken away from client-node (whose runner has no bound
 * and no timeout) so the provider runs it. As in client-go, a token, token file, client certificate or
 * basic auth of the same user wins and the plugin never runs. With a cluster `proxy-url` the plugin's
 * credential goes through the same tunnel as every call.
 */
function execOfCurrentUser(kc: KubeConfig, hasTokenFile: boolean) {
  const user = kc.getCurrentUser();
  if (!user?.exec) return undefined;
  if (user.authProvider) {
    throw invalid(
      `user "${user.name}" in the kubeconfig has both an auth-provider and an exec plugin; keep one (client-go refuses the pair)`,
    );
  }
  const other = hasTokenFile || user.token || user.certData || user.keyData || user.username;
  const config = other ? undefined : parseExecConfig(user.exec, user.name);
  kc.users = kc.users.map((u): User => {
    if (u !== user) return u;
    const { exec: _runHere, ...rest } = u;
    return rest;
  });
  return config;
}

/** `spec.cluster` of KUBERNETES_EXEC_INFO for `provideClusterInfo` (the CA is inline by now). */
function execClusterInfo(kc: KubeConfig): ExecClusterInfo {
  const cluster = kc.getCurrentCluster()!;
  return {
    server: cluster.server,
    ...(cluster.tlsServerName ? { 'tls-server-name': cluster.tlsServerName } : {}),
    ...(cluster.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}),
    ...(cluster.caData ? { 'certificate-authority-data': cluster.caData } : {}),
    ...(cluster.proxyUrl ? { 'proxy-url': cluster.proxyUrl } : {}),
  };
}

/** client-node's own YAML parser (js-yaml), resolved from where client-node is installed. */
type YamlParser = { load(text: string): unknown };

// Not a dependency of this library: the parser client-node itself parses kubeconfigs with (so the same YAML
// rules apply), found from where client-node is installed.
function clientNodeYamlParser(): YamlParser {
  return requireBesidePeer<YamlParser>('@kubernetes/client-node', 'js-yaml');
}

/**
 * What `KubeConfig.loadFromFile` does (parse, then resolve the files it names against the kubeconfig's
 * directory), with the file read bounded and FIFO-safe under the connect deadline: the client's own read is
 * synchronous and unbounded, so a FIFO would block the thread forever and a huge file exhaust memory.
 *
 * Every user's `token-file` is taken out before client-node sees the configuration (its parser reads each
 * one at once, synchronously and unbounded, and never again) and returned by user name, as an absolute path
 * against the kubeconfig's directory, as kubectl resolves it.
 */
async function loadKubeconfig(
  kc: KubeConfig,
  file: string,
  option: string,
  signal?: AbortSignal,
): Promise<Map<string, string>> {
  const text = await readBoundedTextFile(file, {
    maxBytes: FILE_SIZE_LIMITS.kubeconfig,
    what: 'the kubeconfig',
    option,
    provider: PROVIDER,
    operation: 'connect',
    signal,
  });
  const tokenFiles = new Map<string, string>();
  const parsed = text.includes('token-file') ? clientNodeYamlParser().load(text) : undefined;
  const users = (parsed as { users?: unknown } | undefined)?.users;
  if (Array.isArray(users)) {
    for (const entry of users as { name?: unknown; user?: Record<string, unknown> }[]) {
      const tokenFile = entry?.user?.['token-file'];
      if (typeof tokenFile !== 'string' || tokenFile === '') continue;
      delete entry.user!['token-file'];
      if (typeof entry.name === 'string') {
        tokenFiles.set(entry.name, isAbsolute(tokenFile) ? tokenFile : join(dirname(file), tokenFile));
      }
    }
    // JSON is YAML: the client parses the configuration without the token-file keys.
    kc.loadFromString(JSON.stringify(parsed));
  } else {
    kc.loadFromString(text);
  }
  kc.makePathsAbsolute(dirname(file));
  kc.users = kc.users.map((u) =>
    u.exec ? { ...u, exec: { ...u.exec, command: resolveExecCommand(u.exec.command, dirname(file)) } } : u,
  );
  return tokenFiles;
}

/**
 * Adds the `tls` CA certificates to the current cluster's own, as inline data, so they apply to every agent
 * of the cluster (the direct one, a proxy-url tunnel's, an exec plugin's certificate agent) and the watch.
 */
async function trustExtraCa(kc: KubeConfig, tls: TlsTrustOptions | undefined, signal?: AbortSignal) {
  const extra = await loadCaBundle(tls, { provider: PROVIDER, signal });
  if (extra === undefined) return;
  const current = kc.getCurrentCluster();
  if (!current) return;
  const own = await readNamed(current.caFile, current.caData, 'the cluster CA', signal);
  const caData = Buffer.from(own ? `${own.toString('utf8')}\n${extra}` : extra, 'utf8').toString('base64');
  kc.clusters = kc.clusters.map((c) => {
    if (c !== current) return c;
    const { caFile: _replaced, ...rest } = c;
    return { ...rest, caData };
  });
}

/**
 * Replaces the CA, client certificate and key files the current context names with their content, read
 * once here (bounded, FIFO-safe, under the deadline): client-node would otherwise re-read them with a
 * synchronous, unbounded read on every request.
 */
async function inlineNamedFiles(kc: KubeConfig, signal?: AbortSignal): Promise<void> {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  const inline = async (file: string, what: string) =>
    (await readNamed(file, undefined, what, signal))!.toString('base64');
  if (cluster?.caFile) {
    const caData = await inline(cluster.caFile, 'the cluster CA');
    kc.clusters = kc.clusters.map((c) => {
      if (c !== cluster) return c;
      const { caFile: _inlined, ...rest } = c;
      return { ...rest, caData };
    });
  }
  if (user?.certFile || user?.keyFile) {
    const cert = user.certFile ? { certData: await inline(user.certFile, 'the client certificate') } : {};
    const key = user.keyFile ? { keyData: await inline(user.keyFile, 'the client key') } : {};
    kc.users = kc.users.map((u) => {
      if (u !== user) return u;
      const { certFile: _cert, keyFile: _key, ...rest } = u;
      return { ...rest, ...cert, ...key };
    });
  }
}

/** A file named in the cluster settings (bounded, FIFO-safe), else the inline base64 data. */
async function readNamed(
  file: string | undefined,
  data: string | undefined,
  what: string,
  signal?: AbortSignal,
): Promise<Buffer | undefined> {
  if (file) {
    return readBoundedFile(file, {
      maxBytes: FILE_SIZE_LIMITS.caBundle,
      what: `${what} named in the Kubernetes configuration`,
      provider: PROVIDER,
      operation: 'connect',
      signal,
    });
  }
  return data ? Buffer.from(data, 'base64') : undefined;
}

/** The cluster's keep-alive agent, and how a certificate credential (an exec plugin's) gets its own. */
interface ClusterTransport {
  agent: HttpAgent;
  /** Undefined over plain http: there is no TLS to present a certificate in. */
  clientAgent: ((pair: { cert: string; key: string }) => HttpsAgent) | undefined;
}

// client-node creates a new agent (so a new TLS handshake) for every request; one keep-alive agent with the
// same TLS material makes each call a single round trip. A certificate credential gets an agent with that
// material without the kubeconfig's pair, plus its own; both go through the cluster's proxy-url tunnel.
async function createTransport(
  kc: KubeConfig,
  options: Pick<KubeAuthOptions, 'maxSockets' | 'timeouts'>,
  signal?: AbortSignal,
): Promise<ClusterTransport> {
  const cluster = kc.getCurrentCluster()!;
  const user = kc.getCurrentUser();
  const connectMs = options.timeouts?.connectMs;
  if (cluster.server.startsWith('http:')) {
    return {
      agent: clusterAgent(false, { keepAlive: true, maxSockets: options.maxSockets }, kc, connectMs),
      clientAgent: undefined,
    };
  }
  const ca = await readNamed(cluster.caFile, cluster.caData, 'the cluster CA', signal);
  const cert = await readNamed(user?.certFile, user?.certData, 'the client certificate', signal);
  const key = await readNamed(user?.keyFile, user?.keyData, 'the client key', signal);
  const tls: HttpsAgentOptions = {
    keepAlive: true,
    maxSockets: options.maxSockets,
    ...(ca ? { ca } : {}),
    ...(cluster.skipTLSVerify ? { rejectUnauthorized: false } : {}),
    ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
  };
  return {
    agent: clusterAgent(true, { ...tls, ...(cert ? { cert } : {}), ...(key ? { key } : {}) }, kc, connectMs),
    clientAgent: (pair) => clusterAgent(true, { ...tls, ...pair }, kc, connectMs) as HttpsAgent,
  };
}
