import type { TokenCredential } from '@azure/identity';
import type { SecretClient, SecretClientOptions } from '@azure/keyvault-secrets';
import { BaseStorageProvider, type StoreAttemptOptions } from '../core/base-provider.js';
import { mapWithConcurrency } from '../core/bulk.js';
import type { EncryptedData } from '../core/crypto.js';
import { decodeCredentialDocument, encodeCredentialDocumentWithin } from '../core/document.js';
import { StorageError, type StorageOperation } from '../core/errors.js';
import type { CredentialId, CredentialIdLike } from '../core/id.js';
import { assertTagLimits } from '../core/limits.js';
import {
  type CredentialFilter,
  type CredentialMetadata,
  matchesFilter,
  metadataForOverwrite,
} from '../core/metadata.js';
import { decodeCredentialName, encodeCredentialName } from '../core/name-mapping.js';
import { type AttemptContext, backstopTimeoutMs } from '../core/operation.js';
import { type PeerPackage, requireBesidePeer } from '../core/peer.js';
import type {
  ProviderCapabilities,
  ProviderHealthFacts,
  StoredCredential,
  VersionProbe,
} from '../core/provider.js';
import { proxyTunnelRoutes } from '../core/proxy-route.js';
import { responseBodyLimit } from '../core/response-limit.js';
import type { SecretString } from '../core/secret-string.js';
import { loadCaBundle } from '../core/transport-security.js';
import { UNDICI_PACKAGE, type UndiciModule } from '../core/undici-exchange.js';
import {
  AzureTokenCache,
  BoundedIdentityHttpClient,
  buildCredential,
  responseBodyBoundPolicy,
} from './azure-key-vault-auth.js';
import { mapAzureError } from './azure-key-vault-errors.js';
import { type AzurePipelineModule, AzureVaultHttpClient } from './azure-key-vault-http.js';
import {
  AZURE_KEY_VAULT,
  AZURE_KEY_VAULT_OPTIONS,
  AZURE_KEY_VAULT_SDKS,
  type AzureKeyVaultOptions,
  type AzureKeyVaultSettings,
} from './azure-key-vault-options.js';

export { requiredRoleFor } from './azure-key-vault-errors.js';
export {
  AZURE_CREDENTIAL_TYPES,
  AZURE_KEY_VAULT,
  AZURE_KEY_VAULT_OPTIONS,
  AZURE_KEY_VAULT_SDKS,
  type AzureCredentialConfig,
  type AzureKeyVaultOptions,
  type AzureSoftDeletePolicy,
  type AzureTokenCredential,
} from './azure-key-vault-options.js';

const NAME = AZURE_KEY_VAULT;
/** Key Vault's limit on a secret value, in bytes.
 *
 * @example
 * ```ts
 * import { AZURE_SECRET_VALUE_LIMIT } from 'nebula-credential/azure';
 * console.log(AZURE_SECRET_VALUE_LIMIT); // 25600
 * ```
 */
export const AZURE_SECRET_VALUE_LIMIT = 25 * 1024;
/** Room kept in the value for the document envelope and ordinary metadata. */
const ENVELOPE_RESERVE = 2048;
/** Media type of the stored document; its `created` parameter mirrors metadata.createdAt for list filters. */
const CONTENT_TYPE = 'application/vnd.nebula-credential.v1+json';
const MAX_NAME = 127;
const TAG_LIMITS = { maxTags: 15, maxKeyLength: 512, maxValueLength: 256 } as const;
/**
 * Key Vault's `updated` time has one-second resolution, and client and vault clocks differ: a listed
 * secret whose `updated` second ended this long before we last read its version cannot have changed since.
 */
const UPDATED_AMBIGUITY_MS = 2000;

/**
 * keyvault-secrets 4.11 throws a bare TypeError, losing the status, for an error response without a body
 * (a 503 from a gateway, an injected fault): an empty JSON object keeps the RestError and its status.
 */
const EMPTY_ERROR_BODY_POLICY = {
  name: 'nebulaCredentialEmptyErrorBody',
  async sendRequest(
    request: unknown,
    next: (request: unknown) => Promise<{ status: number; bodyAsText?: string | null }>,
  ) {
    const response = await next(request);
    if (response.status >= 400 && !response.bodyAsText) response.bodyAsText = '{}';
    return response;
  },
} as never;

type SecretsSdk = typeof import('@azure/keyvault-secrets');
type IdentitySdk = typeof import('@azure/identity');

