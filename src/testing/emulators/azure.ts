import { randomBytes, randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { type Clock, systemClock } from '../../core/clock.js';
import {
  type CliEmulator,
  type CliEmulatorArgs,
  type RunningCliEmulator,
  startOrStop,
} from '../emulator-kit/cli-contract.js';
import { EmulatorHttpServer, type RecordedRequest, sendJson } from '../emulator-kit/server.js';
import { createTestCertificateAuthority, type TestCertificateAuthority } from '../emulator-kit/tls.js';
import {
  AzureIdentityDirectory,
  AzureTokenAuthority,
  type AzureTokenClaims,
  handleEntraRequest,
  handleManagedIdentityRequest,
} from './azure-identity.js';

export type { AzureEmulatorPrincipal, AzureTokenClaims } from './azure-identity.js';

/** api-versions of the Key Vault data plane the emulator answers.
 *
 * @example
 * ```ts
 * console.log(AZURE_KEY_VAULT_API_VERSIONS.includes('7.5')); // true
 * ```
 */
export const AZURE_KEY_VAULT_API_VERSIONS: readonly string[] = [
  '7.0',
  '7.1',
  '7.2',
  '7.3',
  '7.4',
  '7.5',
  '7.6-preview.2',
  '7.6',
  '2025-07-01',
];

/** Key Vault's built-in data-plane roles for secrets, and the data actions each grants.
 *
 * @example
 * ```ts
 * emulator.setRoles(emulator.clientId, ['Key Vault Secrets User']); // one of AZURE_KEY_VAULT_ROLES
 * ```
 */
export const AZURE_KEY_VAULT_ROLES: Readonly<Record<string, readonly string[]>> = {
  'Key Vault Administrator': ['*'],
  'Key Vault Secrets Officer': ['*'],
  'Key Vault Secrets User': ['getSecret/action', 'readMetadata/action'],
  'Key Vault Reader': ['readMetadata/action'],
};

/** Options of {@link AzureKeyVaultEmulator}.
 *
 * @example
 * ```ts
 * const emulator = await new AzureKeyVaultEmulator({ tokenLifetimeSeconds: 120, purgeProtection: true }).start();
 * ```
 */
export interface AzureKeyVaultEmulatorOptions {
  /** Port of the https vault (and Entra) server; 0 picks one. Default 0. */
  port?: number | undefined;
  /** Time source for tokens, timestamps and retention. Default: the system clock. */
  clock?: Clock | undefined;
  /** Tenant of the vault and its principals. Default: a random GUID. */
  tenantId?: string | undefined;
  /** Access token lifetime in seconds. Default 3600. */
  tokenLifetimeSeconds?: number | undefined;
  /** Soft-delete retention in days (7 to 90). Default 90. */
  retentionDays?: number | undefined;
  /** Refuse purges, as a vault with purge protection does. Default false. */
  purgeProtection?: boolean | undefined;
  /** Items per list page when `maxresults` is absent; Key Vault serves 25. Default 25. */
  pageSize?: number | undefined;
  /** Extra DNS names for the server certificate (e.g. `myvault.vault.azure.net`). */
  dnsNames?: string[] | undefined;
}

interface SecretVersion {
  version: string;
  value: string;
  contentType: string | undefined;
  tags: Record<string, string> | undefined;
  enabled: boolean;
  nbf: number | undefined;
  exp: number | undefined;
  created: number;
  updated: number;
}

interface SecretRecord {
  name: string;
  versions: SecretVersion[];
}

interface DeletedRecord extends SecretRecord {
  deletedDate: number;
  scheduledPurgeDate: number;
}

const VAULT_RESOURCE = 'https://vault.azure.net';
const NAME = /^[0-9a-zA-Z-]{1,127}$/;
const MAX_VALUE_BYTES = 25 * 1024;
const MAX_TAGS = 15;

class KvError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly inner?: string,
  ) {
    super(message);
  }
}

