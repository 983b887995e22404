import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import { type CliEmulator, startOrStop } from '../emulator-kit/cli-contract.js';
import { EmulatorHttpServer, type Fault, type RecordedRequest, sendJson } from '../emulator-kit/server.js';
import {
  checkBase64Data,
  jsonPatch,
  KubeApiError,
  kubeErrors,
  mergePatch,
  parseFieldSelector,
  parseLabelSelector,
  type SecretObject,
  statusForCode,
  validateSecret,
} from './kubernetes-api.js';
import { type ManagedFieldsEntry, recordUpdate, serverSideApply, updateManager } from './kubernetes-apply.js';
import { decodeKubeProtobuf, isKubeProtobuf } from './kubernetes-protobuf.js';

export type { KubeStatus, SecretObject } from './kubernetes-api.js';

/**
 * One RBAC rule of a Role (core API group only: Secrets live there).
 *
 * @example
 * ```ts
 * emulator.addRole('apps', 'reader', [{ verbs: ['get', 'list'], resources: ['secrets'] }]);
 * ```
 */
export interface KubePolicyRule {
  /** `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection` or `*`. */
  verbs: string[];
  /** `secrets` or `*`. */
  resources: string[];
  /** Default `['']` (the core group). */
  apiGroups?: string[];
  /** Restricts get/update/patch/delete to these names. */
  resourceNames?: string[];
}

/**
 * A RoleBinding subject.
 *
 * @example
 * ```ts
 * emulator.addRoleBinding('apps', 'reader', 'reader', [{ kind: 'ServiceAccount', name: 'billing' }]);
 * ```
 */
export interface KubeSubject {
  kind: 'ServiceAccount' | 'User' | 'Group';
  name: string;
  /** For ServiceAccount subjects; default: the binding's namespace. */
  namespace?: string;
}

interface Identity {
  user: string;
  groups: string[];
  expiresAt?: number | undefined;
}

/**
 * An OIDC issuer the API server trusts (kube-apiserver's `--oidc-issuer-url` and `--oidc-client-id`): its
 * id tokens are bearer tokens whose signature it checks (what the issuer's JWKS would give), with `iss`,
 * `aud` and `exp` (against the emulator clock). {@link OidcIssuerEmulator} is one.
 *
 * @example
 * ```ts
 * const issuer: KubeOidcIssuer = new OidcIssuerEmulator();
 * ```
 */
export interface KubeOidcIssuer {
  url: string;
  clientId: string;
  /** The claims of `token` when the issuer signed it, else undefined. */
  verifyIdToken(token: string): { iss: string; sub: string; aud: string | string[]; exp: number } | undefined;
}

/**
 * Options of {@link KubernetesEmulator}.
 *
 * @example
 * ```ts
 * import { KubernetesEmulator, ManualClock } from 'nebula-credential/testing';
 * const emulator = new KubernetesEmulator({ clock: new ManualClock(), namespaces: ['apps'] });
 * ```
 */
export interface KubernetesEmulatorOptions {
  /** Port; 0 or undefined picks a free one. */
  port?: number | undefined;
  /** Emulator clock: creation timestamps, token expiry, continue-token expiry. Default: system clock. */
  clock?: Clock | undefined;
  /** Namespaces that exist from the start, besides `default` and `kube-system`. */
  namespaces?: string[] | undefined;
  /** Lifetime of continue tokens (the API server's etcd compaction window). Default 5 minutes. */
  continueTtlMs?: number | undefined;
  /**
   * Events kept for watches that resume from a resourceVersion (the watch cache's window); a watch from an
   * older version gets `410 Expired`. Default 1000.
   */
  watchHistory?: number | undefined;
}

/** One change in the watch history: the object after it (or its last state, for DELETED) and before it. */
interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rv: number;
  object: SecretObject;
  previous: SecretObject | undefined;
}

/** One open watch stream. */
interface OpenWatch {
  namespace: string | undefined;
  matches: (secret: SecretObject) => boolean;
  bookmarks: boolean;
  res: ServerResponse;
  timer: NodeJS.Timeout | undefined;
}

const SECRET_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const SECRETS_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/;

/**
 * A loopback HTTPS Kubernetes API server for core/v1 Secrets, faithful enough that
 * `@kubernetes/client-node` and `kubectl` work against it unchanged: discovery, create/get/list (label and
 * field selectors, `limit`/`continue`)/replace (resourceVersion conflicts)/patch (JSON, merge,
 * strategic)/delete (returns a Status, honours preconditions), watch (`?watch=true` streams with
 * resourceVersion resume, bookmarks, selector transitions and `410 Expired` past the history window), the
 * API server's validation (422) and Status errors, bearer tokens mapped to service accounts, TLS client
 * certificates signed by its CA (CN the user, O the groups; {@link KubernetesEmulator.issueClientCertificate}), Roles and
 * RoleBindings deciding each verb, fault injection and a controllable clock.
 *
 * @example
 * ```ts
 * import { KubernetesEmulator } from 'nebula-credential/testing';
 * const k8s = new KubernetesEmulator();
 * await k8s.start();
 * const token = k8s.createServiceAccount('apps', 'billing');
 * k8s.grant('apps', 'billing', ['get', 'list', 'create', 'update', 'delete']);
 * const kubeconfig = k8s.writeKubeconfig({ token, namespace: 'apps' });
 * // ... new KubernetesSecretsProvider({ kubeconfigPath: kubeconfig })
 * await k8s.stop();
 * ```
 */
