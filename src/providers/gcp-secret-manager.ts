import { assertVersionNumber } from '../core/arguments.js';
import { BaseStorageProvider, type StoreAttemptOptions } from '../core/base-provider.js';
import { crc32c } from '../core/crc32c.js';
import type { EncryptedData } from '../core/crypto.js';
import { decodeCredentialDocument, encodeCredentialDocument } from '../core/document.js';
import { StorageError, type StorageOperation } from '../core/errors.js';
import type { CredentialId, CredentialIdLike } from '../core/id.js';
import { assertWithinSizeLimit } from '../core/limits.js';
import {
  type CredentialContext,
  type CredentialFilter,
  type CredentialMetadata,
  matchesFilter,
  metadataForOverwrite,
} from '../core/metadata.js';
import { decodeCredentialName, encodeCredentialName } from '../core/name-mapping.js';
import type { AttemptContext } from '../core/operation.js';
import type {
  ProviderCapabilities,
  ProviderHealthFacts,
  StoredCredential,
  VersionProbe,
} from '../core/provider.js';
import { responseBodyLimit } from '../core/response-limit.js';
import type { SecretString } from '../core/secret-string.js';
import { assertSecureEndpoint, loadCaBundle } from '../core/transport-security.js';
import { GcpTokenManager, REFRESH_MARGIN_MS } from './gcp-secret-manager-auth.js';
import {
  callGcp,
  createGcpClient,
  type GcpClient,
  type GcpEndpoint,
  type GcpSdk,
  probeEndpoint,
} from './gcp-secret-manager-client.js';
import { type GcpCallContext, gcpStatusOf, mapGcpError } from './gcp-secret-manager-errors.js';
import { externalAccountLoader } from './gcp-secret-manager-external-account.js';
import {
  annotationsOf,
  assertAnnotationLimit,
  GCP_LIMITS,
  labelsOf,
  listFilterOf,
  metadataFromAnnotations,
} from './gcp-secret-manager-labels.js';
import {
  copyCredentials,
  GCP_SECRET_MANAGER,
  GCP_SECRET_MANAGER_OPTIONS,
  GCP_SECRET_MANAGER_SDK,
  type GcpCredentialVersion,
  type GcpSecretManagerOptions,
  type GcpSettings,
  type GcpVersionHistory,
} from './gcp-secret-manager-options.js';
import { GcpTokenHttp } from './gcp-secret-manager-token-http.js';

export { type GcpCallContext, mapGcpError } from './gcp-secret-manager-errors.js';
export { GCP_LIMITS, isLabelCompatible, labelsOf, METADATA_ANNOTATION } from './gcp-secret-manager-labels.js';
export {
  GCP_DEFAULT_PREFIX,
  GCP_SECRET_MANAGER,
  GCP_SECRET_MANAGER_OPTIONS,
  GCP_SECRET_MANAGER_SDK,
  type GcpCredentialsInput,
  type GcpCredentialVersion,
  type GcpSecretManagerOptions,
  type GcpVersionHistory,
} from './gcp-secret-manager-options.js';

const PROVIDER = GCP_SECRET_MANAGER;
const PAGE_SIZE = 250;

