import { assertVersionNumber } from '../core/arguments.js';
import { BaseStorageProvider } from '../core/base-provider.js';
import { type EncryptedData, encryptedDataFromJson } from '../core/crypto.js';
import {
  CREDENTIAL_DOCUMENT_FORMAT,
  decodeCredentialDocument,
  encodeCredentialDocument,
} from '../core/document.js';
import { StorageError, type StorageOperation } from '../core/errors.js';
import type { CredentialId, CredentialIdLike } from '../core/id.js';
import { assertTagLimits, assertWithinSizeLimit } from '../core/limits.js';
import {
  type CredentialContext,
  type CredentialFilter,
  type CredentialMetadata,
  matchesFilter,
  metadataForOverwrite,
  metadataFromJson,
  parseIsoTimestamp,
  validateFilter,
} from '../core/metadata.js';
import { decodeCredentialName, encodeCredentialName } from '../core/name-mapping.js';
import type { AttemptContext } from '../core/operation.js';
import { settingLabel } from '../core/options-schema.js';
import type {
  ProviderCapabilities,
  ProviderHealthFacts,
  StoredCredential,
  StoreOptions,
  VersionProbe,
} from '../core/provider.js';
import { responseBodyLimit } from '../core/response-limit.js';
import type { SecretString } from '../core/secret-string.js';
import { loadCaBundle } from '../core/transport-security.js';
import { UNDICI_PACKAGE, type UndiciModule } from '../core/undici-exchange.js';
import { readVaultTokenFile, type VaultAuth, VaultTokenManager } from './hashicorp-vault-auth.js';
import {
  type VaultBody,
  VaultHttpClient,
  type VaultRequest,
  type VaultResponse,
} from './hashicorp-vault-client.js';
import { mapVaultNetworkError, vaultErrors, vaultStatusError } from './hashicorp-vault-errors.js';
import {
  HASHICORP_VAULT,
  HASHICORP_VAULT_OPTIONS,
  type HashiCorpVaultOptions,
  type VaultCredentialSummary,
  type VaultSettings,
  type VaultVersionHistory,
} from './hashicorp-vault-options.js';

export {
  HASHICORP_VAULT,
  HASHICORP_VAULT_OPTIONS,
  type HashiCorpVaultOptions,
  VAULT_TOKEN_FILE,
  type VaultCredentialSummary,
  type VaultCredentialVersion,
  type VaultVersionHistory,
} from './hashicorp-vault-options.js';

const PROVIDER_NAME = HASHICORP_VAULT;
/** custom_metadata keys this provider writes besides the tags. */
const META_CREATED = 'nebula:created';
const META_MODIFIED = 'nebula:modified';
const META_ROTATION = 'nebula:rotation';
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u;

/** The statuses and capabilities of a read, shared rather than allocated per request. */
const OK_OR_MISSING: readonly number[] = [200, 404];
const READ: readonly string[] = ['read'];

interface CallContext {
  operation: StorageOperation;
  credentialId?: string | undefined;
  /** Statuses handled by the caller instead of becoming errors. */
  ok: readonly number[];
  /** The capabilities the request needs, for PermissionDenied. */
  capabilities: readonly string[];
}

/** The bytes of a data write around its document: `{"data":` and `,"options":{"cas":<up to 16 digits>}}`. */
const DATA_WRITE_ENVELOPE_BYTES = '{"data":,"options":{"cas":}}'.length + 16;

/**
 * Stores credentials in HashiCorp Vault's KV v2 engine: one key per credential under
 * `<mount>/<prefix>/`, every store a new version. The exact document (ciphertext and metadata) is the
 * version's data; tags and dates are mirrored into `custom_metadata` for listing and filtering. Tokens are
 * looked up at connect and renewed before use; AppRole logins are repeated when a token cannot be renewed.
 * Unset options fall back to `VAULT_ADDR`, `VAULT_TOKEN` (then `~/.vault-token`), `VAULT_NAMESPACE` and
 * `VAULT_CACERT`, as the vault CLI reads them.
 *
 * @example
 * ```ts
 * import { HashiCorpVaultProvider } from 'nebula-credential/vault';
 * const provider = new HashiCorpVaultProvider({
 *   address: 'https://vault.internal:8200',
 *   auth: { token: process.env.VAULT_TOKEN! },
 *   tls: { caFile: '/etc/ssl/vault-ca.pem' },
 * });
 * await provider.connect();
 * console.log(await provider.versionHistory('db_password').catch(() => undefined));
 * await provider.close();
 * ```
 */