/**
 * A loopback Azure Key Vault (secrets) that the real `@azure/keyvault-secrets` and `@azure/identity`
 * clients use unchanged: https with a generated CA, challenge-based bearer auth (the first, body-stripped
 * request gets a 401 with `WWW-Authenticate`), api-version checks, secrets with versions, tags, content
 * types and attributes, `nextLink` paging, soft delete with retention, recover, purge, backup and restore,
 * and Key Vault's error bodies. Tokens come from its own Entra client-credentials endpoint (on the vault's
 * origin, the `authorityHost`) or its managed identity endpoints (App Service and IMDS style, on a plain
 * http server), expire by the emulator clock, and are checked on every request. Role assignments per
 * principal produce `ForbiddenByRbac` denials. Faults come from `vault.faults`.
 *
 * @example
 * ```ts
 * import { AzureKeyVaultEmulator } from 'nebula-credential/testing';
 * const emulator = new AzureKeyVaultEmulator();
 * await emulator.start();
 * console.log(emulator.vaultUrl, emulator.caCertPath);
 * emulator.setRoles(emulator.clientId, ['Key Vault Secrets User']); // read-only from now on
 * await emulator.stop();
 * ```
 */
export class AzureKeyVaultEmulator {
  /** The https server of the vault and the Entra endpoints. */
  readonly vault: EmulatorHttpServer;
  /** The plain http server of the managed identity endpoints. */
  readonly identity: EmulatorHttpServer;
  /** Stamps times and token lifetimes, and decides when a deleted secret's retention has passed. */
  readonly clock: Clock;
  /** The generated certificate authority of the https server (trust `caCertPath`). */
  readonly ca: TestCertificateAuthority;
  /** The identities that may get tokens: service principals, managed and workload identities, users. */
  readonly directory = new AzureIdentityDirectory();
  /** Issues and verifies the access tokens the vault accepts. */
  readonly tokens: AzureTokenAuthority;
  /** Days a deleted secret stays recoverable (soft delete); 90 by default. */
  retentionDays: number;
  /** When true, deleted secrets cannot be purged before their retention ends. */
  purgeProtection: boolean;
  readonly #pageSize: number;
  readonly #secrets = new Map<string, SecretRecord>();
  readonly #deleted = new Map<string, DeletedRecord>();
  readonly #roles = new Map<string, string[]>();

  /** An empty vault with one service principal; nothing listens until `start()`. */
  constructor(options: AzureKeyVaultEmulatorOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.ca = createTestCertificateAuthority({ dnsNames: options.dnsNames ?? [] });
    this.tokens = new AzureTokenAuthority(
      this.clock,
      options.tenantId ?? randomUUID(),
      options.tokenLifetimeSeconds ?? 3600,
    );
    this.retentionDays = options.retentionDays ?? 90;
    this.purgeProtection = options.purgeProtection ?? false;
    this.#pageSize = options.pageSize ?? 25;
    this.vault = new EmulatorHttpServer({ port: options.port, tls: this.ca, clock: this.clock }, (req, res) =>
      this.#handleVault(req, res),
    );
    this.identity = new EmulatorHttpServer({ clock: this.clock }, (req, res) =>
      handleManagedIdentityRequest(req, res, this.directory, this.tokens),
    );
    // Every principal of the emulated tenant may read and write until a test says otherwise.
    for (const p of [this.directory.app, this.directory.systemIdentity]) {
      this.#roles.set(p.clientId, ['Key Vault Secrets Officer']);
    }
  }

  /** Starts the vault (https) and identity (http) servers on loopback ports. */
  async start(): Promise<this> {
    await this.vault.start();
    await this.identity.start();
    return this;
  }

  /** Stops both servers and removes the CA's temporary files. */
  async stop(): Promise<void> {
    await Promise.all([this.vault.stop(), this.identity.stop()]);
    this.ca.dispose();
  }

