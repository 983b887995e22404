import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Clock, systemClock } from '../../core/clock.js';
import { type CliEmulator, startOrStop } from '../emulator-kit/cli-contract.js';
import { EmulatorHttpServer, type FaultInjector, type RecordedRequest } from '../emulator-kit/server.js';
import { createTestCertificateAuthority, type TestCertificateAuthority } from '../emulator-kit/tls.js';
import { ListRewritingFront, ORIGINAL_VERB_HEADER } from './vault-front.js';
import {
  KvError,
  type KvMount,
  keyMetadata,
  listKeys,
  newEntry,
  prune,
  validateCustomMetadata,
  versionMetadata,
} from './vault-kv.js';
import {
  capabilitiesFor,
  DEFAULT_POLICY_RULES,
  parsePolicyHcl,
  type VaultCapability,
  type VaultPolicyRule,
} from './vault-policy.js';

export { parsePolicyHcl, type VaultCapability, type VaultPolicyRule } from './vault-policy.js';

/** Vault's default system max TTL (768 h). */
const SYSTEM_MAX_TTL_S = 768 * 3600;
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

/**
 * Options of {@link VaultEmulator}.
 *
 * @example
 * ```ts
 * import { ManualClock, VaultEmulator } from 'nebula-credential/testing';
 * const vault = new VaultEmulator({ tls: true, clock: new ManualClock(), rootToken: 'hvs.dev-root' });
 * ```
 */
export interface VaultEmulatorOptions {
  /** Port for clients; 0 (default) picks a free one. */
  port?: number | undefined;
  /**
   * Serve https with a generated CA (`true`) or the given one. Default false (plain http, like `vault server
   * -dev`).
   */
  tls?: boolean | TestCertificateAuthority | undefined;
  /** Time for TTLs and timestamps. Default: the system clock. Pass a ManualClock to drive token expiry. */
  clock?: Clock | undefined;
  /** The root token's value. Default: a random `hvs.` token. */
  rootToken?: string | undefined;
  /** KV v2 mounts created in every namespace. Default `['secret']`. */
  kvMounts?: readonly string[] | undefined;
}

/**
 * Options of {@link VaultEmulator.createToken}.
 *
 * @example
 * ```ts
 * const token = vault.createToken({ policies: ['app'], ttl: 7200, explicitMaxTtl: 9000, renewable: true });
 * ```
 */
export interface VaultTokenOptions {
  policies?: readonly string[];
  /** TTL in seconds; 0 means no expiry (root tokens only, in real Vault). Default 768 h. */
  ttl?: number;
  /** explicit_max_ttl in seconds; 0 = system max (768 h). */
  explicitMaxTtl?: number;
  renewable?: boolean;
  /** Namespace the token lives in ('' = root). */
  namespace?: string;
  /** Leave out the `default` policy. */
  noDefaultPolicy?: boolean;
  /** Choose the token value (tests). */
  id?: string;
}

/**
 * Options of {@link VaultEmulator.createAppRole}.
 *
 * @example
 * ```ts
 * const { roleId, secretId } = vault.createAppRole('app', { policies: ['app'], tokenTtl: 3600 });
 * ```
 */
export interface VaultAppRoleOptions {
  policies?: readonly string[];
  /** token_ttl in seconds. Default 3600. */
  tokenTtl?: number;
  /** token_max_ttl in seconds. Default 0 (system max). */
  tokenMaxTtl?: number;
  namespace?: string;
  /** Auth mount path. Default `approle`. */
  mount?: string;
}

interface TokenEntry {
  id: string;
  accessor: string;
  policies: string[];
  namespace: string;
  creationTime: number;
  creationTtl: number;
  explicitMaxTtl: number;
  /** 0 = never. */
  expireAt: number;
  /** 0 = never. */
  maxExpireAt: number;
  renewable: boolean;
  displayName: string;
  path: string;
  meta: Record<string, string> | null;
}

interface AppRole {
  name: string;
  roleId: string;
  secretIds: Set<string>;
  options: VaultAppRoleOptions;
}

interface Namespace {
  mounts: Map<string, KvMount>;
  policies: Map<string, VaultPolicyRule[]>;
  appRoles: Map<string, AppRole>;
}

interface RequestContext {
  request: RecordedRequest;
  res: ServerResponse;
  method: string;
  list: boolean;
  namespace: string;
  path: string;
  body: Record<string, unknown>;
}

const errorBody = (...errors: string[]) => ({ errors });
const multi = (...errors: string[]) =>
  `${errors.length} error${errors.length > 1 ? 's' : ''} occurred:\n${errors.map((e) => `\t* ${e}`).join('\n')}\n\n`;