export class HashiCorpVaultProvider extends BaseStorageProvider<string> {
  /** The provider's name: `'hashicorp-vault'`. */
  readonly name = PROVIDER_NAME;
  /**
   * What this backend allows: `maxCredentialSize`, the tags `custom_metadata` can hold, versions (KV v2);
   * soft delete only with `deleteMode: 'soft'` (docs/providers/hashicorp-vault.md, Limits).
   */
  readonly capabilities: ProviderCapabilities;
  readonly #settings: VaultSettings;
  #client: VaultHttpClient | undefined;
  #tokens: VaultTokenManager | undefined;
  /** `tls.caFile`, or `VAULT_CACERT` when the file came from there: how messages name it. */
  readonly #caFileSource: string;
  /** A token read from `auth.tokenFile` (or `~/.vault-token`) at connect: this provider's own copy. */
  #fileToken: SecretString | undefined;
  #pathPrefixes: { data: string; metadata: string } | undefined;

  /**
   * Validates `options` (every problem at once, `InvalidConfig`; unset ones from `VAULT_ADDR`,
   * `VAULT_TOKEN` or `~/.vault-token`, `VAULT_NAMESPACE`, `VAULT_CACERT`) without any I/O; the token is
   * looked up (or the AppRole login made) at `connect()`.
   */
  constructor(options: HashiCorpVaultOptions = {}) {
    const { values: settings, secrets, origins } = HASHICORP_VAULT_OPTIONS.resolve(options);
    super({
      name: PROVIDER_NAME,
      common: settings,
      secrets,
      mapError: mapVaultNetworkError,
      // Loaded with the SDKs of the other providers: before connect, outside its deadline.
      peers: [UNDICI_PACKAGE],
    });
    this.#caFileSource = settingLabel(origins, 'tls.caFile');
    this.#settings = settings;
    this.capabilities = {
      maxCredentialSize: settings.maxCredentialSize,
      maxIdBytes: 255,
      versioning: true,
      softDelete: settings.deleteMode === 'soft',
      nativeTagFiltering: false,
      createOnly: 'atomic',
      persistent: true,
      maxTags: 62,
    };
  }

  /** What is known of the current token (expiry, renewable, policies); undefined before connect. */
  get tokenState(): VaultTokenManager['state'] {
    return this.#tokens?.state;
  }

  /** Token requests made so far: lookup-self, renew-self and AppRole logins. */
  get authRequests(): Readonly<VaultTokenManager['counts']> {
    return { ...(this.#tokens?.counts ?? { lookup: 0, renew: 0, login: 0 }) };
  }

  /**
   * A credential's version history and current version (`GET <mount>/metadata/<path>`).
   *
   * @example
   * ```ts
   * const history = await provider.versionHistory('db_password');
   * console.log(history.currentVersion, history.versions.map((v) => v.version));
   * ```
   */
  async versionHistory(idLike: CredentialIdLike, context?: CredentialContext): Promise<VaultVersionHistory> {
    return this.runProviderOperation(
      'versionHistory',
      idLike,
      async (id, a) => {
        const res = await this.#call({ method: 'GET', path: this.#path('metadata', id) }, a, {
          operation: 'versionHistory',
          credentialId: id.value,
          ok: [200, 404],
          capabilities: ['read'],
        });
        if (res.status === 404) throw this.notFound(id, 'versionHistory');
        const d = (res.body?.data ?? {}) as Record<string, unknown>;
        const versions = Object.entries((d.versions ?? {}) as Record<string, Record<string, unknown>>)
          .map(([n, info]) => ({
            version: Number(n),
            createdAt: new Date(String(info.created_time)),
            deletedAt: info.deletion_time ? new Date(String(info.deletion_time)) : undefined,
            destroyed: info.destroyed === true,
          }))
          .sort((x, y) => x.version - y.version);
        return {
          id: id.value,
          currentVersion: Number(d.current_version ?? 0),
          oldestVersion: Number(d.oldest_version ?? 0),
          versions,
        };
      },
      { context },
    );
  }