  /** The vault URL, for `vaultUrl`. */
  get vaultUrl(): string {
    return this.vault.url;
  }
  /** The Entra authority host (https, same origin as the vault). */
  get authorityHost(): string {
    return this.vault.url;
  }
  /** The tenant id of the directory. */
  get tenantId(): string {
    return this.tokens.tenantId;
  }
  /** Client id of the service principal. */
  get clientId(): string {
    return this.directory.app.clientId;
  }
  /** Client secret of the service principal. */
  get clientSecret(): string {
    return this.directory.clientSecret;
  }
  /** App Service style endpoint, the value of `IDENTITY_ENDPOINT`. */
  get identityEndpoint(): string {
    return `${this.identity.url}/msi/token`;
  }
  /** The value of `IDENTITY_HEADER`. */
  get identityHeader(): string {
    return this.directory.identityHeader;
  }
  /** IMDS host, the value of `AZURE_POD_IDENTITY_AUTHORITY_HOST`. */
  get imdsHost(): string {
    return this.identity.url;
  }
  /** PEM file of the generated CA, for `tls.caFile` or `NODE_EXTRA_CA_CERTS`. */
  get caCertPath(): string {
    return this.ca.caCertPath;
  }

  /**
   * `AzureKeyVaultProvider` options that connect to this emulator with its service principal.
   *
   * @example
   * ```ts
   * const provider = new AzureKeyVaultProvider({ ...emulator.providerOptions(), logger });
   * ```
   */
  providerOptions() {
    return {
      vaultUrl: this.vaultUrl,
      credential: {
        type: 'client-secret' as const,
        tenantId: this.tenantId,
        clientId: this.clientId,
        clientSecret: this.clientSecret,
      },
      authorityHost: this.authorityHost,
      tls: { caFile: this.caCertPath },
    };
  }

  /** Environment variables that point `ManagedIdentityCredential` at the App Service style endpoint. */
  appServiceEnvironment(): Record<string, string> {
    return { IDENTITY_ENDPOINT: this.identityEndpoint, IDENTITY_HEADER: this.identityHeader };
  }

  /** Environment variables that point `ManagedIdentityCredential` at the IMDS style endpoint. */
  imdsEnvironment(): Record<string, string> {
    return { AZURE_POD_IDENTITY_AUTHORITY_HOST: this.imdsHost };
  }

  /** Replaces the role assignments (built-in role names) of a principal, by client id. */
  setRoles(clientId: string, roles: readonly string[]): void {
    for (const role of roles) {
      if (!AZURE_KEY_VAULT_ROLES[role]) throw new Error(`unknown Key Vault role "${role}"`);
    }
    this.#roles.set(clientId, [...roles]);
  }

  /** Adds a user-assigned managed identity with the given roles; returns its client id. */
  addUserAssignedIdentity(roles: readonly string[] = ['Key Vault Secrets Officer']): string {
    const identity = this.directory.addUserAssignedIdentity();
    this.setRoles(identity.clientId, roles);
    return identity.clientId;
  }

  /** Requests that reached the vault's secret API (not the Entra endpoints). */
  vaultRequests(predicate?: (r: RecordedRequest) => boolean): RecordedRequest[] {
    return this.vault.requests.filter((r) => isVaultPath(r.path) && (!predicate || predicate(r)));
  }