export class KubernetesEmulator {
  /** The https server: recorded requests, fault queue, connections. */
  readonly server: EmulatorHttpServer;
  /** A token of `kubernetes-admin` (group `system:masters`): allowed everything. */
  readonly adminToken = `admin-${randomBytes(16).toString('hex')}`;
  readonly #tokens = new Map<string, Identity>();
  readonly #oidcIssuers: { issuer: KubeOidcIssuer; usernamePrefix: string }[] = [];
  readonly #namespaces = new Set(['default', 'kube-system']);
  readonly #secrets = new Map<string, Map<string, SecretObject>>();
  readonly #roles = new Map<string, Map<string, KubePolicyRule[]>>();
  readonly #bindings = new Map<string, { name: string; role: string; subjects: KubeSubject[] }[]>();
  readonly #continueTtlMs: number;
  readonly #watchHistory: number;
  readonly #events: WatchEvent[] = [];
  readonly #watches = new Set<OpenWatch>();
  /** Events up to this resourceVersion are compacted away: watches from before it get 410 Expired. */
  #compactedThrough = 1000;
  /** Temporary folders of {@link writeKubeconfig}, removed on stop. */
  readonly #tempDirs: string[] = [];
  #resourceVersion = 1000;

  /**
   * An API server with the `default` and `kube-system` namespaces (and `options.namespaces`) and an admin
   * token; nothing listens until `start()`.
   */
  constructor(options: KubernetesEmulatorOptions = {}) {
    this.server = new EmulatorHttpServer(
      { port: options.port, tls: true, clock: options.clock, clientCertificates: true },
      (req, res) => this.#route(req, res),
    );
    this.#continueTtlMs = options.continueTtlMs ?? 5 * 60_000;
    this.#watchHistory = options.watchHistory ?? 1000;
    for (const ns of options.namespaces ?? []) this.addNamespace(ns);
    this.#tokens.set(this.adminToken, {
      user: 'kubernetes-admin',
      groups: ['system:masters', 'system:authenticated'],
    });
  }

  /** Base URL, `https://127.0.0.1:<port>`. */
  get url(): string {
    return this.server.url;
  }

  /** Path of the CA certificate file that signs the server certificate. */
  get caCertPath(): string {
    return this.server.ca!.caCertPath;
  }

  /**
   * The CA certificate (PEM) that signs the server certificate, for a kubeconfig's
   * `certificate-authority-data`.
   */
  get caCertPem(): string {
    return this.server.ca!.caCertPem;
  }

  /** The fault queue: `{ action: { kind: 'status', status: 503 } }`, resets, hangs, delays. */
  get faults(): EmulatorHttpServer['faults'] {
    return this.server.faults;
  }

  /** Every request received, in order. */
  get requests(): readonly RecordedRequest[] {
    return this.server.requests;
  }

  /** Listens on a loopback port (https) and returns the URL and port. */
  async start(): Promise<{ url: string; port: number }> {
    return this.server.start();
  }

  /** Stops serving and removes the temporary files it wrote: its CA, and kubeconfigs written to a temp folder. */
  async stop(): Promise<void> {
    this.closeWatches();
    await this.server.stop();
    for (const dir of this.#tempDirs) rmSync(dir, { recursive: true, force: true });
    this.#tempDirs.length = 0;
  }

  /** Open watch streams. */
  get openWatches(): number {
    return this.#watches.size;
  }

  /** The current resourceVersion of the store (what a list returns). */
  get resourceVersion(): string {
    return String(this.#resourceVersion);
  }

  /** Ends every watch stream, as the API server does when a watch's timeout passes. */
  closeWatches(): void {
    for (const watch of [...this.#watches]) this.#endWatch(watch);
  }

  /** Sends a BOOKMARK with the current resourceVersion to every watch that allows bookmarks. */
  sendBookmarks(): void {
    for (const watch of this.#watches) if (watch.bookmarks) this.#sendBookmark(watch);
  }

  /** Forgets the watch history: a watch resuming from any version seen so far gets 410 Expired. */
  compactWatchHistory(): void {
    this.#events.length = 0;
    this.#compactedThrough = this.#resourceVersion;
  }

  /** Requests to the Secrets API so far (discovery excluded), optionally only one method. */
  secretRequests(method?: string): number {
    return this.server.count((r) => SECRETS_PATH.test(r.path) && (!method || r.method === method));
  }

  /**
   * Fails upcoming Secrets requests with a Status like the API server's (429 carries `Retry-After`).
   * @param times how many requests fail (default 1)
   */
  failWith(
    code: number,
    times = 1,
    options: { retryAfterSeconds?: number; match?: Fault['match'] } = {},
  ): void {
    const headers: Record<string, string> = {};
    if (options.retryAfterSeconds !== undefined) headers['retry-after'] = String(options.retryAfterSeconds);
    this.server.faults.add({
      action: { kind: 'status', status: code, body: statusForCode(code, options.retryAfterSeconds), headers },
      times,
      match: options.match ?? ((r) => SECRETS_PATH.test(r.path)),
    });
  }

  /** Creates `namespace` (a no-op when it exists). */
  addNamespace(namespace: string): void {
    this.#namespaces.add(namespace);
  }

  /** Creates a service account (and its namespace) and returns a new bearer token for it. */
  createServiceAccount(namespace: string, name: string, options: { expiresInMs?: number } = {}): string {
    this.addNamespace(namespace);
    return this.issueToken(`system:serviceaccount:${namespace}:${name}`, options);
  }

  /** Issues a token for any user name (service accounts are `system:serviceaccount:<ns>:<name>`). */
  issueToken(user: string, options: { expiresInMs?: number; groups?: string[] } = {}): string {
    const token = `eyJ${randomBytes(24).toString('base64url')}`;
    const sa = /^system:serviceaccount:([^:]+):/.exec(user);
    this.#tokens.set(token, {
      user,
      groups: [
        ...(options.groups ?? []),
        ...(sa ? ['system:serviceaccounts', `system:serviceaccounts:${sa[1]}`] : []),
        'system:authenticated',
      ],
      expiresAt:
        options.expiresInMs === undefined ? undefined : this.server.clock.now() + options.expiresInMs,
    });
    return token;
  }

  /**
   * Issues a TLS client certificate signed by the emulator's CA (its client CA, as kubeadm's CA is both):
   * the API server takes the subject CN as the user name and each O as a group, as kube-apiserver's x509
   * authenticator does. Bind RBAC to it with a `User` subject (or `grant` for a service account name).
   */
  issueClientCertificate(user: string, groups: readonly string[] = []): { certPem: string; keyPem: string } {
    return this.server.ca!.issueClientCertificate(user, groups);
  }

  /**
   * Trusts the id tokens of `issuer` as bearer tokens, as kube-apiserver's OIDC authenticator does: the user
   * is `usernamePrefix` + `sub` (kube-apiserver's default prefix for the `sub` claim is `<issuer>#`). Bind
   * RBAC to it with a `User` subject.
   */
  trustOidcIssuer(issuer: KubeOidcIssuer, options: { usernamePrefix?: string } = {}): void {
    this.#oidcIssuers.push({ issuer, usernamePrefix: options.usernamePrefix ?? `${issuer.url}#` });
  }

  /** Makes a token invalid from now on (401), as when a projected token expires. */
  revokeToken(token: string): void {
    this.#tokens.delete(token);
  }

  /** Creates (or replaces) a Role in `namespace` with RBAC `rules`. */
  addRole(namespace: string, name: string, rules: KubePolicyRule[]): void {
    this.addNamespace(namespace);
    if (!this.#roles.has(namespace)) this.#roles.set(namespace, new Map());
    this.#roles.get(namespace)!.set(name, rules);
  }

  /** Binds Role `role` to `subjects` (users, groups, service accounts) in `namespace`. */
  addRoleBinding(namespace: string, name: string, role: string, subjects: KubeSubject[]): void {
    this.addNamespace(namespace);
    const list = this.#bindings.get(namespace) ?? [];
    this.#bindings.set(namespace, [...list.filter((b) => b.name !== name), { name, role, subjects }]);
  }

  /** Shortcut: a Role allowing `verbs` on secrets in `namespace`, bound to the service account `account`. */
  grant(namespace: string, account: string, verbs: string[] = SECRET_VERBS): void {
    const name = `${account}-secrets`;
    this.addRole(namespace, name, [{ verbs, resources: ['secrets'] }]);
    this.addRoleBinding(namespace, name, name, [{ kind: 'ServiceAccount', name: account, namespace }]);
  }

  /** Direct access to a stored Secret (for tests), or undefined. */
  getSecret(namespace: string, name: string): SecretObject | undefined {
    const s = this.#secrets.get(namespace)?.get(name);
    return s ? structuredClone(s) : undefined;
  }

  /** Stores a Secret directly, bypassing RBAC (for tests: foreign Secrets). */
  putSecret(namespace: string, secret: Partial<SecretObject> & { metadata: { name: string } }): SecretObject {
    this.addNamespace(namespace);
    const previous = this.#secrets.get(namespace)?.get(secret.metadata.name);
    return this.#write(namespace, { type: 'Opaque', ...secret } as Record<string, unknown>, previous, {
      manager: 'emulator',
    });
  }

  /**
   * Writes a kubeconfig for this server (CA by file path, bearer token) into a new temp folder and returns
   * its path. `server` points it elsewhere (a closed port, an unresolvable host), `certificateAuthority:
   * false` leaves the CA out (the client then does not trust the server), `insecureSkipTlsVerify` sets
   * `insecure-skip-tls-verify`.
   */
  writeKubeconfig(
    options: {
      token?: string;
      namespace?: string;
      context?: string;
      dir?: string;
      server?: string;
      certificateAuthority?: false;
      insecureSkipTlsVerify?: boolean;
    } = {},
  ): string {
    let dir = options.dir;
    if (dir === undefined) {
      dir = mkdtempSync(join(tmpdir(), 'nebula-kube-'));
      this.#tempDirs.push(dir);
    }
    const context = options.context ?? 'emulator';
    const yaml = [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: emulator',
      '  cluster:',
      `    server: ${options.server ?? this.url}`,
      ...(options.certificateAuthority === false
        ? []
        : [`    certificate-authority: ${JSON.stringify(this.caCertPath)}`]),
      ...(options.insecureSkipTlsVerify ? ['    insecure-skip-tls-verify: true'] : []),
      'users:',
      '- name: emulator-user',
      '  user:',
      `    token: ${JSON.stringify(options.token ?? this.adminToken)}`,
      'contexts:',
      `- name: ${context}`,
      '  context:',
      '    cluster: emulator',
      '    user: emulator-user',
      `    namespace: ${options.namespace ?? 'default'}`,
      `current-context: ${context}`,
      '',
    ].join('\n');
    const path = join(dir, 'config');
    writeFileSync(path, yaml, { mode: 0o600 });
    return path;
  }

  async #route(req: RecordedRequest, res: ServerResponse): Promise<void> {
    try {
      const identity = this.#authenticate(req);
      const match = SECRETS_PATH.exec(req.path);
      if (match) {
        this.#handleSecrets(
          req,
          res,
          identity,
          decodeURIComponent(match[1]!),
          match[2] && decodeURIComponent(match[2]),
        );
        return;
      }
      if (req.method !== 'GET') throw kubeErrors.methodNotAllowed(req.method);
      if (
        req.path === '/version' ||
        req.path === '/healthz' ||
        req.path === '/readyz' ||
        req.path === '/livez'
      ) {
        if (req.path !== '/version') {
          res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
          return;
        }
        sendJson(res, 200, VERSION);
        return;
      }
      if (!identity) throw kubeErrors.forbiddenPath('system:anonymous', req.path);
      if (req.path === '/api') {
        sendJson(res, 200, {
          kind: 'APIVersions',
          versions: ['v1'],
          serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: new URL(this.url).host }],
        });
      } else if (req.path === '/apis') {
        sendJson(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
      } else if (req.path === '/api/v1/secrets') {
        // All namespaces (`kubectl get secrets -A`): needs list at the cluster scope.
        const watching = req.query.get('watch') === 'true' || req.query.get('watch') === '1';
        if (!identity.groups.includes('system:masters')) {
          throw kubeErrors.forbidden(identity.user, watching ? 'watch' : 'list', 'secrets', undefined);
        }
        if (watching) this.#watch(req, res, undefined);
        else
          sendJson(res, 200, this.#list(req, undefined, /as=Table/.test(String(req.headers.accept ?? ''))));
      } else if (req.path === '/api/v1') {
        sendJson(res, 200, API_RESOURCES);
      } else if (req.path === '/openapi/v3') {
        sendJson(res, 200, {
          paths: { 'api/v1': { serverRelativeURL: `/openapi/v3/api/v1?hash=${OPENAPI_V3_HASH}` } },
        });
      } else if (req.path === '/openapi/v3/api/v1') {
        sendJson(res, 200, OPENAPI_V3_CORE);
      } else if (req.path === '/api/v1/namespaces' || req.path.startsWith('/api/v1/namespaces/')) {
        const name = req.path.split('/')[4];
        if (name === undefined) {
          sendJson(res, 200, {
            kind: 'NamespaceList',
            apiVersion: 'v1',
            metadata: { resourceVersion: String(this.#resourceVersion) },
            items: [...this.#namespaces].sort().map((n) => namespaceObject(n)),
          });
        } else if (this.#namespaces.has(name) && req.path.split('/').length === 5) {
          sendJson(res, 200, namespaceObject(name));
        } else throw kubeErrors.notFound('namespaces', name);
      } else throw kubeErrors.pathNotFound();
    } catch (error) {
      if (error instanceof KubeApiError) sendJson(res, error.status.code, error.status, error.headers);
      else throw error;
    }
  }

  #authenticate(req: RecordedRequest): Identity | undefined {
    // kube-apiserver tries the x509 authenticator before bearer tokens; the first that succeeds wins. A
    // certificate that does not chain to the client CA fails that authenticator only.
    const cert = req.clientCertificate;
    if (cert?.authorized && cert.commonName !== '') {
      return { user: cert.commonName, groups: [...cert.organizations, 'system:authenticated'] };
    }
    const header = req.headers.authorization;
    if (header === undefined && cert && !cert.authorized) throw kubeErrors.unauthorized();
    if (header === undefined) return undefined;
    const m = /^Bearer (.+)$/.exec(header);
    const identity = m ? (this.#tokens.get(m[1]!) ?? this.#oidcIdentity(m[1]!)) : undefined;
    if (!identity || (identity.expiresAt !== undefined && this.server.clock.now() >= identity.expiresAt)) {
      throw kubeErrors.unauthorized();
    }
    return identity;
  }

  /** The user of an id token a trusted issuer signed for its client, while it has not expired. */
  #oidcIdentity(token: string): Identity | undefined {
    for (const { issuer, usernamePrefix } of this.#oidcIssuers) {
      const claims = issuer.verifyIdToken(token);
      if (!claims || claims.iss !== issuer.url) continue;
      const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!audiences.includes(issuer.clientId)) continue;
      if (!(this.server.clock.now() < claims.exp * 1000)) return undefined;
      return { user: `${usernamePrefix}${claims.sub}`, groups: ['system:authenticated'] };
    }
    return undefined;
  }

  #authorize(identity: Identity | undefined, verb: string, namespace: string, name?: string): void {
    const user = identity?.user ?? 'system:anonymous';
    if (identity?.groups.includes('system:masters')) return;
    const roles = this.#roles.get(namespace);
    const allowed = (this.#bindings.get(namespace) ?? []).some((binding) => {
      const bound = binding.subjects.some((s) =>
        s.kind === 'ServiceAccount'
          ? user === `system:serviceaccount:${s.namespace ?? namespace}:${s.name}`
          : s.kind === 'User'
            ? user === s.name
            : (identity?.groups ?? []).includes(s.name),
      );
      return (
        bound &&
        (roles?.get(binding.role) ?? []).some(
          (rule) =>
            (rule.apiGroups ?? ['']).some((g) => g === '' || g === '*') &&
            rule.resources.some((r) => r === 'secrets' || r === '*') &&
            rule.verbs.some((v) => v === verb || v === '*') &&
            (!rule.resourceNames?.length || (name !== undefined && rule.resourceNames.includes(name))),
        )
      );
    });
    if (!allowed) throw kubeErrors.forbidden(user, verb, 'secrets', namespace, name);
  }

  #handleSecrets(
    req: RecordedRequest,
    res: ServerResponse,
    identity: Identity | undefined,
    namespace: string,
    name: string | undefined,
  ): void {
    const verb =
      req.method === 'GET'
        ? name
          ? 'get'
          : req.query.get('watch') === 'true' || req.query.get('watch') === '1'
            ? 'watch'
            : 'list'
        : req.method === 'POST' && !name
          ? 'create'
          : req.method === 'PUT' && name
            ? 'update'
            : req.method === 'PATCH' && name
              ? 'patch'
              : req.method === 'DELETE'
                ? name
                  ? 'delete'
                  : 'deletecollection'
                : undefined;
    if (!verb) throw kubeErrors.methodNotAllowed(req.method);
    this.#authorize(identity, verb, namespace, verb === 'create' ? undefined : name);
    if (req.body.length > 3 * 1024 * 1024) throw kubeErrors.tooLarge();
    const contentType = String(req.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    if (
      req.body.length > 0 &&
      contentType !== '' &&
      !contentType.includes('json') &&
      !(verb === 'patch' && contentType === APPLY_PATCH)
    ) {
      if (contentType !== 'application/vnd.kubernetes.protobuf' || verb === 'patch') {
        throw kubeErrors.unsupportedMediaType(contentType);
      }
    }
    const dryRun = req.query.getAll('dryRun').includes('All');
    const fieldManager = req.query.get('fieldManager');
    if (req.query.get('force') === 'true' && !(verb === 'patch' && contentType === APPLY_PATCH)) {
      throw kubeErrors.badRequest('force: Invalid value: true: may not be specified for non-apply patch');
    }
    const manager = updateManager(fieldManager, req.headers['user-agent'] as string | undefined);
    const store = this.#secrets.get(namespace);
    const current = name ? store?.get(name) : undefined;
    const table = /as=Table/.test(String(req.headers.accept ?? ''));
    switch (verb) {
      case 'get':
        if (!current) throw kubeErrors.notFound('secrets', name!);
        sendJson(res, 200, table ? this.#table([current], req) : current);
        return;
      case 'list':
        sendJson(res, 200, this.#list(req, namespace, table));
        return;
      case 'watch':
        this.#watch(req, res, namespace);
        return;
      case 'create': {
        if (!this.#namespaces.has(namespace)) throw kubeErrors.notFound('namespaces', namespace);
        const body = parseBody(req);
        const meta = (body['metadata'] ?? {}) as Record<string, unknown>;
        if (!meta['name'] && typeof meta['generateName'] === 'string') {
          meta['name'] = `${meta['generateName']}${randomBytes(3).toString('hex').slice(0, 5)}`;
          body['metadata'] = meta;
        }
        if (typeof meta['name'] === 'string' && store?.has(meta['name'])) {
          throw kubeErrors.alreadyExists('secrets', meta['name']);
        }
        sendJson(res, 201, this.#write(namespace, body, undefined, { manager, dryRun }));
        return;
      }
      case 'update': {
        const body = parseBody(req);
        const meta = (body['metadata'] ?? {}) as Record<string, unknown>;
        if (meta['name'] !== undefined && meta['name'] !== name) {
          throw kubeErrors.badRequest(
            'the name of the object (' +
              String(meta['name']) +
              ') does not match the name on the URL (' +
              name +
              ')',
          );
        }
        if (!current) throw kubeErrors.notFound('secrets', name!);
        const rv = meta['resourceVersion'];
        if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) {
          throw kubeErrors.conflict(
            'secrets',
            name!,
            'the object has been modified; please apply your changes to the latest version and try again',
          );
        }
        sendJson(
          res,
          200,
          this.#write(namespace, { ...body, metadata: { ...meta, name } }, current, { manager, dryRun }),
        );
        return;
      }
      case 'patch': {
        if (contentType === APPLY_PATCH) {
          this.#apply(req, res, namespace, name!, current, fieldManager, dryRun);
          return;
        }
        if (!current) throw kubeErrors.notFound('secrets', name!);
        const type = contentType;
        const patch = parseBody(req);
        let patched: Record<string, unknown>;
        if (type === 'application/json-patch+json')
          patched = jsonPatch(current, patch) as Record<string, unknown>;
        else if (
          type === 'application/merge-patch+json' ||
          type === 'application/strategic-merge-patch+json'
        ) {
          patched = mergePatch(current, patch) as Record<string, unknown>;
        } else throw kubeErrors.unsupportedMediaType(type);
        const meta = (patched['metadata'] ?? {}) as Record<string, unknown>;
        if (
          meta['resourceVersion'] !== undefined &&
          meta['resourceVersion'] !== current.metadata.resourceVersion
        ) {
          throw kubeErrors.conflict(
            'secrets',
            name!,
            'the object has been modified; please apply your changes to the latest version and try again',
          );
        }
        if (meta['name'] !== name) throw kubeErrors.badRequest('metadata.name may not be changed by a patch');
        sendJson(res, 200, this.#write(namespace, patched, current, { manager, dryRun }));
        return;
      }
      case 'delete': {
        if (!current) throw kubeErrors.notFound('secrets', name!);
        const options =
          req.body.length > 0
            ? (parseBody(req) as { preconditions?: { uid?: string; resourceVersion?: string } })
            : {};
        const pre = options.preconditions ?? {};
        if (pre.uid && pre.uid !== current.metadata.uid) {
          throw kubeErrors.conflict(
            'secrets',
            name!,
            `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`,
          );
        }
        if (pre.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
          throw kubeErrors.conflict(
            'secrets',
            name!,
            `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
          );
        }
        if (!dryRun) {
          store!.delete(name!);
          this.#resourceVersion++;
          this.#record('DELETED', current, current);
        }
        sendJson(res, 200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name, kind: 'secrets', uid: current.metadata.uid },
        });
        return;
      }
      case 'deletecollection': {
        const list = this.#list(req, namespace, false);
        if (!dryRun) {
          for (const item of list.items) {
            const removed = store?.get(item.metadata.name);
            store?.delete(item.metadata.name);
            this.#resourceVersion++;
            if (removed) this.#record('DELETED', removed, removed);
          }
        }
        sendJson(res, 200, { ...list, items: list.items });
      }
    }
  }

  /**
   * A server-side apply (`PATCH` with `application/apply-patch+yaml`): creates the Secret when it is
   * missing (201) or applies over it (200), with the field ownership of {@link serverSideApply}.
   */
  #apply(
    req: RecordedRequest,
    res: ServerResponse,
    namespace: string,
    name: string,
    current: SecretObject | undefined,
    fieldManager: string | null,
    dryRun: boolean,
  ): void {
    if (!fieldManager) {
      throw kubeErrors.badRequest(
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      );
    }
    const force = req.query.get('force') === 'true';
    const body = parseApplyBody(req);
    if (body['apiVersion'] !== 'v1' || body['kind'] !== 'Secret') {
      throw kubeErrors.badRequest(
        `Incorrect version specified in apply patch. Specified patch version: ${String(body['apiVersion'] ?? '')}, expected: v1`,
      );
    }
    const meta = (body['metadata'] ?? {}) as Record<string, unknown>;
    if (meta['name'] !== undefined && meta['name'] !== name) {
      throw kubeErrors.badRequest(
        `the name of the object (${String(meta['name'])}) does not match the name on the URL (${name})`,
      );
    }
    if (meta['managedFields'] !== undefined) {
      throw kubeErrors.badRequest('metadata.managedFields must be nil');
    }
    if (!current && !this.#namespaces.has(namespace)) throw kubeErrors.notFound('namespaces', namespace);
    const rv = meta['resourceVersion'];
    if (current && rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) {
      throw kubeErrors.conflict(
        'secrets',
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    }
    const merged = serverSideApply(
      current as Record<string, unknown> | undefined,
      body,
      fieldManager,
      force,
      this.#timestamp(),
      name,
    );
    const mergedMeta = merged['metadata'] as Record<string, unknown>;
    const managedFields = mergedMeta['managedFields'] as ManagedFieldsEntry[];
    const written = this.#write(namespace, { ...merged, metadata: { ...mergedMeta, name } }, current, {
      managedFields,
      dryRun,
    });
    sendJson(res, current ? 200 : 201, written);
  }

  /** The API server's timestamp format: RFC 3339 in whole seconds. */
  #timestamp(): string {
    return new Date(this.server.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  #write(
    namespace: string,
    body: Record<string, unknown>,
    previous: SecretObject | undefined,
    options: { manager?: string; managedFields?: ManagedFieldsEntry[]; dryRun?: boolean },
  ): SecretObject {
    const dryRun = options.dryRun ?? false;
    const meta = { ...((body['metadata'] ?? {}) as Record<string, unknown>) };
    if (meta['namespace'] !== undefined && meta['namespace'] !== '' && meta['namespace'] !== namespace) {
      throw kubeErrors.badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    checkBase64Data(body['data']);
    const data: Record<string, string> = { ...((body['data'] as Record<string, string> | undefined) ?? {}) };
    const stringData = body['stringData'];
    if (stringData && typeof stringData === 'object') {
      for (const [k, v] of Object.entries(stringData as Record<string, unknown>)) {
        data[k] = Buffer.from(String(v), 'utf8').toString('base64');
      }
    }
    const candidate: Record<string, unknown> = {
      ...body,
      type: body['type'] || 'Opaque',
      data,
      metadata: meta,
    };
    delete candidate['stringData'];
    const name = String(meta['name'] ?? '');
    const causes = validateSecret(candidate, previous);
    if (causes.length > 0) throw kubeErrors.invalid('Secret', name, causes);
    const secret: SecretObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace,
        uid: previous?.metadata.uid ?? randomUUID(),
        resourceVersion: String(dryRun ? this.#resourceVersion : ++this.#resourceVersion),
        creationTimestamp: previous?.metadata.creationTimestamp ?? this.#timestamp(),
        ...(meta['labels'] && Object.keys(meta['labels']).length
          ? { labels: meta['labels'] as Record<string, string> }
          : {}),
        ...(meta['annotations'] && Object.keys(meta['annotations']).length
          ? { annotations: meta['annotations'] as Record<string, string> }
          : {}),
      },
      type: String(candidate['type']),
      ...(Object.keys(data).length ? { data } : {}),
      ...(candidate['immutable'] === true ? { immutable: true } : {}),
    };
    const managedFields =
      options.managedFields ??
      recordUpdate(
        previous as Record<string, unknown> | undefined,
        secret as unknown as Record<string, unknown>,
        options.manager ?? 'unknown',
        this.#timestamp(),
      );
    if (managedFields.length > 0) secret.metadata['managedFields'] = managedFields;
    if (!dryRun) {
      if (!this.#secrets.has(namespace)) this.#secrets.set(namespace, new Map());
      const store = this.#secrets.get(namespace)!;
      const before = store.get(name);
      store.set(name, secret);
      this.#record(before ? 'MODIFIED' : 'ADDED', secret, before);
    }
    return structuredClone(secret);
  }

  /** Appends a change to the watch history (bounded) and sends it to the open watches it concerns. */
  #record(type: WatchEvent['type'], object: SecretObject, previous: SecretObject | undefined): void {
    const event: WatchEvent = {
      type,
      rv: this.#resourceVersion,
      object: structuredClone(object),
      previous: previous ? structuredClone(previous) : undefined,
    };
    this.#events.push(event);
    while (this.#events.length > this.#watchHistory) {
      this.#compactedThrough = this.#events.shift()!.rv;
    }
    for (const watch of this.#watches) this.#deliver(watch, event);
  }

  /**
   * A watch (`GET ...secrets?watch=true`): a chunked stream of `{"type","object"}` lines. Without a
   * resourceVersion (or with "0") it starts with an ADDED per current object; with one, it replays the
   * history after it, or sends an ERROR event with a 410 Expired Status when that version was compacted
   * away. Label and field selectors apply to the object before and after each change, as the watch cache
   * does: an object that stops matching arrives as DELETED, one that starts matching as ADDED.
   */
  #watch(req: RecordedRequest, res: ServerResponse, namespace: string | undefined): void {
    const labels = parseLabelSelector(req.query.get('labelSelector') ?? '');
    const fields = parseFieldSelector(req.query.get('fieldSelector') ?? '');
    const rvParam = req.query.get('resourceVersion') ?? '';
    const from = rvParam === '' || rvParam === '0' ? undefined : Number(rvParam);
    if (from !== undefined && !Number.isInteger(from)) {
      throw kubeErrors.badRequest(`resourceVersion: Invalid value: "${rvParam}": must be an integer`);
    }
    const timeoutSeconds = Number(req.query.get('timeoutSeconds') ?? '0');
    const watch: OpenWatch = {
      namespace,
      matches: (secret) =>
        (namespace === undefined || secret.metadata.namespace === namespace) &&
        labels(secret.metadata.labels ?? {}) &&
        fields(secret),
      bookmarks: req.query.get('allowWatchBookmarks') === 'true',
      res,
      timer: undefined,
    };
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    if (from !== undefined && from < this.#compactedThrough) {
      const status = {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `too old resource version: ${from} (${this.#compactedThrough + 1})`,
        reason: 'Expired',
        code: 410,
      };
      res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      return;
    }
    if (from === undefined) {
      const current = (
        namespace === undefined
          ? [...this.#secrets.values()].flatMap((m) => [...m.values()])
          : [...(this.#secrets.get(namespace)?.values() ?? [])]
      ).sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
      for (const secret of current) if (watch.matches(secret)) this.#send(watch, 'ADDED', secret);
    } else {
      for (const event of this.#events) if (event.rv > from) this.#deliver(watch, event);
    }
    this.#watches.add(watch);
    // The API server answers at once; Node would hold the headers back until the first event.
    res.flushHeaders();
    res.once('close', () => {
      clearTimeout(watch.timer);
      this.#watches.delete(watch);
    });
    if (timeoutSeconds > 0) {
      watch.timer = setTimeout(() => {
        if (watch.bookmarks) this.#sendBookmark(watch);
        this.#endWatch(watch);
      }, timeoutSeconds * 1000);
      watch.timer.unref();
    }
  }

  #deliver(watch: OpenWatch, event: WatchEvent): void {
    const now = event.type !== 'DELETED' && watch.matches(event.object);
    const before = event.previous !== undefined && watch.matches(event.previous);
    if (event.type === 'DELETED') {
      if (before) this.#send(watch, 'DELETED', withVersion(event.object, event.rv));
    } else if (now) {
      this.#send(watch, before ? 'MODIFIED' : 'ADDED', event.object);
    } else if (before) {
      // Changed so that it no longer matches: the watcher sees it leave, with the change's version.
      this.#send(watch, 'DELETED', withVersion(event.previous!, event.rv));
    }
  }

  #send(watch: OpenWatch, type: string, object: unknown): void {
    if (watch.res.writableEnded) return;
    watch.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  #sendBookmark(watch: OpenWatch): void {
    this.#send(watch, 'BOOKMARK', {
      kind: 'Secret',
      apiVersion: 'v1',
      metadata: { resourceVersion: String(this.#resourceVersion) },
    });
  }

  #endWatch(watch: OpenWatch): void {
    clearTimeout(watch.timer);
    this.#watches.delete(watch);
    if (!watch.res.writableEnded) watch.res.end();
  }

  #list(req: RecordedRequest, namespace: string | undefined, table: boolean) {
    const labels = parseLabelSelector(req.query.get('labelSelector') ?? '');
    const fields = parseFieldSelector(req.query.get('fieldSelector') ?? '');
    const limit = Number(req.query.get('limit') ?? 0);
    let start = '';
    const token = req.query.get('continue');
    if (token) {
      let parsed: { rv?: number; start?: string; at?: number };
      try {
        parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
      } catch {
        throw kubeErrors.badRequest('continue key is not valid: illegal base64 data');
      }
      if (typeof parsed.start !== 'string' || typeof parsed.at !== 'number') {
        throw kubeErrors.badRequest('continue key is not valid: incorrect encoded start resourceVersion');
      }
      if (this.server.clock.now() - parsed.at > this.#continueTtlMs) throw kubeErrors.expired();
      start = parsed.start;
    }
    const source =
      namespace === undefined
        ? [...this.#secrets.values()].flatMap((m) => [...m.values()])
        : [...(this.#secrets.get(namespace)?.values() ?? [])];
    const key = (x: SecretObject) => `${x.metadata.namespace}/${x.metadata.name}`;
    const all = source
      .filter((s) => key(s) > start && labels(s.metadata.labels ?? {}) && fields(s))
      .sort((a, b) => (key(a) < key(b) ? -1 : 1));
    const page = limit > 0 ? all.slice(0, limit) : all;
    const more = page.length < all.length;
    const metadata: Record<string, unknown> = { resourceVersion: String(this.#resourceVersion) };
    if (more) {
      metadata['continue'] = Buffer.from(
        JSON.stringify({
          rv: this.#resourceVersion,
          start: key(page[page.length - 1]!),
          at: this.server.clock.now(),
        }),
      ).toString('base64url');
      metadata['remainingItemCount'] = all.length - page.length;
    }
    if (table) return { ...this.#table(page, req), metadata } as never as { items: SecretObject[] };
    return {
      kind: 'SecretList',
      apiVersion: 'v1',
      metadata,
      items: page.map(({ apiVersion: _a, kind: _k, ...rest }) => structuredClone(rest) as SecretObject),
    };
  }

  #table(items: SecretObject[], req: RecordedRequest) {
    const now = this.server.clock.now();
    const withObject = req.query.get('includeObject') === 'Object';
    return {
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      metadata: { resourceVersion: String(this.#resourceVersion) },
      columnDefinitions: [
        {
          name: 'Name',
          type: 'string',
          format: 'name',
          description: 'Name must be unique within a namespace.',
          priority: 0,
        },
        {
          name: 'Type',
          type: 'string',
          format: '',
          description: 'Used to facilitate programmatic handling of secret data.',
          priority: 0,
        },
        { name: 'Data', type: 'string', format: '', description: 'Number of keys in data.', priority: 0 },
        {
          name: 'Age',
          type: 'string',
          format: '',
          description: 'CreationTimestamp of the object.',
          priority: 0,
        },
      ],
      rows: items.map((s) => ({
        cells: [
          s.metadata.name,
          s.type,
          Object.keys(s.data ?? {}).length,
          age(now - Date.parse(s.metadata.creationTimestamp)),
        ],
        object: withObject
          ? s
          : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: s.metadata },
      })),
    };
  }
}

function withVersion(secret: SecretObject, rv: number): SecretObject {
  return { ...secret, metadata: { ...secret.metadata, resourceVersion: String(rv) } };
}

function parseBody(req: RecordedRequest): Record<string, unknown> {
  if (isKubeProtobuf(req.body)) {
    try {
      return decodeKubeProtobuf(req.body);
    } catch (error) {
      throw kubeErrors.badRequest(`cannot decode the protobuf body: ${(error as Error).message}`);
    }
  }
  try {
    const parsed: unknown = JSON.parse(req.body.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw kubeErrors.badRequest(
      "couldn't get version/kind; json parse error: invalid JSON in the request body",
    );
  }
}

const APPLY_PATCH = 'application/apply-patch+yaml';
const requireYaml = createRequire(import.meta.url);

/** An apply body: JSON (valid YAML, what client libraries send) or YAML (read with js-yaml, client-node's own). */
function parseApplyBody(req: RecordedRequest): Record<string, unknown> {
  const text = req.body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    try {
      parsed = (requireYaml('js-yaml') as { load(text: string): unknown }).load(text);
    } catch {
      throw kubeErrors.badRequest('error decoding YAML: the apply patch is neither JSON nor YAML');
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw kubeErrors.badRequest('the apply patch must be an object');
  }
  return parsed as Record<string, unknown>;
}

function namespaceObject(name: string) {
  return {
    kind: 'Namespace',
    apiVersion: 'v1',
    metadata: {
      name,
      uid: randomUUID(),
      resourceVersion: '1',
      labels: { 'kubernetes.io/metadata.name': name },
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

const VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-nebula-emulator',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z',
  goVersion: 'go1.23.0',
  compiler: 'gc',
  platform: 'linux/amd64',
};

/**
 * The part of the core group's OpenAPI v3 document kubectl reads: the Secret PATCH operation, tagged with its
 * group-version-kind and listing `fieldValidation`, so kubectl leaves validation to the server
 * (`?fieldValidation=Strict`) instead of downloading schemas to validate on the client.
 */
const OPENAPI_V3_CORE = {
  openapi: '3.0.0',
  info: { title: 'Kubernetes', version: 'v1.32.0' },
  paths: {
    '/api/v1/namespaces/{namespace}/secrets/{name}': {
      patch: {
        description: 'partially update the specified Secret',
        operationId: 'patchCoreV1NamespacedSecret',
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: '', version: 'v1', kind: 'Secret' },
        parameters: ['dryRun', 'fieldManager', 'fieldValidation', 'force'].map((name) => ({
          name,
          in: 'query',
          schema: { type: name === 'force' ? 'boolean' : 'string', uniqueItems: true },
        })),
        responses: { '200': { description: 'OK' }, '201': { description: 'Created' } },
      },
    },
  },
  components: { schemas: {} },
};
const OPENAPI_V3_HASH = '4E8E1D0B3A6C5F2E9D7B1A0C3E5F7A9B';

const API_RESOURCES = {
  kind: 'APIResourceList',
  groupVersion: 'v1',
  resources: [
    {
      name: 'namespaces',
      singularName: 'namespace',
      namespaced: false,
      kind: 'Namespace',
      verbs: ['get', 'list'],
      shortNames: ['ns'],
    },
    {
      name: 'secrets',
      singularName: 'secret',
      namespaced: true,
      kind: 'Secret',
      verbs: SECRET_VERBS,
      storageVersionHash: 'S6u1pOWzb84=',
    },
  ],
};

/**
 * What `npx nebula-credential emulator kubernetes` runs: the emulator with one namespace (`default`), a
 * service account `nebula` allowed every Secrets verb there, and a kubeconfig written to a temp folder.
 *
 * @example
 * ```ts
 * import { cliEmulator } from 'nebula-credential/testing';
 * const running = await cliEmulator.start({});
 * console.log(running.info.kubeconfigPath);
 * await running.stop();
 * ```
 */
export const cliEmulator: CliEmulator = {
  service: 'kubernetes',
  async start(args) {
    const emulator = new KubernetesEmulator({ port: args.port });
    await startOrStop(emulator);
    const namespace = 'default';
    const token = emulator.createServiceAccount(namespace, 'nebula');
    emulator.grant(namespace, 'nebula');
    const kubeconfigPath = emulator.writeKubeconfig({ token, namespace });
    return {
      info: {
        service: 'kubernetes',
        server: emulator.url,
        token,
        namespace,
        caCertPath: emulator.caCertPath,
        kubeconfigPath,
        config: { provider: 'kubernetes', kubeconfigPath, namespace },
      },
      stop: () => emulator.stop(),
    };
  },
};