  /**
   * Reads one earlier version (`GET <mount>/data/<path>?version=N`); deleted or destroyed versions are `NotFound`.
   *
   * @example
   * ```ts
   * const previous = await provider.retrieveVersion('db_password', 3);
   * ```
   */
  async retrieveVersion(
    idLike: CredentialIdLike,
    version: number,
    context?: CredentialContext,
  ): Promise<StoredCredential> {
    assertVersionNumber(version, PROVIDER_NAME);
    return this.runProviderOperation('retrieve', idLike, (id, a) => this.#read(id, a, version), { context });
  }

  /**
   * Lists ids with their latest version and the metadata mirrored in `custom_metadata` (one metadata read
   * per credential).
   *
   * @example
   * ```ts
   * for (const c of await provider.listWithVersions({ tags: { env: 'prod' } })) console.log(c.id, c.version);
   * ```
   */
  async listWithVersions(
    filter?: CredentialFilter,
    context?: CredentialContext,
  ): Promise<VaultCredentialSummary[]> {
    validateFilter(filter, PROVIDER_NAME);
    const out = await this.runProviderOperation('list', undefined, (_none, a) => this.#summaries(filter, a), {
      context,
    });
    return out.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  }

  // ---- backend --------------------------------------------------------------------------------------

  protected async connectBackend(a: AttemptContext): Promise<void> {
    const s = this.#settings;
    if (!this.#client) {
      const ca = await loadCaBundle(s.tls, {
        provider: PROVIDER_NAME,
        signal: a.signal,
        fileSource: this.#caFileSource,
      });
      if (!s.tls.rejectUnauthorized) {
        this.common.logger.warn(
          { provider: PROVIDER_NAME },
          'TLS verification of Vault is OFF (tls.rejectUnauthorized: false)',
        );
      }
      const auth = await this.#auth(a.signal);
      this.#client = new VaultHttpClient(this.peer<UndiciModule>(UNDICI_PACKAGE.name), {
        address: s.address,
        maxSockets: s.maxSockets,
        namespace: s.namespace,
        ca,
        rejectUnauthorized: s.tls.rejectUnauthorized,
        maxResponseBytes: responseBodyLimit(this.capabilities.maxCredentialSize),
      });
      this.#tokens = new VaultTokenManager(
        this.#client,
        auth,
        this.common.clock,
        s.renewThresholdSeconds * 1000,
        this.common.logger,
      );
    }
    try {
      await this.#tokens!.connect(a.signal);
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw mapVaultNetworkError(error, 'connect', undefined);
    }
    // A token that is already close to expiry is renewed now rather than on the first operation.
    await this.#tokens!.ensureFresh(a);
  }

  protected override prepareStore(
    id: CredentialId,
    data: EncryptedData,
    metadata: CredentialMetadata,
  ): string {
    assertTagLimits(
      metadata.tags,
      {
        maxTags: 62,
        maxKeyLength: 128,
        maxValueLength: 512,
        lengthInBytes: true,
        keyPattern: PRINTABLE,
        valuePattern: PRINTABLE,
        charsetRule: 'printable characters (letters, digits, punctuation, symbols and spaces)',
        reservedPrefixes: ['nebula:'],
      },
      { provider: PROVIDER_NAME, credentialId: id.value },
    );
    // The document's JSON text goes into the request body as is (see storeBackend): encoded once.
    const document = encodeCredentialDocument(data, metadata);
    const size = Buffer.byteLength(document) + DATA_WRITE_ENVELOPE_BYTES + 32;
    assertWithinSizeLimit(size, this.#settings.maxRequestBytes, {
      provider: PROVIDER_NAME,
      credentialId: id.value,
      what: 'the encoded Vault request (ciphertext as base64 plus metadata)',
    });
    return document;
  }

  protected async storeBackend(
    id: CredentialId,
    document: string,
    metadata: CredentialMetadata,
    a: AttemptContext,
    options: StoreOptions,
  ): Promise<CredentialMetadata> {
    await this.#fresh(a);
    let cas: number | undefined;
    // A create-only write is a check-and-set on version 0, which Vault itself refuses over an existing key.
    // Soft deletes leave the key's versions behind, so there the metadata tells a deleted key (written over
    // with its current version) from a live one.
    if (options.createOnly && this.#settings.deleteMode !== 'soft') cas = 0;
    else if (this.#settings.checkAndSet || options.createOnly) {
      const res = await this.#call({ method: 'GET', path: this.#path('metadata', id) }, a, {
        operation: 'store',
        credentialId: id.value,
        ok: [200, 404],
        capabilities: ['read'],
      });
      cas = res.status === 404 ? 0 : Number(res.body?.data?.current_version ?? 0);
      if (options.createOnly && cas > 0 && liveVersion(res.body?.data, cas)) throw this.alreadyExists(id);
    }
    // The data write answers with the key's custom_metadata, which holds createdAt, the tags and the
    // rotation policy (a data write never changes it): the metadata is written only when it must change.
    const res = await this.#call(
      {
        method: 'POST',
        path: this.#path('data', id),
        json: `{"data":${document},"options":{${cas === undefined ? '' : `"cas":${cas}`}}}`,
      },
      a,
      { operation: 'store', credentialId: id.value, ok: [200, 204], capabilities: ['create', 'update'] },
    ).catch((error: unknown) => {
      if (options.createOnly && error instanceof StorageError && error.code === 'Conflict')
        throw this.alreadyExists(id);
      throw error;
    });
    const written = res.body?.data as Record<string, unknown> | undefined;
    const custom = (written?.custom_metadata ?? {}) as Record<string, string>;
    let previous = fromCustomMetadata(custom, metadata);
    if (previous && options.keepRotationPolicy && custom[META_ROTATION] === undefined) {
      // Written by a release that kept the rotation policy only in the document: read it there, once.
      const version = Number(written?.version ?? 0) - 1;
      previous =
        version > 0
          ? await this.#read(id, a, version).then(
              (r) => r.metadata,
              () => previous,
            )
          : previous;
    }
    const result = metadataForOverwrite(previous, metadata, options);
    if (!customMetadataHolds(custom, result)) {
      const desired = toCustomMetadata(result);
      await this.#call(
        {
          method: 'POST',
          path: this.#path('metadata', id),
          body: { custom_metadata: desired },
        },
        a,
        { operation: 'store', credentialId: id.value, ok: [200, 204], capabilities: ['create', 'update'] },
      );
    }
    return result;
  }

  protected retrieveBackend(id: CredentialId, a: AttemptContext): Promise<StoredCredential> {
    return this.#read(id, a);
  }

  protected async deleteBackend(id: CredentialId, a: AttemptContext): Promise<void> {
    await this.#fresh(a);
    const soft = this.#settings.deleteMode === 'soft';
    await this.#call({ method: 'DELETE', path: this.#path(soft ? 'data' : 'metadata', id) }, a, {
      operation: 'delete',
      credentialId: id.value,
      ok: [200, 204, 404],
      capabilities: ['delete'],
    });
  }

  protected async listBackend(filter: CredentialFilter | undefined, a: AttemptContext): Promise<string[]> {
    if (!filter && this.#settings.deleteMode === 'destroy')
      return (await this.#listIds(a)).map((x) => x.value);
    return (await this.#summaries(filter, a)).map((s) => s.id);
  }

  protected async existsBackend(id: CredentialId, a: AttemptContext): Promise<boolean> {
    return (await this.#liveMetadata(id, a, 'exists')) !== undefined;
  }

  /** `GET <mount>/metadata/<path>`: current_version changes with every write, and no value is read. */
  protected override async describeVersionBackend(
    id: CredentialId,
    a: AttemptContext,
  ): Promise<VersionProbe | undefined> {
    const data = await this.#liveMetadata(id, a, 'describeVersion');
    return data === undefined ? undefined : { version: String(Number(data.current_version ?? 0)) };
  }

  /** The metadata of `id` when its latest version is live (not deleted or destroyed). */
  async #liveMetadata(
    id: CredentialId,
    a: AttemptContext,
    operation: StorageOperation,
  ): Promise<Record<string, unknown> | undefined> {
    await this.#fresh(a);
    const res = await this.#call({ method: 'GET', path: this.#path('metadata', id) }, a, {
      operation,
      credentialId: id.value,
      ok: [200, 404],
      capabilities: ['read'],
    });
    if (res.status !== 200 || !this.#latestIsLive(res.body)) return undefined;
    return (res.body?.data ?? {}) as Record<string, unknown>;
  }

  /** One LIST plus one metadata read per credential (KV v2 has no bulk metadata call). */
  protected override async listVersionsBackend(
    filter: CredentialFilter | undefined,
    a: AttemptContext,
  ): Promise<Map<string, VersionProbe>> {
    const summaries = await this.#summaries(filter, a);
    return new Map(summaries.map((s) => [s.id, { version: String(s.version) }]));
  }

  protected override describeHealth(): ProviderHealthFacts {
    const state = this.#tokens?.state;
    const now = this.common.clock.now();
    const auth = this.#settings.auth;
    const kind = 'appRole' in auth ? 'approle' : 'token';
    const expiresAt = state?.expiresAt;
    return {
      credentialSource:
        'appRole' in auth
          ? `AppRole login at auth/${auth.appRole.mount}`
          : 'token' in auth
            ? 'token'
            : `token file ${auth.tokenFile}`,
      auth: {
        kind,
        ...(expiresAt === undefined ? {} : { expiresAt, ttlMs: Math.max(0, expiresAt - now) }),
        // The token manager renews (or logs in again) before the first operation inside the threshold.
        ...(expiresAt === undefined
          ? {}
          : { nextRenewalAt: Math.max(now, expiresAt - this.#settings.renewThresholdSeconds * 1000) }),
        ...(state ? { renewable: state.renewable, policies: [...state.policies] } : {}),
        requests: this.authRequests,
      },
      address: this.#settings.address.origin,
      mount: this.#settings.mount,
      ...(this.#settings.namespace ? { namespace: this.#settings.namespace } : {}),
    };
  }

  protected override async closeBackend(): Promise<void> {
    await this.#client?.close();
    this.#fileToken?.dispose();
  }

  // ---- helpers --------------------------------------------------------------------------------------

  /** The auth to use: the configured token or AppRole, or the token in `auth.tokenFile` (read now). */
  async #auth(signal: AbortSignal): Promise<VaultAuth> {
    const auth = this.#settings.auth;
    if ('token' in auth) return { kind: 'token', token: auth.token };
    if ('appRole' in auth) return { kind: 'appRole', ...auth.appRole };
    this.#fileToken ??= await readVaultTokenFile(auth.tokenFile, signal);
    return { kind: 'token', token: this.#fileToken };
  }

  async #read(id: CredentialId, a: AttemptContext, version?: number): Promise<StoredCredential> {
    const refreshing = this.#fresh(a);
    if (refreshing) await refreshing;
    const path = `${this.#path('data', id)}${version === undefined ? '' : `?version=${version}`}`;
    const res = await this.#call({ method: 'GET', path }, a, {
      operation: 'retrieve',
      credentialId: id.value,
      ok: OK_OR_MISSING,
      capabilities: READ,
    });
    // 404 covers a missing key and a deleted or destroyed version (which comes with its metadata).
    if (res.status === 404) throw this.notFound(id);
    const d = (res.body?.data ?? {}) as Record<string, unknown>;
    const decoded = decodeDocument(d.data, id.value);
    const info = (d.metadata ?? {}) as Record<string, unknown>;
    const kept = fromCustomMetadata((info.custom_metadata ?? {}) as Record<string, string>, decoded.metadata);
    // createdAt, tags and rotation policy live in custom_metadata (kept across data writes); the document
    // carries what changes with each value. Keys written before that layout read from the document.
    const metadata =
      kept && (info.custom_metadata as Record<string, string>)[META_ROTATION] !== undefined
        ? kept
        : kept
          ? { ...kept, ...pickRotation(decoded.metadata) }
          : decoded.metadata;
    const v = info.version;
    return { data: decoded.data, metadata, ...(v === undefined ? {} : { version: String(v) }) };
  }

  async #listIds(a: AttemptContext): Promise<CredentialId[]> {
    await this.#fresh(a);
    const base = [
      this.#settings.mount,
      'metadata',
      ...(this.#settings.prefix ? this.#settings.prefix.split('/') : []),
    ];
    const res = await this.#call({ method: 'LIST', path: `${base.map(encodeSegment).join('/')}/` }, a, {
      operation: 'list',
      ok: [200, 404],
      capabilities: ['list'],
    });
    if (res.status === 404) return [];
    const keys = (res.body?.data?.keys ?? []) as unknown[];
    const ids: CredentialId[] = [];
    for (const key of keys) {
      if (typeof key !== 'string' || key.endsWith('/')) continue;
      const id = decodeCredentialName(key, 'filesystem');
      if (id) ids.push(id);
    }
    return ids;
  }

  async #summaries(
    filter: CredentialFilter | undefined,
    a: AttemptContext,
  ): Promise<VaultCredentialSummary[]> {
    const ids = await this.#listIds(a);
    const out: VaultCredentialSummary[] = [];
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const res = await this.#call({ method: 'GET', path: this.#path('metadata', id) }, a, {
          operation: 'list',
          credentialId: id.value,
          ok: [200, 404],
          capabilities: ['read'],
        });
        if (res.status !== 200 || !this.#latestIsLive(res.body)) continue;
        const d = (res.body?.data ?? {}) as Record<string, unknown>;
        const custom = (d.custom_metadata ?? {}) as Record<string, string>;
        const tags: Record<string, string> = {};
        for (const [k, value] of Object.entries(custom)) if (!k.startsWith('nebula:')) tags[k] = value;
        const summary: VaultCredentialSummary = {
          id: id.value,
          version: Number(d.current_version ?? 0),
          createdAt: validDate(custom[META_CREATED]) ?? new Date(String(d.created_time)),
          // Written by earlier releases; the metadata is no longer rewritten with every value.
          lastModified: validDate(custom[META_MODIFIED]) ?? new Date(String(d.updated_time)),
          tags,
        };
        if (
          matchesFilter({ createdAt: summary.createdAt, lastModified: summary.lastModified, tags }, filter)
        ) {
          out.push(summary);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, ids.length) }, worker));
    return out;
  }

  #latestIsLive(body: VaultBody | undefined): boolean {
    const d = (body?.data ?? {}) as Record<string, unknown>;
    const current = Number(d.current_version ?? 0);
    if (current === 0) return false;
    const info = ((d.versions ?? {}) as Record<string, Record<string, unknown>>)[String(current)];
    if (!info || info.destroyed === true) return false;
    const deletion = info.deletion_time ? Date.parse(String(info.deletion_time)) : Number.NaN;
    return Number.isNaN(deletion) || deletion > this.common.clock.now();
  }

  /** Renews or logs in when the token needs it; undefined (no promise to await) when it needs nothing. */
  #fresh(a: AttemptContext): Promise<void> | undefined {
    return this.#tokens!.ensureFresh(a)?.catch((error: unknown) => {
      if (error instanceof StorageError) throw error;
      throw mapVaultNetworkError(error, 'connect', undefined);
    });
  }

  #path(kind: 'data' | 'metadata', id: CredentialId): string {
    this.#pathPrefixes ??= {
      data: this.#pathPrefix('data'),
      metadata: this.#pathPrefix('metadata'),
    };
    // The filesystem alphabet (a-z, 0-9, `_`, `-`, `@`) is all pchar, and encodeSegment keeps `@`: the name
    // is its own path segment, so it is not percent-encoded again on every call.
    return this.#pathPrefixes[kind] + encodeCredentialName(id, 'filesystem');
  }

  /** `<mount>/<kind>/<prefix>/`, each segment encoded: the same for every id, so made once. */
  #pathPrefix(kind: 'data' | 'metadata'): string {
    const s = this.#settings;
    const parts = [s.mount, kind, ...(s.prefix ? s.prefix.split('/') : [])];
    return `${parts.map(encodeSegment).join('/')}/`;
  }

  #call(request: Omit<VaultRequest, 'token'>, a: AttemptContext, ctx: CallContext): Promise<VaultResponse> {
    // The attempt cancels the request at the deadline: a hung request would otherwise keep its socket.
    // A `then` rather than an async function: an answer in `ctx.ok` (nearly every one) settles in one step.
    return this.#client!.send({ ...request, attempt: a }, this.#tokens!.token).then((res) => {
      // KV answers a missing key with an empty errors list (or a deleted version's data); a non-empty list
      // on a 404 is the router's "no handler for route": wrong mount or namespace.
      const routeMissing = res.status === 404 && !res.body?.data && vaultErrors(res).length > 0;
      return ctx.ok.includes(res.status) && !routeMissing ? res : this.#refused(res, request, a, ctx);
    });
  }

  /** The StorageError for an answer outside `ctx.ok` (a 403 first tells a bad token from a denial). */
  async #refused(
    res: VaultResponse,
    request: Omit<VaultRequest, 'token'>,
    a: AttemptContext,
    ctx: CallContext,
  ): Promise<never> {
    const tokens = this.#tokens!;
    const vaultPath = [this.#settings.namespace, decodeURIComponent(request.path.split('?')[0]!)]
      .filter(Boolean)
      .join('/');
    if (res.status === 403) {
      // Vault answers 403 both for a policy denial and for a bad token; lookup-self tells them apart.
      if (!(await tokens.tokenIsValid(a.signal))) {
        const retry = tokens.invalidate();
        throw new StorageError({
          code: 'AuthenticationFailed',
          message: retry
            ? 'Vault rejected the AppRole token (revoked or expired); logging in again'
            : 'Vault rejected the token (invalid, expired or revoked); check auth.token',
          provider: PROVIDER_NAME,
          operation: ctx.operation,
          credentialId: ctx.credentialId,
          retryable: retry,
          details: { status: 403, path: vaultPath },
        });
      }
    }
    throw vaultStatusError(res, {
      operation: ctx.operation,
      credentialId: ctx.credentialId,
      path: vaultPath,
      capabilities: ctx.capabilities,
      now: this.common.clock.now(),
    });
  }
}