  /** Names of live secrets (as created). */
  secretNames(): string[] {
    this.#expire();
    return [...this.#secrets.values()].map((s) => s.name).sort();
  }

  /** Names of soft-deleted secrets. */
  deletedSecretNames(): string[] {
    this.#expire();
    return [...this.#deleted.values()].map((s) => s.name).sort();
  }

  /** Number of versions of a live secret (0 when absent). */
  secretVersionCount(name: string): number {
    return this.#secrets.get(name.toLowerCase())?.versions.length ?? 0;
  }

  /** Sets a secret directly, bypassing auth (for tests that need foreign secrets). */
  seedSecret(
    name: string,
    value: string,
    extra: { contentType?: string; tags?: Record<string, string> } = {},
  ) {
    this.#put(name, { value, contentType: extra.contentType, tags: extra.tags });
  }

  // ---- request handling -------------------------------------------------------------------------

  async #handleVault(request: RecordedRequest, res: ServerResponse): Promise<void> {
    if (handleEntraRequest(request, res, this.vault.url, this.directory, this.tokens)) return;
    try {
      this.#expire();
      const claims = this.#authenticate(request, res);
      if (!claims) return;
      const apiVersion = request.query.get('api-version');
      if (!apiVersion)
        throw new KvError(400, 'BadParameter', 'Missing required query parameter: api-version');
      if (!AZURE_KEY_VAULT_API_VERSIONS.includes(apiVersion)) {
        throw new KvError(
          400,
          'BadParameter',
          `The specified version (${apiVersion}) is not recognized. Consider using the latest supported version (2025-07-01).`,
        );
      }
      this.#route(request, res, claims, apiVersion);
    } catch (error) {
      if (!(error instanceof KvError)) throw error;
      sendJson(res, error.status, {
        error: {
          code: error.code,
          message: error.message,
          ...(error.inner ? { innererror: { code: error.inner } } : {}),
        },
      });
    }
  }

  #challenge(res: ServerResponse, message: string): void {
    sendJson(
      res,
      401,
      { error: { code: 'Unauthorized', message } },
      {
        'www-authenticate': `Bearer authorization="https://login.microsoftonline.com/${this.tenantId}", resource="${VAULT_RESOURCE}"`,
      },
    );
  }