/**
 * A loopback HashiCorp Vault for tests: KV v2 (data, metadata, delete, undelete, destroy, listing by the
 * `LIST` verb and by `GET ?list=true`, versions with max_versions and cas, custom_metadata), a token store
 * with ACL policies (path globs, capabilities, `deny`), lookup-self and renew-self with TTL, max TTL and the
 * renewable flag, AppRole login, Enterprise namespaces (`X-Vault-Namespace` or a path prefix), sealed and
 * standby modes, Vault's error bodies, fault injection and a controllable clock. http or https.
 *
 * @example
 * ```ts
 * import { VaultEmulator } from 'nebula-credential/testing';
 * const vault = new VaultEmulator({ tls: true });
 * await vault.start();
 * const token = vault.createToken({ policies: ['app'], ttl: 3600 });
 * vault.writePolicy('app', 'path "secret/data/*" { capabilities = ["create", "read", "update"] }');
 * // ... point a client at vault.url with vault.caCertPem, then:
 * await vault.stop();
 * ```
 */
export class VaultEmulator {
  /** Stamps version times and token lifetimes (a ManualClock in tests). */
  readonly clock: Clock;
  /** A root token: allowed everything, never expires. */
  readonly rootToken: string;
  /** The generated certificate authority when it serves https, else `undefined` (http mode). */
  readonly ca: TestCertificateAuthority | undefined;
  /** True: every request but sys/health and sys/seal-status gets 503 "Vault is sealed". */
  sealed = false;
  /** True: this node is a standby that cannot serve (503 "Vault is in standby mode"). */
  standby = false;
  readonly #inner: EmulatorHttpServer;
  readonly #options: VaultEmulatorOptions;
  readonly #tokens = new Map<string, TokenEntry>();
  readonly #namespaces = new Map<string, Namespace>();
  #front: ListRewritingFront | undefined;
  #url: string | undefined;
  #caDir: string | undefined;