/** What `prepareStore` hands `storeBackend`: the payload and the secret's metadata mirror. */
interface PreparedStore {
  payload: Buffer;
  crc: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** What this process last saw of a secret: its etag and metadata mirror, to skip needless updates. */
interface KnownSecret {
  etag: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface SecretResource {
  name?: string | null;
  etag?: string | null;
  labels?: Record<string, string> | null;
  annotations?: Record<string, string> | null;
}

interface VersionResource {
  name?: string | null;
  state?: string | number | null;
  createTime?: { seconds?: number | string | null; nanos?: number | null } | null;
  destroyTime?: { seconds?: number | string | null; nanos?: number | null } | null;
}

const STATES = ['STATE_UNSPECIFIED', 'ENABLED', 'DISABLED', 'DESTROYED'] as const;

const PERMISSIONS: Readonly<Record<string, string>> = {
  AddSecretVersion: 'secretmanager.versions.add',
  CreateSecret: 'secretmanager.secrets.create',
  AccessSecretVersion: 'secretmanager.versions.access',
  GetSecretVersion: 'secretmanager.versions.get',
  GetSecret: 'secretmanager.secrets.get',
  UpdateSecret: 'secretmanager.secrets.update',
  DeleteSecret: 'secretmanager.secrets.delete',
  ListSecrets: 'secretmanager.secrets.list',
  ListSecretVersions: 'secretmanager.versions.list',
};

/**
 * Stores credentials in Google Cloud Secret Manager, one secret per credential named `<prefix><id>` (the
 * core's `lowercase-dns` name mapping, which fits secret ids). Each store adds a version whose payload is
 * the exact document (ciphertext and metadata), checked with CRC32C both ways; tags that satisfy the label
 * rules become labels (filtered server-side by `list`) and one annotation mirrors the exact tags, creation
 * date and rotation policy. The SDK's retries are off; the core's retry policy, deadlines and
 * cancellation apply. Tokens come from Application Default Credentials or explicit credentials and are
 * refreshed before they expire, on the provider's clock.
 *
 * @example
 * ```ts
 * import { GcpSecretManagerProvider } from 'nebula-credential/gcp';
 * import { createMetadata, EncryptionManager } from 'nebula-credential';
 * const provider = new GcpSecretManagerProvider({ projectId: 'acme-prod' });
 * await provider.store('stripe_key', EncryptionManager.generate().encrypt(Buffer.from('sk_live_x')), createMetadata({ tags: { env: 'prod' } }));
 * console.log(provider.writtenVersion('stripe_key'), await provider.list({ tags: { env: 'prod' } }));
 * await provider.close();
 * ```
 */
export class GcpSecretManagerProvider extends BaseStorageProvider<PreparedStore> {
  /** The provider's name: `'gcp-secret-manager'`. */
  readonly name = PROVIDER;
  /**
   * What this provider supports: versioning, server-side tag filtering through labels, no soft delete;
   * ids up to 255 characters minus the prefix.
   */
  readonly capabilities: ProviderCapabilities;
  readonly #settings: GcpSettings;
  /** The provider's own copy of explicit credentials (disposed by the base on close). */
  readonly #credentials: SecretString | undefined;
  readonly #endpoint: GcpEndpoint;
  #client: GcpClient | undefined;
  #tokens: GcpTokenManager | undefined;
  readonly #known = new Map<string, KnownSecret>();
  readonly #written = new Map<string, string>();

  /**
   * Validates the options (every problem at once, as one `InvalidConfig`); no I/O until `connect()`.
   *
   * @example
   * ```ts
   * const provider = new GcpSecretManagerProvider({ projectId: 'acme-prod', transport: 'rest' });
   * ```
   */
  constructor(options: GcpSecretManagerOptions) {
    const { values, secrets } = GCP_SECRET_MANAGER_OPTIONS.resolve(options);
    const credentials = copyCredentials(values.credentials);
    super({
      name: PROVIDER,
      common: values,
      secrets: credentials ? [...secrets, credentials] : secrets,
      mapError: (error, operation, credentialId) => mapGcpError(error, operation, credentialId),
      peers: [GCP_SECRET_MANAGER_SDK],
    });
    this.#settings = values;
    this.#credentials = credentials;
    this.#endpoint = parseEndpoint(values.apiEndpoint, values.dangerouslyAllowInsecureHttp);
    this.capabilities = {
      // The document holds the ciphertext as base64 (4/3) plus metadata; 64 KiB of payload leaves this.
      maxCredentialSize: 45_000,
      maxIdBytes: Math.min(255, GCP_LIMITS.maxSecretIdLength - values.prefix.length),
      versioning: true,
      softDelete: false,
      nativeTagFiltering: true,
      createOnly: 'atomic',
      persistent: true,
    };
  }

  /** The secret id a credential id maps to (prefix included). */
  secretId(id: CredentialId | string): string {
    return encodeCredentialName(id, 'lowercase-dns', {
      prefix: this.#settings.prefix,
      maxLength: GCP_LIMITS.maxSecretIdLength,
      provider: PROVIDER,
    });
  }