/** `@` is legal in a path segment (RFC 3986 pchar): keeping it makes request logs match `vault kv` paths. */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%40/g, '@');
}

/** The document is already parsed JSON here: decode it directly, and let the core word any failure. */
function decodeDocument(
  value: unknown,
  credentialId: string,
): { data: EncryptedData; metadata: CredentialMetadata } {
  const doc = value as Record<string, unknown> | null | undefined;
  if (doc?.['format'] === CREDENTIAL_DOCUMENT_FORMAT) {
    try {
      return { data: encryptedDataFromJson(doc['data']), metadata: metadataFromJson(doc['metadata']) };
    } catch {
      // Fall through: the core decoder produces the Corrupted error with its usual wording.
    }
  }
  return decodeCredentialDocument(JSON.stringify(value ?? null), credentialId);
}

/**
 * The metadata custom_metadata records, over the document's `base` (lastModified, lastAccessed); undefined
 * when the key carries no creation time of ours (a new key, or one written by another tool).
 */
function fromCustomMetadata(
  custom: Record<string, string>,
  base: CredentialMetadata,
): CredentialMetadata | undefined {
  const created = validDate(custom[META_CREATED]);
  if (!created) return undefined;
  const tags: Record<string, string> = {};
  for (const k in custom) if (!k.startsWith('nebula:')) tags[k] = custom[k]!;
  // Built field by field, without the base's rotation policy: neither a `delete` from a copy (a slow
  // dictionary object) nor a rest spread (a generic property copy) on every read.
  const metadata: CredentialMetadata = { createdAt: created, lastModified: base.lastModified, tags };
  if (base.lastAccessed) metadata.lastAccessed = base.lastAccessed;
  const days = Number(custom[META_ROTATION]);
  if (Number.isInteger(days) && days > 0) metadata.rotationPolicy = { intervalDays: days };
  return metadata;
}