  #authenticate(request: RecordedRequest, res: ServerResponse): AzureTokenClaims | undefined {
    const header = request.headers.authorization;
    if (!header) {
      // The SDK's first request carries no token and no body; the challenge comes before any validation.
      this.#challenge(res, 'AKV10000: Request is missing a Bearer or PoP token.');
      return undefined;
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      this.#challenge(res, 'AKV10001: Authorization header is not a Bearer token.');
      return undefined;
    }
    const result = this.tokens.verify(match[1]!, VAULT_RESOURCE);
    if (!result.ok) {
      const messages: Record<string, string> = {
        malformed: 'AKV10021: Invalid token format.',
        signature: 'AKV10032: Invalid issuer or signature.',
        expired: 'AKV10035: Token has expired.',
        audience: `AKV10022: Invalid audience. Expected ${VAULT_RESOURCE}.`,
        tenant: `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${this.tenantId}/.`,
      };
      this.#challenge(res, messages[result.reason]!);
      return undefined;
    }
    return result.claims;
  }

  #authorize(claims: AzureTokenClaims, action: string, resource: string): void {
    const roles = this.#roles.get(claims.appid) ?? [];
    const allowed = roles.some((r) => {
      const actions = AZURE_KEY_VAULT_ROLES[r] ?? [];
      return actions.includes('*') || actions.includes(action);
    });
    if (allowed) return;
    const fullAction = `Microsoft.KeyVault/vaults/secrets/${action}`;
    throw new KvError(
      403,
      'Forbidden',
      'Caller is not authorized to perform action on resource.\r\n' +
        'If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n' +
        `Caller: appid=${claims.appid};oid=${claims.oid};iss=${claims.iss}\r\n` +
        `Action: '${fullAction}'\r\n` +
        `Resource: '/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/emulator/providers/microsoft.keyvault/vaults/emulator/secrets/${resource}'\r\n` +
        "Assignment: (not found)\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: emulator;location=local\r\n",
      'ForbiddenByRbac',
    );
  }

  #route(request: RecordedRequest, res: ServerResponse, claims: AzureTokenClaims, api: string): unknown {
    const segments = request.path.split('/').slice(1).map(decodeURIComponent);
    const [collection, name, third, fourth] = segments;
    const m = request.method;
    const body = () => parseBody(request.body);
    if (collection === 'secrets') {
      if (name === undefined || name === '') {
        if (m !== 'GET') throw badMethod();
        this.#authorize(claims, 'readMetadata/action', '');
        return this.#list(res, request, api, 'secrets');
      }
      if (name === 'restore' && m === 'POST' && third === undefined) {
        this.#authorize(claims, 'restore/action', '');
        return sendJson(res, 200, this.#restore(body()));
      }
      checkName(name);
      if (third === 'versions' && fourth === undefined) {
        if (m !== 'GET') throw badMethod();
        this.#authorize(claims, 'readMetadata/action', name);
        return this.#list(res, request, api, 'versions', name);
      }
      if (third === 'backup' && fourth === undefined) {
        if (m !== 'POST') throw badMethod();
        this.#authorize(claims, 'backup/action', name);
        const record = this.#live(name);
        return sendJson(res, 200, {
          value: Buffer.from(JSON.stringify({ v: 1, record })).toString('base64url'),
        });
      }
      if (fourth !== undefined) throw notFoundPath(request.path);
      const version = third ?? '';
      if (m === 'PUT' && third === undefined) {
        this.#authorize(claims, 'setSecret/action', name);
        return sendJson(res, 200, this.#set(name, body()));
      }
      if (m === 'GET') {
        this.#authorize(claims, 'getSecret/action', name);
        const record = this.#live(name);
        const v = pickVersion(record, version);
        if (!v.enabled) {
          throw new KvError(
            403,
            'Forbidden',
            'Operation get is not allowed on a disabled secret.',
            'SecretDisabled',
          );
        }
        return sendJson(res, 200, this.#bundle(record, v, true));
      }
      if (m === 'PATCH') {
        this.#authorize(claims, 'update/action', name);
        return sendJson(res, 200, this.#update(name, version, body()));
      }
      if (m === 'DELETE' && third === undefined) {
        this.#authorize(claims, 'delete', name);
        return sendJson(res, 200, this.#delete(name));
      }
      throw badMethod();
    }
    if (collection === 'deletedsecrets') {
      if (name === undefined || name === '') {
        if (m !== 'GET') throw badMethod();
        this.#authorize(claims, 'readMetadata/action', '');
        return this.#list(res, request, api, 'deleted');
      }
      checkName(name);
      if (third === 'recover' && fourth === undefined && m === 'POST') {
        this.#authorize(claims, 'recover/action', name);
        return sendJson(res, 200, this.#recover(name));
      }
      if (third !== undefined) throw notFoundPath(request.path);
      if (m === 'GET') {
        this.#authorize(claims, 'readMetadata/action', name);
        const record = this.#deletedRecord(name);
        return sendJson(res, 200, this.#deletedBundle(record));
      }
      if (m === 'DELETE') {
        this.#authorize(claims, 'purge/action', name);
        this.#purge(name);
        res.writeHead(204);
        res.end();
        return;
      }
      throw badMethod();
    }
    throw notFoundPath(request.path);
  }

  // ---- secret operations ------------------------------------------------------------------------

  #now(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  #expire(): void {
    const now = this.#now();
    for (const [key, record] of this.#deleted) {
      if (record.scheduledPurgeDate <= now) this.#deleted.delete(key);
    }
  }

  #live(name: string): SecretRecord {
    const record = this.#secrets.get(name.toLowerCase());
    if (!record) {
      throw new KvError(
        404,
        'SecretNotFound',
        `A secret with (name/id) ${name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
      );
    }
    return record;
  }

  #deletedRecord(name: string): DeletedRecord {
    const record = this.#deleted.get(name.toLowerCase());
    if (!record) throw new KvError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
    return record;
  }

  #set(name: string, input: Record<string, unknown>): unknown {
    if (this.#deleted.has(name.toLowerCase())) {
      throw new KvError(
        409,
        'Conflict',
        `Secret ${name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
        'ObjectIsDeletedButRecoverable',
      );
    }
    const value = input['value'];
    if (typeof value !== 'string') throw new KvError(400, 'BadParameter', 'Property value is required.');
    if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) {
      throw new KvError(
        400,
        'BadParameter',
        `Secret value exceeds the maximum size of ${MAX_VALUE_BYTES} bytes.`,
      );
    }
    const contentType = input['contentType'];
    if (contentType !== undefined && (typeof contentType !== 'string' || contentType.length > 255)) {
      throw new KvError(
        400,
        'BadParameter',
        'Property contentType must be a string of at most 255 characters.',
      );
    }
    const tags = checkTags(input['tags']);
    const attributes = (input['attributes'] ?? {}) as Record<string, unknown>;
    const { record, version } = this.#put(name, {
      value,
      contentType: contentType as string | undefined,
      tags,
      enabled: attributes['enabled'] as boolean | undefined,
      nbf: attributes['nbf'] as number | undefined,
      exp: attributes['exp'] as number | undefined,
    });
    return this.#bundle(record, version, true);
  }

  #put(
    name: string,
    input: {
      value: string;
      contentType?: string | undefined;
      tags?: Record<string, string> | undefined;
      enabled?: boolean | undefined;
      nbf?: number | undefined;
      exp?: number | undefined;
    },
  ): { record: SecretRecord; version: SecretVersion } {
    const now = this.#now();
    const key = name.toLowerCase();
    const record = this.#secrets.get(key) ?? { name, versions: [] };
    const version: SecretVersion = {
      version: randomBytes(16).toString('hex'),
      value: input.value,
      contentType: input.contentType,
      tags: input.tags,
      enabled: input.enabled ?? true,
      nbf: input.nbf,
      exp: input.exp,
      created: now,
      updated: now,
    };
    record.versions.push(version);
    this.#secrets.set(key, record);
    return { record, version };
  }

  #update(name: string, versionId: string, input: Record<string, unknown>): unknown {
    const record = this.#live(name);
    const v = pickVersion(record, versionId);
    if (input['contentType'] !== undefined) v.contentType = String(input['contentType']);
    if (input['tags'] !== undefined) v.tags = checkTags(input['tags']);
    const attributes = (input['attributes'] ?? {}) as Record<string, unknown>;
    if (typeof attributes['enabled'] === 'boolean') v.enabled = attributes['enabled'];
    if (attributes['nbf'] !== undefined) v.nbf = attributes['nbf'] as number;
    if (attributes['exp'] !== undefined) v.exp = attributes['exp'] as number;
    v.updated = this.#now();
    return this.#bundle(record, v, false);
  }

  #delete(name: string): unknown {
    const record = this.#live(name);
    const now = this.#now();
    const deleted: DeletedRecord = {
      ...record,
      deletedDate: now,
      scheduledPurgeDate: now + this.retentionDays * 86_400,
    };
    this.#secrets.delete(name.toLowerCase());
    // Visible at once: the SDK's delete poller waits 2 s between polls while the deleted secret is missing.
    this.#deleted.set(name.toLowerCase(), deleted);
    return this.#deletedBundle(deleted);
  }

  #recover(name: string): unknown {
    const record = this.#deletedRecord(name);
    this.#deleted.delete(name.toLowerCase());
    const live: SecretRecord = { name: record.name, versions: record.versions };
    this.#secrets.set(name.toLowerCase(), live);
    return this.#bundle(live, live.versions.at(-1)!, false);
  }

  #purge(name: string): void {
    this.#deletedRecord(name);
    if (this.purgeProtection) {
      throw new KvError(
        403,
        'Forbidden',
        `Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service will automatically purge it after the retention period has passed.`,
        'PurgeProtectionEnabled',
      );
    }
    this.#deleted.delete(name.toLowerCase());
  }

  #restore(input: Record<string, unknown>): unknown {
    let record: SecretRecord;
    try {
      record = (
        JSON.parse(Buffer.from(String(input['value']), 'base64url').toString('utf8')) as {
          record: SecretRecord;
        }
      ).record;
      if (!record || !Array.isArray(record.versions) || typeof record.name !== 'string') throw new Error();
    } catch {
      throw new KvError(400, 'BadParameter', 'Backup blob is corrupted.');
    }
    const key = record.name.toLowerCase();
    if (this.#secrets.has(key) || this.#deleted.has(key)) {
      throw new KvError(409, 'Conflict', `Secret ${record.name} already exists.`, 'ObjectAlreadyExists');
    }
    this.#secrets.set(key, record);
    return this.#bundle(record, record.versions.at(-1)!, false);
  }

  // ---- wire shapes ------------------------------------------------------------------------------

  #attributes(v: SecretVersion): Record<string, unknown> {
    return {
      enabled: v.enabled,
      ...(v.nbf === undefined ? {} : { nbf: v.nbf }),
      ...(v.exp === undefined ? {} : { exp: v.exp }),
      created: v.created,
      updated: v.updated,
      recoveryLevel: this.purgeProtection ? 'Recoverable' : 'Recoverable+Purgeable',
      recoverableDays: this.retentionDays,
    };
  }

  #bundle(record: SecretRecord, v: SecretVersion, withValue: boolean): Record<string, unknown> {
    return {
      ...(withValue ? { value: v.value } : {}),
      ...(v.contentType === undefined ? {} : { contentType: v.contentType }),
      id: `${this.vault.url}/secrets/${record.name}/${v.version}`,
      attributes: this.#attributes(v),
      ...(v.tags === undefined ? {} : { tags: v.tags }),
    };
  }

  #item(record: SecretRecord, v: SecretVersion, withVersion: boolean): Record<string, unknown> {
    return {
      id: `${this.vault.url}/secrets/${record.name}${withVersion ? `/${v.version}` : ''}`,
      attributes: this.#attributes(v),
      ...(v.contentType === undefined ? {} : { contentType: v.contentType }),
      ...(v.tags === undefined ? {} : { tags: v.tags }),
    };
  }

  #deletedBundle(record: DeletedRecord): Record<string, unknown> {
    return {
      ...this.#bundle(record, record.versions.at(-1)!, false),
      recoveryId: `${this.vault.url}/deletedsecrets/${record.name}`,
      deletedDate: record.deletedDate,
      scheduledPurgeDate: record.scheduledPurgeDate,
    };
  }

  #list(
    res: ServerResponse,
    request: RecordedRequest,
    api: string,
    kind: 'secrets' | 'versions' | 'deleted',
    name?: string,
  ): void {
    const maxParam = request.query.get('maxresults');
    let max = this.#pageSize;
    if (maxParam !== null) {
      max = Number(maxParam);
      if (!Number.isInteger(max) || max < 1 || max > 25) {
        throw new KvError(400, 'BadParameter', 'Invalid value for maxresults: it must be between 1 and 25.');
      }
    }
    let items: Record<string, unknown>[];
    if (kind === 'secrets') {
      items = [...this.#secrets.values()]
        .sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()))
        .map((r) => this.#item(r, r.versions.at(-1)!, false));
    } else if (kind === 'versions') {
      const record = this.#live(name!);
      items = record.versions.map((v) => this.#item(record, v, true));
    } else {
      items = [...this.#deleted.values()]
        .sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()))
        .map((r) => {
          const { recoveryId, deletedDate, scheduledPurgeDate } = this.#deletedBundle(r);
          return {
            ...this.#item(r, r.versions.at(-1)!, false),
            recoveryId,
            deletedDate,
            scheduledPurgeDate,
          };
        });
    }
    const token = request.query.get('$skiptoken');
    const start = token ? Number(Buffer.from(token, 'base64url').toString('utf8')) : 0;
    if (!Number.isInteger(start) || start < 0) throw new KvError(400, 'BadParameter', 'Invalid $skiptoken.');
    const page = items.slice(start, start + max);
    let nextLink: string | null = null;
    if (start + max < items.length) {
      const next = new URL(`${this.vault.url}${request.path}`);
      next.searchParams.set('api-version', api);
      next.searchParams.set('$skiptoken', Buffer.from(String(start + max)).toString('base64url'));
      if (maxParam !== null) next.searchParams.set('maxresults', String(max));
      nextLink = next.toString();
    }
    sendJson(res, 200, { value: page, nextLink });
  }
}