  /** The version number the last `store` of `id` by this provider wrote (e.g. `"3"`). */
  writtenVersion(id: CredentialIdLike): string | undefined {
    return this.#written.get(typeof id === 'string' ? id : (id as CredentialId).value);
  }

  /** Where the current access token came from and when it expires (on the provider's clock). */
  get tokenState(): GcpTokenManager['state'] {
    return this.#tokens?.state;
  }

  /** Token requests made so far (token endpoint or metadata server). */
  get tokenRequests(): number {
    return this.#tokens?.counts.token ?? 0;
  }

  /**
   * A credential's versions (`ListSecretVersions`), oldest first, with their state.
   *
   * @example
   * ```ts
   * const history = await provider.versionHistory('db_password');
   * console.log(history.currentVersion, history.versions.map((v) => `${v.version}:${v.state}`));
   * ```
   */
  async versionHistory(idLike: CredentialIdLike, context?: CredentialContext): Promise<GcpVersionHistory> {
    return this.runProviderOperation(
      'versionHistory',
      idLike,
      async (id, a) => {
        const parent = this.#secretName(id);
        const versions: GcpCredentialVersion[] = [];
        let pageToken: string | undefined;
        do {
          const [page, , response] = await this.#call<
            [VersionResource[], unknown, { nextPageToken?: string }]
          >(
            'ListSecretVersions',
            'listSecretVersions',
            { parent, pageSize: PAGE_SIZE, ...(pageToken ? { pageToken } : {}) },
            a,
            'versionHistory',
            id,
            { autoPaginate: false },
          );
          for (const v of page ?? []) versions.push(versionOf(v));
          pageToken = response?.nextPageToken || undefined;
        } while (pageToken);
        versions.sort((x, y) => x.version - y.version);
        return { id: id.value, currentVersion: versions.at(-1)?.version ?? 0, versions };
      },
      { context },
    );
  }