  /**
   * A Vault with the KV v2 mounts of `options.kvMounts` (`secret` by default) and a root token; nothing
   * listens until `start()`.
   */
  constructor(options: VaultEmulatorOptions = {}) {
    this.#options = options;
    this.clock = options.clock ?? systemClock;
    this.ca = options.tls === true ? createTestCertificateAuthority() : options.tls || undefined;
    this.rootToken = options.rootToken ?? `hvs.${randomBytes(18).toString('base64url')}`;
    this.#inner = new EmulatorHttpServer({ clock: this.clock }, (req, res) => this.#handle(req, res));
    this.#namespaces.set('', this.#newNamespace());
    this.#tokens.set(this.rootToken, {
      id: this.rootToken,
      accessor: randomBytes(12).toString('base64url'),
      policies: ['root'],
      namespace: '',
      creationTime: this.clock.now(),
      creationTtl: 0,
      explicitMaxTtl: 0,
      expireAt: 0,
      maxExpireAt: 0,
      renewable: false,
      displayName: 'root',
      path: 'auth/token/root',
      meta: null,
    });
  }

  /** Every request received (after `LIST` became `GET ?list=true`; see `originalVerb`). */
  get requests(): RecordedRequest[] {
    return this.#inner.requests;
  }

  /** Fault queue: statuses, resets, hangs, delays. */
  get faults(): FaultInjector {
    return this.#inner.faults;
  }

  /** Bytes of `body` faults sent so far: what a client that stops reading early never took. */
  get streamedBodyBytes(): number {
    return this.#inner.streamedBodyBytes;
  }

  /** TCP (or TLS) connections clients opened. */
  get connections(): number {
    return this.#front?.connections ?? 0;
  }

  /** Base URL, e.g. `https://127.0.0.1:8200`. */
  get url(): string {
    if (!this.#url) throw new Error('vault emulator not started');
    return this.#url;
  }

  /** The CA certificate (PEM) clients must trust, when serving https. */
  get caCertPem(): string | undefined {
    return this.ca?.caCertPem;
  }

  /** Number of recorded requests matching `predicate`. */
  count(predicate?: (request: RecordedRequest) => boolean): number {
    return this.#inner.count(predicate);
  }

  /** The verb the client sent (`LIST` survives the front's rewrite here). */
  static originalVerb(request: RecordedRequest): string {
    return request.headers[ORIGINAL_VERB_HEADER] === 'LIST' ? 'LIST' : request.method;
  }

  /** Listens on a loopback port and returns the URL and port. */
  async start(): Promise<{ url: string; port: number }> {
    const inner = await this.#inner.start();
    const front = new ListRewritingFront(
      inner.port,
      this.ca ? { cert: this.ca.serverCertPem, key: this.ca.serverKeyPem } : undefined,
    );
    let port: number;
    try {
      port = await front.listen(this.#options.port ?? 0, '127.0.0.1');
    } catch (error) {
      // The front's port is taken (say): the inner server must not keep the process alive on its own.
      await this.#inner.stop();
      throw error;
    }
    this.#front = front;
    this.#url = `${this.ca ? 'https' : 'http'}://127.0.0.1:${port}`;
    return { url: this.#url, port };
  }

  /** Stops serving and removes the temporary files it wrote (the CA it generated, {@link writeCaFile}'s). */
  async stop(): Promise<void> {
    await this.#front?.close();
    await this.#inner.stop();
    if (this.#caDir) rmSync(this.#caDir, { recursive: true, force: true });
    if (this.#options.tls === true) this.ca?.dispose();
  }

  /** Writes the CA certificate to a temporary file (removed on stop) and returns its path. */
  writeCaFile(): string | undefined {
    if (!this.ca) return undefined;
    this.#caDir ??= mkdtempSync(join(tmpdir(), 'nebula-vault-ca-'));
    const path = join(this.#caDir, 'ca.pem');
    writeFileSync(path, this.ca.caCertPem);
    return path;
  }

  /** Creates an Enterprise namespace (with the KV v2 mounts of the options). */
  createNamespace(path: string): void {
    const clean = trimSlashes(path);
    const parts = clean.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (!this.#namespaces.has(p)) this.#namespaces.set(p, this.#newNamespace());
    }
  }

  /** Creates or replaces an ACL policy from HCL text or rules. */
  writePolicy(name: string, policy: string | readonly VaultPolicyRule[], namespace = ''): void {
    const rules = typeof policy === 'string' ? parsePolicyHcl(policy) : [...policy];
    this.#ns(namespace).policies.set(name, rules);
  }

  /** Creates a service token and returns its value. */
  createToken(options: VaultTokenOptions = {}): string {
    const now = this.clock.now();
    const id = options.id ?? `hvs.${randomBytes(18).toString('base64url')}`;
    const ttl = options.ttl ?? SYSTEM_MAX_TTL_S;
    const explicitMax = options.explicitMaxTtl ?? 0;
    const maxTtl = Math.min(explicitMax || SYSTEM_MAX_TTL_S, SYSTEM_MAX_TTL_S);
    const policies = [...(options.noDefaultPolicy ? [] : ['default']), ...(options.policies ?? [])];
    this.#tokens.set(id, {
      id,
      accessor: randomBytes(12).toString('base64url'),
      policies: [...new Set(policies)].sort(),
      namespace: trimSlashes(options.namespace ?? ''),
      creationTime: now,
      creationTtl: ttl,
      explicitMaxTtl: explicitMax,
      expireAt: ttl === 0 ? 0 : now + Math.min(ttl, maxTtl) * 1000,
      maxExpireAt: ttl === 0 ? 0 : now + maxTtl * 1000,
      renewable: options.renewable ?? true,
      displayName: 'token',
      path: 'auth/token/create',
      meta: null,
    });
    return id;
  }

  /** Revokes a token (later requests with it get "permission denied, invalid token"). */
  revokeToken(token: string): void {
    this.#tokens.delete(token);
  }

  /** Creates an AppRole and one secret_id for it. */
  createAppRole(name: string, options: VaultAppRoleOptions = {}): { roleId: string; secretId: string } {
    const roleId = randomUUID();
    const secretId = randomUUID();
    this.#ns(options.namespace ?? '').appRoles.set(`${options.mount ?? 'approle'}/${name}`, {
      name,
      roleId,
      secretIds: new Set([secretId]),
      options,
    });
    return { roleId, secretId };
  }

  /** The stored data of a key's latest version (test inspection). */
  readSecret(path: string, options: { namespace?: string; mount?: string } = {}): unknown {
    const entry = this.#ns(options.namespace ?? '')
      .mounts.get(options.mount ?? 'secret')
      ?.entries.get(path);
    return entry?.versions.get(entry.currentVersion)?.data ?? undefined;
  }

  /** Mount-level KV config (`max_versions`, `cas_required`), as `POST secret/config` sets it. */
  configureMount(
    config: { maxVersions?: number; casRequired?: boolean },
    mount = 'secret',
    namespace = '',
  ): void {
    const m = this.#ns(namespace).mounts.get(mount);
    if (!m) throw new Error(`no mount ${mount}`);
    if (config.maxVersions !== undefined) m.maxVersions = config.maxVersions;
    if (config.casRequired !== undefined) m.casRequired = config.casRequired;
  }

  #newNamespace(): Namespace {
    const mounts = new Map<string, KvMount>();
    for (const m of this.#options.kvMounts ?? ['secret']) {
      mounts.set(m, { maxVersions: 0, casRequired: false, entries: new Map() });
    }
    return { mounts, policies: new Map(), appRoles: new Map() };
  }

  #ns(path: string): Namespace {
    const ns = this.#namespaces.get(trimSlashes(path));
    if (!ns) throw new Error(`no namespace "${path}"`);
    return ns;
  }

  // ---- HTTP ---------------------------------------------------------------------------------------

  async #handle(request: RecordedRequest, res: ServerResponse): Promise<void> {
    res.setHeader('cache-control', 'no-store');
    try {
      await this.#route(request, res);
    } catch (error) {
      if (error instanceof KvError) this.#send(res, error.status, errorBody(error.message));
      else throw error;
    }
  }

  #send(res: ServerResponse, status: number, body?: unknown): void {
    if (body === undefined) {
      res.writeHead(status);
      res.end();
      return;
    }
    const text = `${JSON.stringify(body)}\n`;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  #envelope(data: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      request_id: randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data,
      wrap_info: null,
      warnings: null,
      auth: null,
      ...extra,
    };
  }

  async #route(request: RecordedRequest, res: ServerResponse) {
    if (!request.path.startsWith('/v1/')) {
      this.#send(res, 404, undefined);
      return;
    }
    if (request.body.length > MAX_REQUEST_BYTES) {
      throw new KvError(413, multi('http: request body too large'));
    }
    let path = decodeURIComponent(request.path.slice(4));
    const list =
      request.method === 'GET' && ['true', '1'].includes(request.query.get('list')?.toLowerCase() ?? '');
    const method = list ? 'LIST' : request.method;

    if (path === 'sys/health') {
      const status = this.sealed ? 503 : this.standby ? 429 : 200;
      this.#send(res, status, {
        initialized: true,
        sealed: this.sealed,
        standby: this.standby,
        performance_standby: false,
        replication_performance_mode: 'disabled',
        replication_dr_mode: 'disabled',
        server_time_utc: Math.floor(this.clock.now() / 1000),
        version: '1.17.0',
        cluster_name: 'vault-emulator',
        cluster_id: '00000000-0000-0000-0000-000000000000',
      });
      return;
    }
    if (path === 'sys/seal-status') {
      this.#send(res, 200, {
        type: 'shamir',
        initialized: true,
        sealed: this.sealed,
        t: 1,
        n: 1,
        progress: 0,
        nonce: '',
        version: '1.17.0',
        build_date: '2024-06-10T10:11:34Z',
        migration: false,
        recovery_seal: false,
        storage_type: 'inmem',
      });
      return;
    }
    if (this.sealed) throw new KvError(503, 'Vault is sealed');
    if (this.standby) throw new KvError(503, 'Vault is in standby mode');

    let body: Record<string, unknown> = {};
    if (request.body.length > 0) {
      try {
        const parsed: unknown = JSON.parse(request.body.toString('utf8'));
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
          body = parsed as Record<string, unknown>;
        }
      } catch (error) {
        throw new KvError(400, `failed to parse JSON input: ${(error as Error).message}`);
      }
    }

    // Namespace from the header, then from leading path segments that name a namespace.
    let namespace = trimSlashes(String(request.headers['x-vault-namespace'] ?? ''));
    if (!this.#namespaces.has(namespace)) {
      throw new KvError(404, `no handler for route "${namespace}/${path}". route entry not found.`);
    }
    for (;;) {
      const slash = path.indexOf('/');
      if (slash < 0) break;
      const candidate = namespace ? `${namespace}/${path.slice(0, slash)}` : path.slice(0, slash);
      if (!this.#namespaces.has(candidate)) break;
      namespace = candidate;
      path = path.slice(slash + 1);
    }

    const ctx: RequestContext = { request, res, method, list, namespace, path, body };

    // Unauthenticated login endpoints.
    const login = /^auth\/([^/]+)\/login$/.exec(path);
    if (login && method === 'POST') return this.#appRoleLogin(ctx, login[1]!);

    const token = this.#authenticate(request, namespace);
    if (path === 'auth/token/lookup-self' && (method === 'GET' || method === 'POST')) {
      this.#authorize(token, namespace, path, 'read');
      return this.#lookupSelf(ctx, token);
    }
    if (path === 'auth/token/renew-self' && (method === 'POST' || method === 'PUT')) {
      this.#authorize(token, namespace, path, 'update');
      return this.#renewSelf(ctx, token);
    }
    if (path === 'auth/token/revoke-self' && (method === 'POST' || method === 'PUT')) {
      this.#authorize(token, namespace, path, 'update');
      this.#tokens.delete(token.id);
      return this.#send(res, 204);
    }
    if (path === 'auth/token/create' && (method === 'POST' || method === 'PUT')) {
      this.#authorize(token, namespace, path, 'update');
      return this.#createTokenApi(ctx);
    }
    const policy = /^sys\/(?:policies\/acl|policy)\/([^/]+)$/.exec(path);
    if (policy) return this.#policyApi(ctx, token, policy[1]!);
    const nsApi = /^sys\/namespaces\/(.+)$/.exec(path);
    if (nsApi && (method === 'POST' || method === 'PUT')) {
      this.#authorize(token, namespace, path, 'update');
      this.createNamespace(namespace ? `${namespace}/${nsApi[1]}` : nsApi[1]!);
      return this.#send(res, 200, this.#envelope({ path: `${trimSlashes(nsApi[1]!)}/` }));
    }
    const uiMount = /^sys\/internal\/ui\/mounts\/([^/]+)/.exec(path);
    if (uiMount && method === 'GET') {
      this.#authorize(token, namespace, path, 'read');
      const mount = this.#ns(namespace).mounts.get(uiMount[1]!);
      if (!mount)
        throw new KvError(
          400,
          `preflight capability check returned 403, please ensure client's policies grant access to path "${uiMount[1]}/"`,
        );
      return this.#send(
        res,
        200,
        this.#envelope({ path: `${uiMount[1]}/`, type: 'kv', options: { version: '2' }, description: '' }),
      );
    }

    const slash = path.indexOf('/');
    const mountName = slash < 0 ? path : path.slice(0, slash);
    const mount = this.#ns(namespace).mounts.get(mountName);
    if (!mount) throw new KvError(404, multi(`no handler for route "${path}". route entry not found.`));
    return this.#kv(ctx, token, mountName, mount, slash < 0 ? '' : path.slice(slash + 1));
  }

  #authenticate(request: RecordedRequest, namespace: string): TokenEntry {
    const header = request.headers['x-vault-token'];
    const bearer = /^Bearer\s+(.+)$/i.exec(String(request.headers.authorization ?? ''))?.[1];
    const value = typeof header === 'string' && header.length > 0 ? header : bearer;
    if (!value) throw new KvError(403, multi('permission denied'));
    const token = this.#tokens.get(value);
    const now = this.clock.now();
    if (token && token.expireAt !== 0 && token.expireAt <= now) this.#tokens.delete(value);
    const valid = token && (token.expireAt === 0 || token.expireAt > now);
    const visible =
      valid &&
      (token.namespace === '' ||
        namespace === token.namespace ||
        namespace.startsWith(`${token.namespace}/`));
    if (!visible) throw new KvError(403, multi('permission denied', 'invalid token'));
    return token;
  }

  /**
   * Throws Vault's 403 unless the token's policies grant `capability` on `path` (relative to `namespace`).
   */
  #authorize(token: TokenEntry, namespace: string, path: string, capability: VaultCapability): void {
    if (token.policies.includes('root')) return;
    const relative =
      token.namespace === namespace
        ? path
        : `${namespace.slice(token.namespace.length).replace(/^\//, '')}/${path}`;
    const rules: VaultPolicyRule[] = [];
    if (token.policies.includes('default')) rules.push(...DEFAULT_POLICY_RULES);
    const ns = this.#namespaces.get(token.namespace);
    for (const name of token.policies) rules.push(...(ns?.policies.get(name) ?? []));
    const caps = capabilitiesFor(rules, relative);
    if (!caps.has(capability)) throw new KvError(403, multi('permission denied'));
  }

  #lookupSelf(ctx: RequestContext, token: TokenEntry) {
    const now = this.clock.now();
    const ttl = token.expireAt === 0 ? 0 : Math.max(0, Math.ceil((token.expireAt - now) / 1000));
    this.#send(
      ctx.res,
      200,
      this.#envelope({
        accessor: token.accessor,
        creation_time: Math.floor(token.creationTime / 1000),
        creation_ttl: token.creationTtl,
        display_name: token.displayName,
        entity_id: '',
        expire_time: token.expireAt === 0 ? null : new Date(token.expireAt).toISOString(),
        explicit_max_ttl: token.explicitMaxTtl,
        id: token.id,
        issue_time: new Date(token.creationTime).toISOString(),
        meta: token.meta,
        num_uses: 0,
        orphan: token.policies.includes('root'),
        path: token.path,
        policies: token.policies,
        renewable: token.renewable,
        ttl,
        type: 'service',
        ...(token.namespace ? { namespace_path: `${token.namespace}/` } : {}),
      }),
    );
  }

  #renewSelf(ctx: RequestContext, token: TokenEntry) {
    if (!token.renewable || token.expireAt === 0) throw new KvError(400, multi('lease is not renewable'));
    const now = this.clock.now();
    const increment =
      ctx.body.increment === undefined ? token.creationTtl : parseDuration(ctx.body.increment);
    const maxLeft = Math.max(0, Math.floor((token.maxExpireAt - now) / 1000));
    const ttl = Math.min(increment, maxLeft);
    token.expireAt = now + ttl * 1000;
    const warnings =
      ttl < increment
        ? [
            `TTL of "${formatDuration(increment)}" exceeded the effective max_ttl of "${formatDuration(ttl)}"; TTL value is capped accordingly`,
          ]
        : null;
    this.#send(ctx.res, 200, this.#envelope(null, { warnings, auth: this.#authBlock(token, ttl) }));
  }

  #authBlock(token: TokenEntry, ttl: number): Record<string, unknown> {
    return {
      client_token: token.id,
      accessor: token.accessor,
      policies: token.policies,
      token_policies: token.policies,
      metadata: token.meta,
      lease_duration: ttl,
      renewable: token.renewable,
      entity_id: '',
      token_type: 'service',
      orphan: true,
      mfa_requirement: null,
      num_uses: 0,
    };
  }

  #appRoleLogin(ctx: RequestContext, mount: string) {
    const roleId = ctx.body.role_id;
    const secretId = ctx.body.secret_id;
    if (typeof roleId !== 'string' || roleId.length === 0) throw new KvError(400, 'missing role_id');
    const role = [...this.#ns(ctx.namespace).appRoles.entries()].find(
      ([key, r]) => key.startsWith(`${mount}/`) && r.roleId === roleId,
    )?.[1];
    if (!role || typeof secretId !== 'string' || !role.secretIds.has(secretId)) {
      throw new KvError(400, 'invalid role or secret ID');
    }
    const ttl = role.options.tokenTtl ?? 3600;
    const id = this.createToken({
      policies: role.options.policies ?? [],
      ttl,
      explicitMaxTtl: role.options.tokenMaxTtl ?? 0,
      renewable: true,
      namespace: ctx.namespace,
    });
    const token = this.#tokens.get(id)!;
    token.meta = { role_name: role.name };
    token.path = `auth/${mount}/login`;
    token.displayName = mount;
    this.#send(ctx.res, 200, this.#envelope(null, { auth: this.#authBlock(token, ttl) }));
  }

  #createTokenApi(ctx: RequestContext) {
    const b = ctx.body;
    const id = this.createToken({
      policies: Array.isArray(b.policies) ? (b.policies as string[]) : [],
      ttl: b.ttl === undefined ? SYSTEM_MAX_TTL_S : parseDuration(b.ttl),
      explicitMaxTtl: b.explicit_max_ttl === undefined ? 0 : parseDuration(b.explicit_max_ttl),
      renewable: b.renewable !== false,
      namespace: ctx.namespace,
      noDefaultPolicy: b.no_default_policy === true,
    });
    const token = this.#tokens.get(id)!;
    this.#send(
      ctx.res,
      200,
      this.#envelope(null, {
        auth: this.#authBlock(token, Math.round((token.expireAt - this.clock.now()) / 1000)),
      }),
    );
  }

  #policyApi(ctx: RequestContext, token: TokenEntry, name: string) {
    const ns = this.#ns(ctx.namespace);
    const full = `sys/policies/acl/${name}`;
    if (ctx.method === 'GET') {
      this.#authorize(token, ctx.namespace, full, 'read');
      const rules = ns.policies.get(name);
      if (!rules) throw new KvError(404, '');
      const text = rules
        .map((r) => `path "${r.path}" {\n  capabilities = ${JSON.stringify(r.capabilities)}\n}`)
        .join('\n\n');
      return this.#send(ctx.res, 200, this.#envelope({ name, policy: text }));
    }
    if (ctx.method === 'POST' || ctx.method === 'PUT') {
      this.#authorize(token, ctx.namespace, full, ns.policies.has(name) ? 'update' : 'create');
      const text = ctx.body.policy ?? ctx.body.rules;
      if (typeof text !== 'string') throw new KvError(400, "'policy' parameter not supplied or empty");
      try {
        ns.policies.set(name, parsePolicyHcl(text));
      } catch (error) {
        throw new KvError(400, `failed to parse policy: ${(error as Error).message}`);
      }
      return this.#send(ctx.res, 204);
    }
    if (ctx.method === 'DELETE') {
      this.#authorize(token, ctx.namespace, full, 'delete');
      ns.policies.delete(name);
      return this.#send(ctx.res, 204);
    }
    throw new KvError(405, multi('unsupported operation'));
  }

  // ---- KV v2 --------------------------------------------------------------------------------------

  #kv(ctx: RequestContext, token: TokenEntry, mountName: string, mount: KvMount, rest: string) {
    const { method, res, body, namespace } = ctx;
    const full = (p: string) => `${mountName}/${p}`;
    const now = this.clock.now();
    const auth = (p: string, cap: VaultCapability) => this.#authorize(token, namespace, full(p), cap);
    const writeCap = (key: string) => (mount.entries.has(key) ? 'update' : 'create');

    if (rest === 'config') {
      if (method === 'GET') {
        auth(rest, 'read');
        return this.#send(
          res,
          200,
          this.#envelope({
            cas_required: mount.casRequired,
            delete_version_after: '0s',
            max_versions: mount.maxVersions,
          }),
        );
      }
      if (method === 'POST' || method === 'PUT') {
        auth(rest, 'update');
        if (typeof body.max_versions === 'number') mount.maxVersions = body.max_versions;
        if (typeof body.cas_required === 'boolean') mount.casRequired = body.cas_required;
        return this.#send(res, 204);
      }
    }

    const slash = rest.indexOf('/');
    const kind = slash < 0 ? rest : rest.slice(0, slash);
    const key = slash < 0 ? '' : rest.slice(slash + 1);

    if (kind === 'metadata' && method === 'LIST') {
      auth(rest, 'list');
      const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
      const keys = listKeys(mount, prefix);
      if (keys.length === 0) return this.#send(res, 404, errorBody());
      return this.#send(res, 200, this.#envelope({ keys }));
    }
    if (method === 'LIST') throw new KvError(405, multi('unsupported operation'));
    if (key === '')
      throw new KvError(404, multi(`no handler for route "${mountName}/${rest}". route entry not found.`));

    const entry = mount.entries.get(key);
    const versionsArg = (): number[] => {
      const v = body.versions;
      const list = Array.isArray(v)
        ? v
        : typeof v === 'string'
          ? v.split(',')
          : typeof v === 'number'
            ? [v]
            : [];
      const nums = list.map((x) => Number(x)).filter((x) => Number.isInteger(x) && x > 0);
      if (nums.length === 0) throw new KvError(400, 'no version number provided');
      return nums;
    };

    switch (kind) {
      case 'data': {
        if (key.endsWith('/')) throw new KvError(400, "cannot write to a path ending in '/'");
        if (method === 'GET') {
          auth(rest, 'read');
          const requested = Number(ctx.request.query.get('version') ?? 0);
          const version = requested > 0 ? requested : (entry?.currentVersion ?? 0);
          const v = entry?.versions.get(version);
          if (!entry || !v) return this.#send(res, 404, errorBody());
          if (v.deletionTime !== 0 || v.destroyed) {
            return this.#send(
              res,
              404,
              this.#envelope({ data: null, metadata: versionMetadata(entry, version) }),
            );
          }
          return this.#send(
            res,
            200,
            this.#envelope({ data: v.data, metadata: versionMetadata(entry, version) }),
          );
        }
        if (method === 'POST' || method === 'PUT') {
          auth(rest, writeCap(key));
          if (typeof body.data !== 'object' || body.data === null || Array.isArray(body.data)) {
            throw new KvError(400, 'no data provided');
          }
          const options = (body.options ?? {}) as Record<string, unknown>;
          const cas = options.cas;
          const current = entry?.currentVersion ?? 0;
          if (cas === undefined && (mount.casRequired || entry?.casRequired)) {
            throw new KvError(400, 'check-and-set parameter required for this call');
          }
          if (cas !== undefined && Number(cas) !== current) {
            throw new KvError(400, 'check-and-set parameter did not match the current version');
          }
          const target = entry ?? newEntry(now);
          mount.entries.set(key, target);
          const version = target.currentVersion + 1;
          target.versions.set(version, {
            data: body.data as Record<string, unknown>,
            createdTime: now,
            deletionTime: 0,
            destroyed: false,
          });
          target.currentVersion = version;
          target.updatedTime = now;
          if (target.oldestVersion === 0) target.oldestVersion = version;
          prune(target, mount);
          return this.#send(res, 200, this.#envelope(versionMetadata(target, version)));
        }
        if (method === 'PATCH') {
          auth(rest, 'patch');
          if (!String(ctx.request.headers['content-type'] ?? '').includes('application/merge-patch+json')) {
            throw new KvError(415, multi('unsupported media type'));
          }
          const latest = entry?.versions.get(entry.currentVersion);
          if (!entry || !latest || latest.deletionTime !== 0 || latest.destroyed)
            return this.#send(res, 404, errorBody());
          const patched: Record<string, unknown> = { ...(latest.data ?? {}) };
          for (const [k, v] of Object.entries((body.data ?? {}) as Record<string, unknown>)) {
            if (v === null) delete patched[k];
            else patched[k] = v;
          }
          const version = entry.currentVersion + 1;
          entry.versions.set(version, { data: patched, createdTime: now, deletionTime: 0, destroyed: false });
          entry.currentVersion = version;
          entry.updatedTime = now;
          prune(entry, mount);
          return this.#send(res, 200, this.#envelope(versionMetadata(entry, version)));
        }
        if (method === 'DELETE') {
          auth(rest, 'delete');
          const latest = entry?.versions.get(entry.currentVersion);
          if (latest && latest.deletionTime === 0 && !latest.destroyed) latest.deletionTime = now;
          return this.#send(res, 204);
        }
        break;
      }
      case 'delete':
      case 'undelete':
      case 'destroy': {
        if (method !== 'POST' && method !== 'PUT') break;
        auth(rest, 'update');
        const versions = versionsArg();
        for (const n of versions) {
          const v = entry?.versions.get(n);
          if (!v) continue;
          if (kind === 'delete' && !v.destroyed && v.deletionTime === 0) v.deletionTime = now;
          if (kind === 'undelete' && !v.destroyed) v.deletionTime = 0;
          if (kind === 'destroy') {
            v.destroyed = true;
            v.data = null;
          }
        }
        return this.#send(res, 204);
      }
      case 'metadata': {
        if (method === 'GET') {
          auth(rest, 'read');
          if (!entry) return this.#send(res, 404, errorBody());
          return this.#send(res, 200, this.#envelope(keyMetadata(entry)));
        }
        if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
          auth(rest, method === 'PATCH' ? 'patch' : writeCap(key));
          if (method === 'PATCH' && !entry) return this.#send(res, 404, errorBody());
          let custom: Record<string, string> | null | undefined;
          if (body.custom_metadata !== undefined && body.custom_metadata !== null) {
            if (method === 'PATCH') {
              const merged: Record<string, unknown> = { ...(entry?.customMetadata ?? {}) };
              for (const [k, v] of Object.entries(body.custom_metadata as Record<string, unknown>)) {
                if (v === null) delete merged[k];
                else merged[k] = v;
              }
              custom = validateCustomMetadata(merged);
            } else custom = validateCustomMetadata(body.custom_metadata);
          }
          const target = entry ?? newEntry(now);
          if (typeof body.max_versions === 'number') target.maxVersions = body.max_versions;
          if (typeof body.cas_required === 'boolean') target.casRequired = body.cas_required;
          if (typeof body.delete_version_after === 'string')
            target.deleteVersionAfter = body.delete_version_after;
          if (custom !== undefined) target.customMetadata = custom;
          target.updatedTime = now;
          mount.entries.set(key, target);
          prune(target, mount);
          return this.#send(res, 204);
        }
        if (method === 'DELETE') {
          auth(rest, 'delete');
          mount.entries.delete(key);
          return this.#send(res, 204);
        }
        break;
      }
      case 'subkeys': {
        if (method !== 'GET') break;
        auth(rest, 'read');
        const v = entry?.versions.get(entry.currentVersion);
        if (!entry || !v) return this.#send(res, 404, errorBody());
        if (v.deletionTime !== 0 || v.destroyed) {
          return this.#send(
            res,
            404,
            this.#envelope({ subkeys: null, metadata: versionMetadata(entry, entry.currentVersion) }),
          );
        }
        const subkeys = Object.fromEntries(Object.keys(v.data ?? {}).map((k) => [k, null]));
        return this.#send(
          res,
          200,
          this.#envelope({ subkeys, metadata: versionMetadata(entry, entry.currentVersion) }),
        );
      }
      default:
        throw new KvError(404, multi(`no handler for route "${mountName}/${rest}". route entry not found.`));
    }
    throw new KvError(405, multi('unsupported operation'));
  }
}