function isVaultPath(path: string): boolean {
  return path.startsWith('/secrets') || path.startsWith('/deletedsecrets');
}

function parseBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) throw new KvError(400, 'BadParameter', 'The request body is empty.');
  try {
    const json: unknown = JSON.parse(body.toString('utf8'));
    if (typeof json === 'object' && json !== null && !Array.isArray(json))
      return json as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new KvError(400, 'BadParameter', 'The request body is not a valid JSON object.');
}

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new KvError(
      400,
      'BadParameter',
      `The request URI contains an invalid name: ${name.slice(0, 140)}. Names are 1-127 characters of 0-9, a-z, A-Z and -.`,
    );
  }
}

function checkTags(tags: unknown): Record<string, string> | undefined {
  if (tags === undefined || tags === null) return undefined;
  if (typeof tags !== 'object' || Array.isArray(tags))
    throw new KvError(400, 'BadParameter', 'Tags must be an object.');
  const entries = Object.entries(tags as Record<string, unknown>);
  if (entries.length > MAX_TAGS) {
    throw new KvError(
      400,
      'BadParameter',
      `The number of tags (${entries.length}) exceeds the limit of ${MAX_TAGS}.`,
    );
  }
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw new KvError(400, 'BadParameter', 'Tag values must be strings.');
    if (key.length > 512 || value.length > 256) {
      throw new KvError(400, 'BadParameter', 'Tag names are limited to 512 characters and values to 256.');
    }
  }
  return tags as Record<string, string>;
}