function pickRotation(metadata: CredentialMetadata): Pick<CredentialMetadata, 'rotationPolicy'> {
  return metadata.rotationPolicy ? { rotationPolicy: metadata.rotationPolicy } : {};
}

/**
 * True when `custom` is exactly what {@link toCustomMetadata} makes of `metadata`: compared in place, since
 * nearly every overwrite keeps the metadata and so needs no metadata write.
 */
function customMetadataHolds(custom: Record<string, string>, metadata: CredentialMetadata): boolean {
  let count = 2;
  for (const key in metadata.tags) {
    if (custom[key] !== metadata.tags[key]) return false;
    count++;
  }
  let present = 0;
  for (const _ in custom) present++;
  const rotation = metadata.rotationPolicy ? String(metadata.rotationPolicy.intervalDays) : 'none';
  return (
    present === count &&
    custom[META_ROTATION] === rotation &&
    custom[META_CREATED] === metadata.createdAt.toISOString()
  );
}

function toCustomMetadata(metadata: CredentialMetadata): Record<string, string> {
  return {
    ...metadata.tags,
    [META_CREATED]: metadata.createdAt.toISOString(),
    // Always present (values may not be empty): marks the layout that keeps the policy here.
    [META_ROTATION]: metadata.rotationPolicy ? String(metadata.rotationPolicy.intervalDays) : 'none',
  };
}

function validDate(text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const d = new Date(parseIsoTimestamp(text));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Whether version `n` in a KV v2 metadata answer is neither deleted nor destroyed. */
function liveVersion(metadata: Record<string, unknown> | null | undefined, n: number): boolean {
  const versions = metadata?.['versions'] as
    | Record<string, { deletion_time?: string; destroyed?: boolean }>
    | undefined;
  const version = versions?.[String(n)];
  if (!version) return true;
  return !version.destroyed && !version.deletion_time;
}