  /**
   * Reads one version (`versions/N:access`). A disabled or destroyed version is `Conflict` with
   * `details.versionState` (Secret Manager's FAILED_PRECONDITION), not `NotFound`.
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
    assertVersionNumber(version, PROVIDER);
    return this.runProviderOperation('retrieve', idLike, (id, a) => this.#access(id, a, String(version)), {
      context,
    });
  }

  // ---- backend --------------------------------------------------------------------------------------

  protected override validateId(id: CredentialId): void {
    this.secretId(id);
  }

  protected override prepareStore(
    id: CredentialId,
    data: EncryptedData,
    metadata: CredentialMetadata,
  ): PreparedStore {
    this.validateId(id);
    const payload = Buffer.from(encodeCredentialDocument(data, metadata), 'utf8');
    assertWithinSizeLimit(payload.length, GCP_LIMITS.maxPayloadBytes, {
      provider: PROVIDER,
      credentialId: id.value,
      what: 'the secret version payload (base64 ciphertext plus metadata)',
    });
    const annotations = annotationsOf(metadata);
    assertAnnotationLimit(annotations, { provider: PROVIDER, credentialId: id.value });
    return { payload, crc: crc32c(payload), labels: labelsOf(metadata.tags), annotations };
  }

  protected async connectBackend(a: AttemptContext): Promise<void> {
    const sdk = this.peer<GcpSdk>(GCP_SECRET_MANAGER_SDK.name);
    const s = this.#settings;
    const ca = await loadCaBundle(s.tls, { provider: PROVIDER, signal: a.signal });
    await probeEndpoint(this.#endpoint, ca, a.signal);
    if (!this.#client) {
      this.#tokens = new GcpTokenManager(
        {
          credentials: this.#credentials,
          credentialsFile: s.credentialsFile,
          externalAccount: externalAccountLoader(this.common.timeouts.connectMs),
        },
        this.common.clock,
        new GcpTokenHttp({ ca, timeoutMs: this.common.timeouts.connectMs }),
      );
      this.#client = createGcpClient(
        sdk,
        s.transport,
        this.#endpoint,
        this.#tokens,
        ca,
        responseBodyLimit(this.capabilities.maxCredentialSize),
        s.maxSockets,
      );
      await this.#client.initialize();
    }
    await this.#tokens!.ensureFresh(a);
  }

  protected async storeBackend(
    id: CredentialId,
    _prepared: PreparedStore,
    metadata: CredentialMetadata,
    a: AttemptContext,
    options: StoreAttemptOptions<PreparedStore>,
  ): Promise<CredentialMetadata> {
    const name = this.#secretName(id);
    // The version's payload carries the metadata, and a new version keeps nothing of the last one: the
    // overwrite rule needs the current metadata, remembered from a recent read or write, else read first.
    const previous = await this.previousMetadata(id, a, options);
    const written = metadataForOverwrite(previous, metadata, options);
    const prepared = options.prepare(written);
    const payload = { data: prepared.payload, dataCrc32c: prepared.crc };
    const addVersion = async () =>
      (
        await this.#call<[{ name?: string | null }]>(
          'AddSecretVersion',
          'addSecretVersion',
          { parent: name, payload },
          a,
          'store',
          id,
        )
      )[0];
    const createThenAdd = async () => {
      await this.#create(id, prepared, a);
      return addVersion();
    };
    let version: { name?: string | null };
    if (options.createOnly) {
      // CreateSecret refuses an existing secret, and that is the whole check: a secret without a version yet
      // is most often another create between its two calls (it reads as missing; put writes into it).
      if (!(await this.#create(id, prepared, a))) throw this.alreadyExists(id, { secretName: name });
      version = await addVersion();
    } else if (this.known.get(id.value)?.present === false) {
      // Known missing (read as missing just now, or deleted here): create it without a failed add first.
      version = await createThenAdd();
    } else {
      try {
        // One round trip when the secret exists: add the version first, create the secret only on NOT_FOUND.
        version = await addVersion();
      } catch (error) {
        if (!isCode(error, 'NotFound')) throw error;
        this.#known.delete(name);
        version = await createThenAdd();
      }
    }
    // Labels and annotations follow tags, creation date and rotation policy: when the write keeps all
    // three from the version just read, they were brought in line when that version was written.
    if (this.#known.has(name) || !previous || !sameSecretLevelMetadata(previous, written)) {
      await this.#syncMetadata(id, name, prepared, a);
    }
    const number = lastSegment(version?.name);
    if (number) {
      this.#written.set(id.value, number);
      this.common.logger.debug(
        { provider: PROVIDER, credentialId: id.value, version: number },
        'stored a new version',
      );
    }
    return written;
  }

  protected async retrieveBackend(id: CredentialId, a: AttemptContext): Promise<StoredCredential> {
    return this.#access(id, a, 'latest');
  }

  protected async deleteBackend(id: CredentialId, a: AttemptContext): Promise<void> {
    const name = this.#secretName(id);
    const etag = this.#known.get(name)?.etag;
    this.#known.delete(name);
    try {
      await this.#call('DeleteSecret', 'deleteSecret', { name, ...(etag ? { etag } : {}) }, a, 'delete', id);
    } catch (error) {
      // A stale etag of our own: someone changed the secret since we saw it. Delete what is there now.
      if (!(etag && isCode(error, 'Conflict'))) throw error;
      const [secret] = await this.#call<[SecretResource]>(
        'GetSecret',
        'getSecret',
        { name },
        a,
        'delete',
        id,
      );
      await this.#call(
        'DeleteSecret',
        'deleteSecret',
        { name, etag: secret.etag ?? undefined },
        a,
        'delete',
        id,
      );
    }
    this.#written.delete(id.value);
  }

  protected async listBackend(filter: CredentialFilter | undefined, a: AttemptContext): Promise<string[]> {
    const parent = `projects/${this.#settings.projectId}`;
    const labelFilter = listFilterOf(filter?.tags);
    const ids: string[] = [];
    let pageToken: string | undefined;
    do {
      const [page, , response] = await this.#call<[SecretResource[], unknown, { nextPageToken?: string }]>(
        'ListSecrets',
        'listSecrets',
        {
          parent,
          pageSize: PAGE_SIZE,
          ...(labelFilter ? { filter: labelFilter } : {}),
          ...(pageToken ? { pageToken } : {}),
        },
        a,
        'list',
        undefined,
        { autoPaginate: false },
      );
      for (const secret of page ?? []) {
        const secretId = lastSegment(secret.name);
        if (!secretId) continue;
        const id = decodeCredentialName(secretId, 'lowercase-dns', { prefix: this.#settings.prefix });
        if (!id) continue;
        const mirror = metadataFromAnnotations(secret.annotations);
        if (!mirror) continue;
        this.#remember(secret);
        if (
          matchesFilter(
            { createdAt: mirror.createdAt, lastModified: mirror.createdAt, tags: mirror.tags },
            filter,
          )
        ) {
          ids.push(id.value);
        }
      }
      pageToken = response?.nextPageToken || undefined;
    } while (pageToken);
    return ids;
  }

  protected async existsBackend(id: CredentialId, a: AttemptContext): Promise<boolean> {
    return stateOf((await this.#latestVersion(id, a, 'exists'))?.state) === 'ENABLED';
  }

  /** GetSecretVersion of `latest`: its number moves with every write, and no payload is read. */
  protected override async describeVersionBackend(
    id: CredentialId,
    a: AttemptContext,
  ): Promise<VersionProbe | undefined> {
    const version = await this.#latestVersion(id, a, 'describeVersion');
    const number = lastSegment(version?.name);
    return stateOf(version?.state) === 'ENABLED' && number ? { version: number } : undefined;
  }