/**
 * Stores credentials as Azure Key Vault secrets through `@azure/keyvault-secrets`, authenticated with
 * `@azure/identity` (managed identity by default). Each credential is one secret: the value is the
 * credential document (ciphertext and exact metadata), the content type marks it as ours, and the metadata
 * tags are mirrored as secret tags. Deleting is a soft delete; `recover(id)` and `purge(id)` finish it.
 *
 * @example
 * ```ts
 * import { createStorageProvider, EncryptionManager, createMetadata } from 'nebula-credential';
 * const provider = await createStorageProvider({
 *   provider: 'azure-key-vault',
 *   vaultUrl: 'https://my-vault.vault.azure.net',
 *   credential: { type: 'managed-identity' },
 * });
 * await provider.store('api_key', EncryptionManager.generate().encrypt(Buffer.from('v')), createMetadata());
 * ```
 */
export class AzureKeyVaultProvider extends BaseStorageProvider<string> {
  /** The provider's name: `'azure-key-vault'`. */
  readonly name = NAME;
  /**
   * What this backend allows: ciphertext whose document fits Key Vault's 25 KiB secret, its tag limit, names
   * of 127 characters with the prefix, versions and soft delete (docs/providers/azure-key-vault.md, Limits).
   */
  readonly capabilities: ProviderCapabilities;
  readonly #settings: AzureKeyVaultSettings;
  readonly #credentialKind: string;
  /** This provider's copies of the configured secrets, redacted from every mapped error. */
  readonly #secrets: readonly SecretString[];
  #client: SecretClient | undefined;
  #makeClient: (() => SecretClient) | undefined;
  /** The undici dispatcher of the vault's requests (none through a proxy); destroyed by close(). */
  #dispatcher: import('undici').Dispatcher | undefined;
  /** The token cache's generation #client was made in. */
  #clientGeneration = 0;
  #tokens: AzureTokenCache | undefined;
  /** Per secret name: the `updated` time and exact version last seen, and when (wall clock) it was read. */
  readonly #versionsSeen = new Map<string, { updated: number; version: string; observedAt: number }>();

  /**
   * Validates `options` (every problem at once, `InvalidConfig`) without any I/O; the SDKs load and the
   * credential is checked at `connect()`.
   */
  constructor(options: AzureKeyVaultOptions) {
    const { values: settings, secrets } = AZURE_KEY_VAULT_OPTIONS.resolve(options);
    const kind = 'getToken' in settings.credential ? 'custom TokenCredential' : settings.credential.type;
    super({
      name: NAME,
      common: settings,
      secrets,
      // Read at error time only: no plain copy of a configured secret outlives the error being mapped.
      mapError: (error, operation, credentialId) =>
        mapAzureError(error, {
          provider: NAME,
          operation,
          credentialId,
          credentialKind: kind,
          redact: secrets.filter((x) => !x.disposed).map((x) => x.expose()),
          now: settings.clock.now(),
        }),
      peers: [AZURE_KEY_VAULT_SDKS.secrets, AZURE_KEY_VAULT_SDKS.identity],
    });
    this.#settings = settings;
    this.#secrets = secrets;
    this.#credentialKind = kind;
    const maxCredentialSize = Math.floor((AZURE_SECRET_VALUE_LIMIT - ENVELOPE_RESERVE) / 4) * 3;
    this.capabilities = {
      maxCredentialSize,
      maxIdBytes: MAX_NAME - settings.prefix.length,
      versioning: true,
      softDelete: true,
      nativeTagFiltering: false,
      createOnly: 'read-first',
      persistent: true,
      maxTags: TAG_LIMITS.maxTags,
    };
  }