function pickVersion(record: SecretRecord, version: string): SecretVersion {
  const v = version === '' ? record.versions.at(-1) : record.versions.find((x) => x.version === version);
  if (!v) {
    throw new KvError(
      404,
      'SecretNotFound',
      `A secret with (name/id) ${record.name}/${version} was not found in this key vault.`,
    );
  }
  return v;
}

function badMethod(): KvError {
  return new KvError(405, 'MethodNotAllowed', 'The requested method is not allowed on this resource.');
}

function notFoundPath(path: string): KvError {
  return new KvError(404, 'NotFound', `The requested resource ${path.slice(0, 200)} was not found.`);
}

/**
 * `npx nebula-credential emulator azure`: starts the emulator and prints its endpoints, the service
 * principal's credentials and a provider config that connects to it.
 *
 * @example
 * ```ts
 * import { azureCliEmulator } from 'nebula-credential/testing'; // this module's cliEmulator
 * const running = await azureCliEmulator.start({ port: 0 });
 * console.log(JSON.stringify(running.info));
 * await running.stop();
 * ```
 */
export const cliEmulator: CliEmulator = {
  service: 'azure',
  async start(args: CliEmulatorArgs): Promise<RunningCliEmulator> {
    const emulator = await startOrStop(new AzureKeyVaultEmulator({ port: args.port }));
    return {
      info: {
        service: 'azure',
        vaultUrl: emulator.vaultUrl,
        authorityHost: emulator.authorityHost,
        tenantId: emulator.tenantId,
        clientId: emulator.clientId,
        clientSecret: emulator.clientSecret,
        identityEndpoint: emulator.identityEndpoint,
        identityHeader: emulator.identityHeader,
        caCertPath: emulator.caCertPath,
        config: { provider: 'azure-key-vault', ...emulator.providerOptions() },
      },
      stop: () => emulator.stop(),
    };
  },
};