  protected override describeHealth(): ProviderHealthFacts {
    const state = this.#tokens?.state;
    const now = this.common.clock.now();
    const expiresAt = state?.expiresAt.getTime();
    return {
      credentialSource: state?.source ?? 'not resolved yet (application default credentials)',
      auth: {
        kind: state?.source ?? 'unknown',
        ...(expiresAt === undefined
          ? {}
          : { expiresAt, ttlMs: Math.max(0, expiresAt - now), nextRenewalAt: expiresAt - REFRESH_MARGIN_MS }),
        tokenRequests: this.tokenRequests,
      },
      projectId: this.#settings.projectId,
      transport: this.#settings.transport,
    };
  }

  /** The `latest` version's resource (number and state), or undefined when the secret does not exist. */
  async #latestVersion(
    id: CredentialId,
    a: AttemptContext,
    operation: StorageOperation,
  ): Promise<VersionResource | undefined> {
    try {
      const [version] = await this.#call<[VersionResource]>(
        'GetSecretVersion',
        'getSecretVersion',
        { name: `${this.#secretName(id)}/versions/latest` },
        a,
        operation,
        id,
      );
      return version;
    } catch (error) {
      if (isCode(error, 'NotFound')) return undefined;
      throw error;
    }
  }

  protected override async closeBackend(): Promise<void> {
    await this.#client?.close();
    this.#client = undefined;
    this.#tokens?.close();
    this.#known.clear();
  }

  // ---- helpers --------------------------------------------------------------------------------------