  /** Recovers a soft-deleted credential (within the vault's retention period). */
  async recover(id: CredentialIdLike): Promise<void> {
    await this.runProviderOperation('recover', id, (cid, a) => this.#recoverName(cid, this.#name(cid), a), {
      kind: 'write',
    });
  }

  /** Permanently removes a soft-deleted credential (refused by vaults with purge protection). */
  async purge(id: CredentialIdLike): Promise<void> {
    await this.runProviderOperation('purge', id, (cid, a) => this.#purgeName(cid, this.#name(cid), a), {
      kind: 'write',
    });
  }

  /** Ids of soft-deleted credentials that can still be recovered or purged. */
  async listDeleted(): Promise<string[]> {
    const ids = await this.runProviderOperation('list', undefined, async (_none, a) => {
      await this.#prepare(a, 'list');
      const out: string[] = [];
      await this.#kv('list', 'readMetadata/action', undefined, async () => {
        for await (const item of this.#sdk().listDeletedSecrets({ abortSignal: a.signal })) {
          const id = this.#decode(item.name, (item.properties as { contentType?: string }).contentType);
          if (id) out.push(id.value);
        }
      });
      return out;
    });
    return [...new Set(ids)].sort();
  }

  protected override validateId(id: CredentialId): void {
    this.#name(id);
  }

  /** Checks the name, the tags and the stored size, and encodes the secret value `storeBackend` writes. */
  protected override prepareStore(
    id: CredentialId,
    data: EncryptedData,
    metadata: CredentialMetadata,
  ): string {
    this.#name(id);
    assertTagLimits(metadata.tags, TAG_LIMITS, { provider: NAME, credentialId: id.value });
    return encodeCredentialDocumentWithin(data, metadata, AZURE_SECRET_VALUE_LIMIT, {
      provider: NAME,
      credentialId: id.value,
      what: 'stored secret value (ciphertext, envelope and metadata)',
    });
  }

  /** A ready `TokenCredential` needs no `@azure/identity`. */
  protected override requiredPeers(): readonly PeerPackage[] {
    return 'getToken' in this.#settings.credential
      ? [AZURE_KEY_VAULT_SDKS.secrets, UNDICI_PACKAGE]
      : [AZURE_KEY_VAULT_SDKS.secrets, AZURE_KEY_VAULT_SDKS.identity, UNDICI_PACKAGE];
  }

  protected async connectBackend(a: AttemptContext): Promise<void> {
    const s = this.#settings;
    const kv = this.peer<SecretsSdk>(AZURE_KEY_VAULT_SDKS.secrets.name);
    const ca = await loadCaBundle(s.tls, { provider: NAME, signal: a.signal });
    const transport = {
      retryOptions: { maxRetries: 0 },
      ...(ca ? { tlsOptions: { ca } } : {}),
      // The https-only rule already decided (loopback, or dangerouslyAllowInsecureHttp); the SDK asks again.
      ...(s.vaultUrl.startsWith('http:') ? { allowInsecureConnection: true } : {}),
    };
    const credential = s.credential;
    // One bound for the vault's answers and the token endpoints' (Entra ID, managed identity).
    const limit = responseBodyLimit(this.capabilities.maxCredentialSize);
    const bodyBound = responseBodyBoundPolicy(limit);
    // The environment's proxy (HTTPS_PROXY, ALL_PROXY, HTTP_PROXY; NO_PROXY), as the Azure SDK reads it, through
    // the bounded tunnel; plain-http URLs (managed identity endpoints) keep the pipeline's choice: its forward
    // proxying goes through Node's HTTP parser, which bounds the head, and the body bound applies.
    const tunnels = proxyTunnelRoutes({
      provider: NAME,
      timeoutMs: this.common.timeouts.connectMs,
      ca,
      maxSockets: s.maxSockets,
    });
    const identityHttp =
      'getToken' in credential ? undefined : BoundedIdentityHttpClient.create(limit, tunnels.route);
    const inner: TokenCredential =
      'getToken' in credential
        ? (credential as TokenCredential)
        : buildCredential(this.peer<IdentitySdk>(AZURE_KEY_VAULT_SDKS.identity.name), credential, s, {
            ...transport,
            httpClient: identityHttp,
          });
    const tokens = new AzureTokenCache(inner, this.common.clock, identityHttp);
    this.#tokens = tokens;
    const tunnel = tunnels.route(new URL(s.vaultUrl));
    const clientOptions: SecretClientOptions = {
      ...transport,
      disableChallengeResourceVerification: s.disableChallengeResourceVerification,
      ...(s.serviceVersion ? { serviceVersion: s.serviceVersion as never } : {}),
      ...(tunnel
        ? {
            // Through a proxy: the bounded CONNECT tunnel as the pipeline's agent (which also keeps its
            // proxyPolicy and https-proxy-agent off), the body bound as a policy nearer the wire than the
            // empty-body one, so that one sees the text the bound read.
            agent: tunnel,
            additionalPolicies: [
              { policy: EMPTY_ERROR_BODY_POLICY, position: 'perRetry' },
              { policy: bodyBound, position: 'perRetry' },
            ],
          }
        : {
            // Direct: the vault's own undici pool (`maxSockets` per origin), which bounds each body itself.
            httpClient: this.#vaultHttpClient(ca, limit) as never,
            additionalPolicies: [{ policy: EMPTY_ERROR_BODY_POLICY, position: 'perRetry' }],
          }),
    };
    // One client per token generation (see #sdk); they share the agent, so the pool and its connections.
    this.#makeClient = () => new kv.SecretClient(s.vaultUrl, tokens, clientOptions);
    this.#client = this.#makeClient();
    this.#clientGeneration = tokens.generation;
    // One cheap authenticated call: a wrong tenant, secret or identity fails here, within the connect deadline.
    try {
      await this.#kv('connect', 'readMetadata/action', undefined, () =>
        this.#sdk().listPropertiesOfSecrets({ abortSignal: a.signal }).byPage({ maxPageSize: 1 }).next(),
      );
    } catch (error) {
      // A 403 proves the token is good; RBAC is then reported per operation, naming the missing role.
      if (!(error instanceof StorageError && error.code === 'PermissionDenied')) throw error;
      this.common.logger.warn(
        { provider: NAME, requiredRole: error.details['requiredRole'] },
        'connected, but the principal may not list secrets',
      );
    }
  }

  protected async storeBackend(
    id: CredentialId,
    _prepared: string,
    metadata: CredentialMetadata,
    a: AttemptContext,
    options: StoreAttemptOptions<string>,
  ): Promise<CredentialMetadata> {
    await this.#prepare(a, 'store');
    const name = this.#name(id);
    // setSecret writes over anything: a create-only write reads first (capability `read-first`).
    if (options.createOnly && (await this.holdsCredential(id, a)))
      throw this.alreadyExists(id, { secretName: name });
    // Each version carries its own tags and `created`: a new version keeps nothing by itself, so the overwrite
    // rule needs the latest version's metadata, one getSecret before the setSecret.
    const written = metadataForOverwrite(await this.previousMetadata(id, a, options), metadata, options);
    const value = options.prepare(written);
    const set = () =>
      this.#kv('store', 'setSecret/action', id, () =>
        this.#sdk().setSecret(name, value, {
          contentType: `${CONTENT_TYPE}; created=${written.createdAt.toISOString()}`,
          tags: { ...written.tags },
          ...cancellation(a),
        }),
      );
    try {
      await set();
      return written;
    } catch (error) {
      if (!isDeletedConflict(error)) throw error;
      if (this.#settings.softDeletePolicy === 'fail') throw error;
    }
    if (this.#settings.softDeletePolicy === 'recover') await this.#recoverName(id, name, a);
    else await this.#purgeName(id, name, a);
    // Right after a recover or purge the name can still be busy (409) for a moment.
    for (;;) {
      try {
        await set();
        return written;
      } catch (error) {
        if (
          !(error instanceof StorageError && error.code === 'Conflict') ||
          a.remainingMs() < this.#settings.pollIntervalMs * 2
        ) {
          throw error;
        }
        await this.common.clock.sleep(this.#settings.pollIntervalMs, a.signal);
      }
    }
  }

  protected async retrieveBackend(id: CredentialId, a: AttemptContext): Promise<StoredCredential> {
    await this.#prepare(a, 'retrieve');
    const secret = await this.#kv('retrieve', 'getSecret/action', id, () =>
      this.#sdk().getSecret(this.#name(id), cancellation(a)),
    );
    const { data, metadata } = decodeCredentialDocument(secret.value ?? '', id.value);
    return { data, metadata, version: secret.properties.version };
  }

  protected async existsBackend(id: CredentialId, a: AttemptContext): Promise<boolean> {
    await this.#prepare(a, 'exists');
    // The versions listing needs only read-metadata rights and never carries the value.
    try {
      const page = await this.#kv('exists', 'readMetadata/action', id, () =>
        this.#sdk()
          .listPropertiesOfSecretVersions(this.#name(id), { abortSignal: a.signal })
          .byPage({ maxPageSize: 1 })
          .next(),
      );
      return !page.done && page.value.length > 0;
    } catch (error) {
      if (error instanceof StorageError && error.code === 'NotFound') return false;
      throw error;
    }
  }

  protected async deleteBackend(id: CredentialId, a: AttemptContext): Promise<void> {
    await this.#prepare(a, 'delete');
    await this.#kv('delete', 'delete', id, async () => {
      const poller = await this.#sdk().beginDeleteSecret(this.#name(id), {
        abortSignal: a.signal,
        intervalInMs: this.#settings.pollIntervalMs,
      });
      await poller.pollUntilDone({ abortSignal: a.signal });
    });
  }

  protected async listBackend(filter: CredentialFilter | undefined, a: AttemptContext): Promise<string[]> {
    await this.#prepare(a, 'list');
    const ids: string[] = [];
    await this.#kv('list', 'readMetadata/action', undefined, async () => {
      for await (const item of this.#sdk().listPropertiesOfSecrets({ abortSignal: a.signal })) {
        const id = this.#decode(item.name, item.contentType);
        if (!id || !matchesFilter({ tags: item.tags ?? {}, createdAt: createdOf(item.contentType) }, filter))
          continue;
        ids.push(id.value);
      }
    });
    return ids;
  }

  /**
   * getSecret: one request that returns the version and the stored document (ciphertext), so a watch
   * refreshes the cache without reading again.
   */
  protected override async describeVersionBackend(
    id: CredentialId,
    a: AttemptContext,
  ): Promise<VersionProbe | undefined> {
    await this.#prepare(a, 'describeVersion');
    try {
      const secret = await this.#kv('describeVersion', 'getSecret/action', id, () =>
        this.#sdk().getSecret(this.#name(id), cancellation(a)),
      );
      const version = secret.properties.version ?? '';
      this.#rememberVersion(secret.name, secret.properties.updatedOn, version);
      const { data, metadata } = decodeCredentialDocument(secret.value ?? '', id.value);
      return { version, stored: { data, metadata, version } };
    } catch (error) {
      if (error instanceof StorageError && error.code === 'NotFound') return undefined;
      throw error;
    }
  }

  /**
   * One paged properties listing (no values) for the whole filter; a secret is read (getSecret) only when
   * its `updated` time moved, or is too recent to tell two writes in the same second apart.
   */
  protected override async listVersionsBackend(
    filter: CredentialFilter | undefined,
    a: AttemptContext,
  ): Promise<Map<string, VersionProbe>> {
    await this.#prepare(a, 'listVersions');
    const listed: { id: CredentialId; name: string; updated: number }[] = [];
    await this.#kv('listVersions', 'readMetadata/action', undefined, async () => {
      for await (const item of this.#sdk().listPropertiesOfSecrets({ abortSignal: a.signal })) {
        const id = this.#decode(item.name, item.contentType);
        if (!id || !matchesFilter({ tags: item.tags ?? {}, createdAt: createdOf(item.contentType) }, filter))
          continue;
        listed.push({ id, name: item.name, updated: item.updatedOn?.getTime() ?? 0 });
      }
    });
    const out = new Map<string, VersionProbe>();
    await mapWithConcurrency(listed, 8, async ({ id, name, updated }) => {
      const seen = this.#versionsSeen.get(name);
      if (seen && seen.updated === updated && seen.observedAt >= updated + 1000 + UPDATED_AMBIGUITY_MS) {
        out.set(id.value, { version: seen.version });
        return;
      }
      const probe = await this.describeVersionBackend(id, a);
      if (probe) out.set(id.value, probe);
    });
    return out;
  }

  protected override describeHealth(): ProviderHealthFacts {
    const expiresIn = this.#tokens?.earliestExpiryInMs;
    const now = this.common.clock.now();
    return {
      credentialSource: this.#credentialKind,
      auth: {
        kind: this.#credentialKind,
        ...(expiresIn === undefined ? {} : { ttlMs: Math.max(0, expiresIn), expiresAt: now + expiresIn }),
        ...(this.#tokens ? { tokensFetched: this.#tokens.fetched } : {}),
      },
      vaultUrl: this.#settings.vaultUrl,
    };
  }

  #rememberVersion(name: string, updatedOn: Date | undefined, version: string): void {
    this.#versionsSeen.set(name, { updated: updatedOn?.getTime() ?? 0, version, observedAt: Date.now() });
    if (this.#versionsSeen.size > 10_000) this.#versionsSeen.clear();
  }

  protected override async closeBackend(): Promise<void> {
    await this.#dispatcher?.destroy();
    this.#dispatcher = undefined;
    this.#client = undefined;
    this.#makeClient = undefined;
    this.#versionsSeen.clear();
    this.#tokens?.clear();
  }

  /** The client the vault's requests go out on when no proxy applies: one undici dispatcher, CA on it. */
  #vaultHttpClient(ca: string | undefined, limit: number): AzureVaultHttpClient {
    const undici = this.peer<UndiciModule>(UNDICI_PACKAGE.name);
    // A connect attempt that failed may have made one already; its connections go with it.
    this.#dispatcher?.destroy().catch(() => {});
    this.#dispatcher = new undici.Agent({
      connections: this.#settings.maxSockets,
      // The operation's deadline (and the pipeline's own request timeout) are the timeouts.
      headersTimeout: 0,
      bodyTimeout: 0,
      ...(ca ? { connect: { ca } } : {}),
    });
    const pipeline = requireBesidePeer<AzurePipelineModule>(
      AZURE_KEY_VAULT_SDKS.secrets.name,
      '@azure/core-rest-pipeline',
    );
    return new AzureVaultHttpClient(this.#dispatcher, limit, pipeline);
  }

  async #recoverName(id: CredentialId, name: string, a: AttemptContext): Promise<void> {
    await this.#prepare(a, 'recover');
    await this.#kv('recover', 'recover/action', id, async () => {
      const poller = await this.#sdk().beginRecoverDeletedSecret(name, {
        abortSignal: a.signal,
        intervalInMs: this.#settings.pollIntervalMs,
      });
      await poller.pollUntilDone({ abortSignal: a.signal });
    });
  }

  async #purgeName(id: CredentialId, name: string, a: AttemptContext): Promise<void> {
    await this.#prepare(a, 'purge');
    await this.#kv('purge', 'purge/action', id, () =>
      this.#sdk().purgeDeletedSecret(name, { abortSignal: a.signal }),
    );
  }

  /** Refreshes access tokens that are expired or about to expire, before the operation's requests. */
  async #prepare(a: AttemptContext, operation: StorageOperation): Promise<void> {
    if (!this.#tokens?.hasDue) return;
    await this.#kv(operation, undefined, undefined, () => this.#tokens!.refreshDue(a.signal));
  }

  async #kv<T>(
    operation: StorageOperation,
    action: string | undefined,
    id: CredentialId | undefined,
    call: () => Promise<T>,
  ): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const mapped = mapAzureError(error, {
        provider: NAME,
        operation,
        credentialId: id?.value,
        action,
        secretName: id ? this.#name(id) : undefined,
        credentialKind: this.#credentialKind,
        redact: this.#secrets.filter((s) => !s.disposed).map((s) => s.expose()),
        now: this.common.clock.now(),
      });
      if (mapped.code === 'AuthenticationFailed') this.#tokens?.clear();
      throw mapped;
    }
  }

  #sdk(): SecretClient {
    if (!this.#client) throw new StorageError({ code: 'Internal', message: 'not connected', provider: NAME });
    // The SDK's token cycler keeps the token it was handed until its own expiry; once the cache replaced or
    // dropped one (a refresh by the provider's clock, a 401), a new client asks the cache afresh. The new
    // client starts with Key Vault's challenge (one unauthenticated round trip), once per token.
    const generation = this.#tokens?.generation ?? 0;
    if (generation !== this.#clientGeneration && this.#makeClient) {
      this.#client = this.#makeClient();
      this.#clientGeneration = generation;
    }
    return this.#client;
  }

  #name(id: CredentialId): string {
    return encodeCredentialName(id, 'lowercase-dns', {
      prefix: this.#settings.prefix,
      maxLength: MAX_NAME,
      provider: NAME,
    });
  }

  #decode(name: string | undefined, contentType: string | undefined): CredentialId | undefined {
    if (!name || !contentType?.startsWith(CONTENT_TYPE)) return undefined;
    return decodeCredentialName(name.toLowerCase(), 'lowercase-dns', { prefix: this.#settings.prefix });
  }
}

function isDeletedConflict(error: unknown): boolean {
  return (
    error instanceof StorageError &&
    error.code === 'Conflict' &&
    error.details.backendCode === 'ObjectIsDeletedButRecoverable'
  );
}

function createdOf(contentType: string | undefined): Date | undefined {
  const match = /;\s*created=([0-9TZ:.-]+)/.exec(contentType ?? '');
  const t = match ? Date.parse(match[1]!) : Number.NaN;
  return Number.isNaN(t) ? undefined : new Date(t);
}

/**
 * How one Key Vault request is cancelled. An operation only its deadline can stop gets the pipeline's own
 * request timeout just after that deadline instead of an AbortSignal: the signal costs an AbortController
 * per call, a wrapping one in the pipeline, and listeners the HTTP client keeps until the body is read,
 * which together were a larger share of a loopback call than the rest of the provider.
 */
function cancellation(a: AttemptContext): {
  abortSignal?: AbortSignal;
  requestOptions?: { timeout: number };
} {
  return a.deadlineOnly ? { requestOptions: { timeout: backstopTimeoutMs(a) } } : { abortSignal: a.signal };
}