function trimSlashes(s: string): string {
  return s.replace(/^\/+|\/+$/g, '');
}

/** Vault durations: seconds as a number or string, or Go-style `1h30m`, `45s`. */
function parseDuration(value: unknown): number {
  if (typeof value === 'number') return Math.floor(value);
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text);
  let total = 0;
  const re = /(\d+)(h|m|s|d)/g;
  let matched = '';
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * { d: 86400, h: 3600, m: 60, s: 1 }[m[2] as 'd' | 'h' | 'm' | 's'];
    matched += m[0];
  }
  if (matched !== text) throw new KvError(400, `invalid duration "${text}"`);
  return total;
}

function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${s > 0 || (h === 0 && m === 0) ? `${s}s` : ''}`;
}

/**
 * The `nebula-credential emulator vault` entry: https with a generated CA by default (`--http` for plain
 * http), printing the root token, the CA file and a ready `createStorageProvider` config.
 *
 * @example
 * ```ts
 * import { cliEmulator } from 'nebula-credential/testing';
 * const running = await cliEmulator.start({ http: true });
 * console.log(JSON.stringify(running.info));
 * await running.stop();
 * ```
 */
export const cliEmulator: CliEmulator = {
  service: 'vault',
  async start(args) {
    const emulator = new VaultEmulator({ port: args.port, tls: !args.http });
    const { url } = await startOrStop(emulator);
    const caCertPath = emulator.writeCaFile();
    const config: Record<string, unknown> = {
      provider: 'hashicorp-vault',
      address: url,
      auth: { token: emulator.rootToken },
      ...(caCertPath ? { tls: { caFile: caCertPath } } : {}),
    };
    return {
      info: {
        service: 'vault',
        endpoint: url,
        token: emulator.rootToken,
        ...(caCertPath ? { caCertPath } : {}),
        config,
      },
      stop: () => emulator.stop(),
    };
  },
};