  #secretName(id: CredentialId): string {
    return `projects/${this.#settings.projectId}/secrets/${this.secretId(id)}`;
  }

  /** Creates the secret; false when it already exists (another writer created it between our NOT_FOUND and now). */
  async #create(id: CredentialId, prepared: PreparedStore, a: AttemptContext): Promise<boolean> {
    const s = this.#settings;
    const cmek = s.kmsKeyName ? { customerManagedEncryption: { kmsKeyName: s.kmsKeyName } } : {};
    const replication =
      s.replication.length > 0
        ? { userManaged: { replicas: s.replication.map((location) => ({ location, ...cmek })) } }
        : { automatic: cmek };
    try {
      const [secret] = await this.#call<[SecretResource]>(
        'CreateSecret',
        'createSecret',
        {
          parent: `projects/${s.projectId}`,
          secretId: this.secretId(id),
          secret: { replication, labels: prepared.labels, annotations: prepared.annotations },
        },
        a,
        'store',
        id,
      );
      this.#remember(secret);
      return true;
    } catch (error) {
      // Another writer created it between our NOT_FOUND and now: add the version to theirs.
      if (!(isCode(error, 'Conflict') && (error as StorageError).details.backendCode === 'ALREADY_EXISTS'))
        throw error;
      return false;
    }
  }

  /** Brings labels and annotations in line with the stored metadata (one UpdateSecret, only when they differ). */
  async #syncMetadata(
    id: CredentialId,
    name: string,
    prepared: PreparedStore,
    a: AttemptContext,
  ): Promise<void> {
    let known = this.#known.get(name);
    if (!known) {
      const [secret] = await this.#call<[SecretResource]>('GetSecret', 'getSecret', { name }, a, 'store', id);
      known = this.#remember(secret);
    }
    if (sameRecord(known.labels, prepared.labels) && sameRecord(known.annotations, prepared.annotations))
      return;
    for (let pass = 0; ; pass++) {
      try {
        const [secret] = await this.#call<[SecretResource]>(
          'UpdateSecret',
          'updateSecret',
          {
            secret: { name, labels: prepared.labels, annotations: prepared.annotations, etag: known.etag },
            updateMask: { paths: ['labels', 'annotations'] },
          },
          a,
          'store',
          id,
        );
        this.#remember(secret);
        return;
      } catch (error) {
        // Concurrency through etags: a writer changed the secret since we read it; read it again, once.
        if (pass > 0 || !isCode(error, 'Conflict')) throw error;
        const [secret] = await this.#call<[SecretResource]>(
          'GetSecret',
          'getSecret',
          { name },
          a,
          'store',
          id,
        );
        known = this.#remember(secret);
      }
    }
  }

  #remember(secret: SecretResource): KnownSecret {
    const known = {
      etag: secret.etag ?? '',
      labels: { ...(secret.labels ?? {}) },
      annotations: { ...(secret.annotations ?? {}) },
    };
    if (secret.name) {
      // The service answers with the project number; key by the id-based name this provider uses.
      const secretId = lastSegment(secret.name);
      if (secretId) this.#known.set(`projects/${this.#settings.projectId}/secrets/${secretId}`, known);
    }
    return known;
  }

  async #access(id: CredentialId, a: AttemptContext, version: string): Promise<StoredCredential> {
    const name = `${this.#secretName(id)}/versions/${version}`;
    let response: {
      name?: string | null;
      payload?: { data?: Uint8Array | string | null; dataCrc32c?: number | string | null } | null;
    };
    try {
      [response] = await this.#call(
        'AccessSecretVersion',
        'accessSecretVersion',
        { name },
        a,
        'retrieve',
        id,
      );
    } catch (error) {
      if (error instanceof StorageError && error.details.backendCode === 'FAILED_PRECONDITION') {
        throw await this.#versionStateError(id, name, a, error);
      }
      throw error;
    }
    const raw = response.payload?.data;
    const data = typeof raw === 'string' ? Buffer.from(raw, 'base64') : Buffer.from(raw ?? new Uint8Array());
    const expected = response.payload?.dataCrc32c;
    if (expected !== undefined && expected !== null && Number(expected) !== crc32c(data)) {
      throw new StorageError({
        code: 'Corrupted',
        message: `the payload of ${name} does not match its CRC32C checksum: it was damaged in transit or storage; read it again`,
        provider: PROVIDER,
        operation: 'retrieve',
        credentialId: id.value,
        retryable: true,
        details: { expectedCrc32c: Number(expected), actualCrc32c: crc32c(data) },
      });
    }
    const decoded = decodeCredentialDocument(data.toString('utf8'), id.value);
    const number = lastSegment(response.name);
    return { ...decoded, ...(number ? { version: number } : {}) };
  }

  /** FAILED_PRECONDITION on access: the version is disabled or destroyed; GetSecretVersion says which. */
  async #versionStateError(
    id: CredentialId,
    name: string,
    a: AttemptContext,
    error: StorageError,
  ): Promise<StorageError> {
    let state: string | undefined;
    try {
      const [version] = await this.#call<[VersionResource]>(
        'GetSecretVersion',
        'getSecretVersion',
        { name },
        a,
        'retrieve',
        id,
      );
      state = stateOf(version.state);
    } catch {
      // The first error stays the answer.
    }
    const which = lastSegment(name);
    return new StorageError({
      code: 'Conflict',
      message: `version ${which} of credential "${id.value}" is ${state ? state.toLowerCase() : 'not enabled'} in Secret Manager (FAILED_PRECONDITION); ${state === 'DESTROYED' ? 'its data is gone: read another version' : 'enable it (gcloud secrets versions enable) or read another version'}`,
      provider: PROVIDER,
      operation: 'retrieve',
      credentialId: id.value,
      retryable: false,
      details: { ...error.details, ...(state ? { versionState: state } : {}), version: which },
      cause: error,
    });
  }

  /** One RPC in one attempt: a fresh token first (never refreshed during the call), mapped errors. */
  async #call<T = [Record<string, never>]>(
    rpc: string,
    method: string,
    request: Record<string, unknown>,
    a: AttemptContext,
    operation: StorageOperation,
    id: CredentialId | undefined,
    extra: Record<string, unknown> = {},
  ): Promise<T> {
    await this.#tokens!.ensureFresh(a);
    try {
      return await callGcp<T>(this.#client!, method, request, a, extra);
    } catch (error) {
      if (error instanceof StorageError) throw error;
      const resource = String(
        request.name ?? request.parent ?? (request.secret as SecretResource | undefined)?.name ?? '',
      );
      const call: GcpCallContext = { rpc, permission: PERMISSIONS[rpc] ?? rpc, resource };
      const mapped = mapGcpError(error, operation, id?.value, call);
      // An expired or revoked token: forget it, so the next attempt (or operation) gets a new one.
      if (gcpStatusOf(error) === 'UNAUTHENTICATED') this.#tokens!.invalidate();
      throw mapped;
    }
  }
}

function isCode(error: unknown, code: StorageError['code']): boolean {
  return error instanceof StorageError && error.code === code;
}

function lastSegment(name: string | null | undefined): string | undefined {
  if (!name) return undefined;
  return name.slice(name.lastIndexOf('/') + 1) || undefined;
}

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

function stateOf(state: string | number | null | undefined): GcpCredentialVersion['state'] {
  if (typeof state === 'number') return STATES[state] ?? 'STATE_UNSPECIFIED';
  return (STATES as readonly string[]).includes(String(state))
    ? (state as GcpCredentialVersion['state'])
    : 'STATE_UNSPECIFIED';
}

function timeOf(t: VersionResource['createTime']): Date | undefined {
  if (!t) return undefined;
  return new Date(Number(t.seconds ?? 0) * 1000 + Math.floor(Number(t.nanos ?? 0) / 1e6));
}

function versionOf(v: VersionResource): GcpCredentialVersion {
  const destroyedAt = timeOf(v.destroyTime);
  return {
    version: Number(lastSegment(v.name) ?? 0),
    state: stateOf(v.state),
    createdAt: timeOf(v.createTime) ?? new Date(0),
    ...(destroyedAt && destroyedAt.getTime() > 0 ? { destroyedAt } : {}),
  };
}

/** `host[:port]` or an http(s) URL; plain http passes the https-only rule only to loopback or with the opt-in. */
function parseEndpoint(text: string, allowInsecureHttp: boolean): GcpEndpoint {
  const url = new URL(/^https?:\/\//.test(text) ? text : `https://${text}`);
  if (url.protocol === 'http:') {
    assertSecureEndpoint(url.href, {
      provider: PROVIDER,
      source: 'the apiEndpoint option',
      allowInsecureHttp,
    });
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
  return { host, port, protocol: url.protocol === 'http:' ? 'http' : 'https' };
}

function sameSecretLevelMetadata(a: CredentialMetadata, b: CredentialMetadata): boolean {
  return (
    a.createdAt.getTime() === b.createdAt.getTime() &&
    a.rotationPolicy?.intervalDays === b.rotationPolicy?.intervalDays &&
    sameRecord(a.tags, b.tags)
  );
}
