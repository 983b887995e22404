import { type Agent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import type { Dispatcher } from 'undici';
import { BaseStorageProvider, type StoreAttemptOptions } from '../core/base-provider.js';
import type { EncryptedData } from '../core/crypto.js';
import { decodeCredentialDocument, encodeCredentialDocument } from '../core/document.js';
import { StorageError, type StorageOperation } from '../core/errors.js';
import type { CredentialId } from '../core/id.js';
import { setBounded } from '../core/known-records.js';
import { assertWithinSizeLimit } from '../core/limits.js';
import {
  type CredentialFilter,
  type CredentialMetadata,
  matchesFilter,
  metadataForOverwrite,
  validateMetadata,
} from '../core/metadata.js';
import { decodeCredentialName, encodeCredentialName } from '../core/name-mapping.js';
import type { AttemptContext } from '../core/operation.js';
import type {
  ChangeFeed,
  ChangeObservation,
  ChangeSink,
  ChangeTarget,
  ProviderCapabilities,
  ProviderHealthFacts,
  StoredCredential,
  StoreOptions,
  VersionProbe,
} from '../core/provider.js';
import { readBoundedBody, responseBodyLimit } from '../core/response-limit.js';
import { UNDICI_PACKAGE, type UndiciModule } from '../core/undici-exchange.js';
import { type KubeAccess, resolveKubeAccess } from './kubernetes-secrets-auth.js';
import type { KubeCredential } from './kubernetes-secrets-credential.js';
import { kubeFailure, mapKubeError } from './kubernetes-secrets-errors.js';
import { boundedKubeHttpLibrary, undiciOptionsLike } from './kubernetes-secrets-http.js';
import {
  ANNOTATIONS,
  annotatedMetadata,
  annotationBytes,
  jsonPointerToken,
  KUBE_LIMITS,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  metadataAnnotations,
  readAnnotations,
  tagLabels,
  tagSelector,
} from './kubernetes-secrets-objects.js';
import {
  KUBERNETES,
  KUBERNETES_OPTIONS,
  KUBERNETES_SDK,
  type KubernetesSecretsOptions,
  type ResolvedKubernetesOptions,
} from './kubernetes-secrets-options.js';
import { KubernetesChangeFeed, type WatchedSecret } from './kubernetes-secrets-watch.js';

export { EXEC_OUTPUT_LIMITS } from './kubernetes-secrets-exec-run.js';
export {
  ANNOTATIONS,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  TAG_LABEL_PREFIX,
} from './kubernetes-secrets-objects.js';
export { OIDC_RESPONSE_LIMIT } from './kubernetes-secrets-oidc.js';
export {
  KUBERNETES,
  KUBERNETES_OPTIONS,
  KUBERNETES_SDK,
  type KubernetesSecretsOptions,
} from './kubernetes-secrets-options.js';

const PROVIDER_NAME = KUBERNETES;
/**
 * Room kept in the 1 MiB data limit for the document's envelope and ordinary metadata; the ciphertext is
 * base64 inside the JSON document, so 4/3 of its size counts.
 */
const ENVELOPE_RESERVE = 16 * 1024;
const MAX_CIPHERTEXT = Math.floor((KUBE_LIMITS.dataBytes - ENVELOPE_RESERVE) / 4) * 3;
/** Optimistic-concurrency rounds within one attempt before giving up with Conflict. */
const CONFLICT_ROUNDS = 8;
/** RFC 6902 JSON patch: unlike a merge patch it carries `test` guards the API server checks. */
const JSON_PATCH = 'application/json-patch+json';

type Sdk = typeof import('@kubernetes/client-node');
type CallOptions = Parameters<CoreV1Api['readNamespacedSecret']>[1];

/**
 * The Secret a store writes, in the fields this provider sets (a structural subset of the client's
 * `V1Secret`, so the public declarations do not need the client installed).
 */
export interface SecretBody {
  apiVersion: 'v1';
  kind: 'Secret';
  type: 'Opaque';
  metadata: {
    name: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    resourceVersion?: string;
  };
  data: Record<string, string>;
}

interface Connection {
  sdk: Sdk;
  api: CoreV1Api;
  access: KubeAccess;
}

/**
 * Stores each credential as one Opaque Secret (`nebula-<encoded id>`) in a namespace, through
 * `@kubernetes/client-node`. Tags become labels (sanitized, for selection) and annotations (exact); every
 * Secret carries `app.kubernetes.io/managed-by: nebula-credential`, and Secrets without it are never
 * overwritten or deleted.
 *
 * @example
 * ```ts
 * import { KubernetesSecretsProvider } from 'nebula-credential/kubernetes';
 * import { EncryptionManager, createMetadata } from 'nebula-credential';
 * const provider = new KubernetesSecretsProvider({ namespace: 'apps' });
 * await provider.connect();
 * await provider.store('db_password', EncryptionManager.generate().encrypt(Buffer.from('s3cret')), createMetadata());
 * console.log(await provider.list());
 * await provider.close();
 * ```
 */
export class KubernetesSecretsProvider extends BaseStorageProvider<SecretBody> {
  /** The provider's name: `'kubernetes'`. */
  readonly name = PROVIDER_NAME;
  /**
   * What this backend allows: ciphertext whose document fits a 1 MiB Secret, names of 253 characters with the
   * prefix; no versions, no soft delete (docs/providers/kubernetes-secrets.md, Limits).
   */
  readonly capabilities: ProviderCapabilities;
  readonly #options: ResolvedKubernetesOptions;
  #connection: Connection | undefined;
  /** Per agent, the undici dispatcher that connects as it does (undefined: keep the agent). */
  readonly #dispatchers = new Map<Agent, Dispatcher | undefined>();
  /**
   * The resourceVersion this provider last read or wrote per credential, beside the base's `known`
   * metadata: with both, an overwrite is one update carrying its own concurrency check (a stale version is
   * refused by the API server with 409, and the write falls back to reading).
   */
  readonly #versions = new Map<string, string>();
  /** The role may not `patch` Secrets: a fresh process's overwrite reads and replaces instead. */
  #patchDenied = false;

  /**
   * Validates `options` (every problem at once, `InvalidConfig`) without any I/O; the kubeconfig or service
   * account is read at `connect()`.
   */
  constructor(options: KubernetesSecretsOptions = {}) {
    const { values: o, secrets } = KUBERNETES_OPTIONS.resolve(options);
    super({
      name: PROVIDER_NAME,
      common: o,
      secrets,
      peers: [KUBERNETES_SDK, UNDICI_PACKAGE],
    });
    this.#options = o;
    this.capabilities = {
      maxCredentialSize: MAX_CIPHERTEXT,
      maxIdBytes: KUBE_LIMITS.nameLength - o.prefix.length,
      versioning: false,
      softDelete: false,
      nativeTagFiltering: true,
      createOnly: 'atomic',
      persistent: true,
    };
  }

  /** The namespace in use (known after `connect()`). */
  get namespace(): string | undefined {
    return this.#connection?.access.namespace ?? this.#options.namespace;
  }

  /** The Secret name a credential id maps to. */
  secretName(id: CredentialId | string): string {
    return encodeCredentialName(id, 'lowercase-dns', {
      prefix: this.#options.prefix,
      maxLength: KUBE_LIMITS.nameLength,
      alphanumericEnd: true,
      provider: PROVIDER_NAME,
    });
  }

  protected override validateId(id: CredentialId): void {
    this.secretName(id);
  }

  /** Builds the Secret `storeBackend` writes and checks its data and annotation sizes. */
  protected override prepareStore(
    id: CredentialId,
    data: EncryptedData,
    metadata: CredentialMetadata,
  ): SecretBody {
    const body = this.#secretBody(id, data, metadata);
    const context = { provider: PROVIDER_NAME, credentialId: id.value };
    const dataBytes = Buffer.from(body.data[this.#options.dataKey]!, 'base64').length;
    assertWithinSizeLimit(dataBytes, KUBE_LIMITS.dataBytes, {
      ...context,
      what: 'encoded credential document',
    });
    assertWithinSizeLimit(annotationBytes(body.metadata.annotations), KUBE_LIMITS.annotationBytes, {
      ...context,
      what: 'metadata annotations',
    });
    return body;
  }

  protected async connectBackend(attempt: AttemptContext): Promise<void> {
    if (!this.#connection) {
      const sdk = this.peer<Sdk>(KUBERNETES_SDK.name);
      const access = await resolveKubeAccess(sdk, this.#options, attempt.signal);
      this.#connection = { sdk, api: access.kubeConfig.makeApiClient(sdk.CoreV1Api), access };
    }
    const { access } = this.#connection;
    if (access.token) await access.token.reload(this.common.clock.now(), attempt.signal);
    // The plugin runs (or the id-token is refreshed) at connect, under its deadline, as the token file is read.
    if (access.credentials) await access.credentials.current(attempt.signal);
    // One cheap authorized call proves the server, TLS and credentials. A 403 still proves authentication
    // (RBAC may grant only some verbs), so only 401, TLS and network failures fail connect().
    try {
      await this.#call('connect', 'list', undefined, attempt, (api, options) =>
        api.listNamespacedSecret(
          { namespace: access.namespace, limit: 1, labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` },
          options,
        ),
      );
    } catch (error) {
      if (!(error instanceof StorageError && error.code === 'PermissionDenied')) throw error;
      this.common.logger.debug(
        { provider: PROVIDER_NAME, namespace: access.namespace },
        'connect: listing secrets is not allowed; continuing (other verbs may be)',
      );
    }
  }

  protected async storeBackend(
    id: CredentialId,
    _prepared: SecretBody,
    metadata: CredentialMetadata,
    attempt: AttemptContext,
    options: StoreAttemptOptions<SecretBody>,
  ): Promise<CredentialMetadata> {
    const namespace = this.#namespace();
    let name = '';
    // One read tells create from replace and gives the current document (the overwrite rule needs its
    // metadata) and resourceVersion, so the write is a create or an update carrying its own concurrency check.
    for (let round = 0; round < CONFLICT_ROUNDS; round++) {
      // First round: what this provider just read or wrote of the Secret stands in for the read; the
      // update's resourceVersion (or the create's "already exists") tells when that is out of date.
      // A create-only write reads nothing: the create itself refuses an existing Secret (409).
      const known = options.createOnly
        ? ({ present: false } as const)
        : round === 0
          ? this.#knownState(id, options)
          : undefined;
      let current: { resourceVersion: string; metadata: CredentialMetadata | undefined } | undefined;
      let readDenied: StorageError | undefined;
      let missing = false;
      // The patch keeps createdAt (and whatever else it leaves alone) by not touching it: it serves every
      // overwrite but one that removes a rotation policy, which a JSON patch cannot do only if present.
      const patchable =
        !options.exactMetadata && (options.keepRotationPolicy || metadata.rotationPolicy !== undefined);
      if (!known && round === 0 && patchable) {
        const patched = await this.#patchValue(id, options.prepare(metadata), metadata, options, attempt);
        if (patched === 'missing') missing = true;
        else if (patched) {
          this.#rememberVersion(id, patched);
          return this.#decode(patched, id).metadata;
        }
      }
      if (known || missing) {
        current = known?.present ? known : undefined;
      } else {
        try {
          const secret = await this.#read(id, 'store', attempt);
          if (secret) {
            this.#assertManaged(secret, id, 'store');
            current = {
              resourceVersion: secret.metadata?.resourceVersion ?? '',
              metadata: this.#currentMetadata(secret, id),
            };
          }
        } catch (error) {
          // A create-only role (no get) still stores new credentials, as before the read was needed.
          if (!(error instanceof StorageError && error.code === 'PermissionDenied')) throw error;
          readDenied = error;
        }
      }
      const written = metadataForOverwrite(current?.metadata, metadata, options);
      const body = options.prepare(written);
      name = body.metadata.name;
      try {
        const answer = !current
          ? await this.#call('store', 'create', id, attempt, (api, o) =>
              api.createNamespacedSecret({ namespace, body }, o),
            )
          : await this.#call('store', 'update', id, attempt, (api, o) =>
              api.replaceNamespacedSecret(
                {
                  name,
                  namespace,
                  body: { ...body, metadata: { ...body.metadata, resourceVersion: current.resourceVersion } },
                },
                o,
              ),
            );
        this.#rememberVersion(id, answer);
        return written;
      } catch (error) {
        this.#versions.delete(id.value);
        if (options.createOnly && error instanceof StorageError && error.code === 'Conflict')
          throw this.alreadyExists(id, { namespace, secretName: name });
        if (readDenied && error instanceof StorageError && error.code === 'Conflict') throw readDenied;
        if (!(error instanceof StorageError && (error.code === 'Conflict' || error.code === 'NotFound')))
          throw error;
      }
    }
    throw new StorageError({
      code: 'Conflict',
      message: `Secret "${name}" kept changing during ${CONFLICT_ROUNDS} attempts to replace it; try again`,
      provider: PROVIDER_NAME,
      operation: 'store',
      credentialId: id.value,
      details: { namespace, secretName: name },
    });
  }

  protected async retrieveBackend(id: CredentialId, attempt: AttemptContext): Promise<StoredCredential> {
    const secret = await this.#read(id, 'retrieve', attempt);
    if (!secret) throw this.notFound(id);
    this.#assertManaged(secret, id, 'retrieve');
    const stored = this.#stored(secret, id);
    this.#rememberVersion(id, secret);
    return stored;
  }

  /** What stands in for the store's read: the base's remembered metadata with a remembered resourceVersion. */
  #knownState(
    id: CredentialId,
    options: StoreAttemptOptions<SecretBody>,
  ):
    | { present: true; resourceVersion: string; metadata: CredentialMetadata | undefined }
    | { present: false }
    | undefined {
    const known = this.known.get(id.value);
    if (!known) return undefined;
    if (!known.present) return { present: false };
    const resourceVersion = this.#versions.get(id.value);
    if (resourceVersion === undefined) return undefined;
    return { present: true, resourceVersion, metadata: options.exactMetadata ? undefined : known.metadata };
  }

  #rememberVersion(id: CredentialId, secret: V1Secret | undefined): void {
    const version = secret?.metadata?.resourceVersion;
    if (!version) this.#versions.delete(id.value);
    else setBounded(this.#versions, id.value, version);
  }

  /** The stored document of one of our Secrets, with its resourceVersion as the version. */
  #stored(secret: V1Secret, id: CredentialId): StoredCredential {
    const { data, metadata } = this.#decode(secret, id);
    return { data, metadata, version: secret.metadata?.resourceVersion };
  }

  /** The metadata of a Secret being replaced (undefined when unreadable: the write repairs it). */
  #currentMetadata(secret: V1Secret, id: CredentialId): CredentialMetadata | undefined {
    try {
      return this.#decode(secret, id).metadata;
    } catch (error) {
      if (error instanceof StorageError && error.code === 'Corrupted') return undefined;
      throw error;
    }
  }

  #decode(secret: V1Secret, id: CredentialId): { data: EncryptedData; metadata: CredentialMetadata } {
    const encoded = secret.data?.[this.#options.dataKey];
    if (encoded === undefined) {
      throw new StorageError({
        code: 'Corrupted',
        message: `Secret "${secret.metadata?.name}" has no "${this.#options.dataKey}" data key`,
        provider: PROVIDER_NAME,
        operation: 'retrieve',
        credentialId: id.value,
      });
    }
    const decoded = decodeCredentialDocument(Buffer.from(encoded, 'base64'), id.value);
    const annotated = annotatedMetadata(secret.metadata?.annotations);
    if (!annotated) return decoded;
    try {
      validateMetadata(annotated, PROVIDER_NAME);
    } catch {
      // Annotations edited by hand into something invalid: the document's own copy stands.
      return decoded;
    }
    return { data: decoded.data, metadata: annotated };
  }

  /**
   * A fresh process's overwrite that keeps tags and rotation policy, in one request: a JSON patch of the
   * value and `last-modified` only, so the annotations keep the metadata this process has not read. Its
   * guards make the API server refuse (422) a Secret that is not this credential's or lacks the metadata
   * annotations (`move` of an absent key fails), and the write then takes the read-and-replace path.
   * Resolves to the patched Secret, `'missing'` on a 404 (a new id), or undefined when the read path must
   * decide.
   */
  async #patchValue(
    id: CredentialId,
    body: SecretBody,
    metadata: CredentialMetadata,
    options: StoreOptions,
    attempt: AttemptContext,
  ): Promise<V1Secret | 'missing' | undefined> {
    if (this.#patchDenied) return undefined;
    const annotation = (key: string) => `/metadata/annotations/${jsonPointerToken(key)}`;
    const guard = (key: string) => ({ op: 'move', from: annotation(key), path: annotation(key) });
    const ops: object[] = [
      {
        op: 'test',
        path: `/metadata/labels/${jsonPointerToken(MANAGED_BY_LABEL)}`,
        value: MANAGED_BY_VALUE,
      },
      { op: 'test', path: annotation(ANNOTATIONS.id), value: id.value },
      guard(ANNOTATIONS.tags),
      guard(ANNOTATIONS.createdAt),
      guard(ANNOTATIONS.lastModified),
      {
        op: 'add',
        path: `/data/${jsonPointerToken(this.#options.dataKey)}`,
        value: body.data[this.#options.dataKey],
      },
      { op: 'add', path: annotation(ANNOTATIONS.lastModified), value: metadata.lastModified.toISOString() },
    ];
    if (!options.keepTags) {
      // Given tags replace the old ones, and their label mirrors with them: the whole label set is ours (the
      // managed-by label and the tags), as the replacing PUT of the read path writes it.
      ops.push(
        { op: 'replace', path: '/metadata/labels', value: body.metadata.labels },
        { op: 'add', path: annotation(ANNOTATIONS.tags), value: body.metadata.annotations[ANNOTATIONS.tags] },
      );
    }
    if (!options.keepRotationPolicy) {
      ops.push({
        op: 'add',
        path: annotation(ANNOTATIONS.rotationDays),
        value: body.metadata.annotations[ANNOTATIONS.rotationDays],
      });
    }
    if (metadata.lastAccessed) {
      ops.push({
        op: 'add',
        path: annotation(ANNOTATIONS.lastAccessed),
        value: metadata.lastAccessed.toISOString(),
      });
    }
    try {
      return await this.#call(
        'store',
        'patch',
        id,
        attempt,
        (api, o) =>
          api.patchNamespacedSecret({ name: body.metadata.name, namespace: this.#namespace(), body: ops }, o),
        JSON_PATCH,
      );
    } catch (error) {
      if (!(error instanceof StorageError)) throw error;
      if (error.code === 'NotFound') return 'missing';
      // Refused guards (422) or a role without `patch`: the read-and-replace path decides.
      if (error.code === 'PermissionDenied') {
        this.#patchDenied = true;
        return undefined;
      }
      if (error.code === 'InvalidMetadata') return undefined;
      throw error;
    }
  }

  protected async deleteBackend(id: CredentialId, attempt: AttemptContext): Promise<void> {
    const namespace = this.#namespace();
    for (let round = 0; round < CONFLICT_ROUNDS; round++) {
      const current = await this.#read(id, 'delete', attempt);
      if (!current) return;
      this.#assertManaged(current, id, 'delete');
      // Preconditions make sure the Secret checked above is the one deleted.
      const body = {
        preconditions: {
          uid: current.metadata?.uid ?? '',
          resourceVersion: current.metadata?.resourceVersion ?? '',
        },
      };
      try {
        await this.#call('delete', 'delete', id, attempt, (api, o) =>
          api.deleteNamespacedSecret({ name: current.metadata!.name!, namespace, body }, o),
        );
        return;
      } catch (error) {
        if (!(error instanceof StorageError && error.code === 'Conflict')) throw error;
      }
    }
    throw new StorageError({
      code: 'Conflict',
      message: `Secret "${this.secretName(id)}" kept changing while deleting it; try again`,
      provider: PROVIDER_NAME,
      operation: 'delete',
      credentialId: id.value,
    });
  }

  protected async listBackend(
    filter: CredentialFilter | undefined,
    attempt: AttemptContext,
  ): Promise<string[]> {
    const { items } = await this.#listSecrets(this.#selector(filter), 'list', attempt);
    const ids: string[] = [];
    for (const secret of items) {
      const id = this.#matching(secret, filter);
      if (id) ids.push(id.value);
    }
    return ids;
  }

  /** Every Secret a label selector picks (all pages), and the list's resourceVersion. */
  async #listSecrets(
    labelSelector: string,
    operation: StorageOperation,
    attempt: AttemptContext,
    fieldSelector?: string,
  ): Promise<{ items: V1Secret[]; resourceVersion: string }> {
    const namespace = this.#namespace();
    const items: V1Secret[] = [];
    let token: string | undefined;
    let resourceVersion = '';
    do {
      const continueToken = token;
      const page = await this.#call(operation, 'list', undefined, attempt, (api, o) =>
        api.listNamespacedSecret(
          {
            namespace,
            labelSelector,
            ...(fieldSelector ? { fieldSelector } : {}),
            limit: this.#options.listPageSize,
            ...(continueToken ? { _continue: continueToken } : {}),
          },
          o,
        ),
      );
      items.push(...page.items);
      // The first page's version is the list's: later pages are served from the same snapshot.
      resourceVersion ||= page.metadata?.resourceVersion ?? '';
      token = page.metadata?._continue || undefined;
    } while (token);
    return { items, resourceVersion };
  }

  /** The label selector for a filter: our label, plus the tags that are valid labels (to narrow only). */
  #selector(filter: CredentialFilter | undefined): string {
    return [`${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`, ...tagSelector(filter?.tags)].join(',');
  }

  /** The id of a listed Secret when it is ours and matches `filter` exactly (annotations hold exact tags). */
  #matching(secret: V1Secret, filter: CredentialFilter | undefined): CredentialId | undefined {
    const id = this.#idOfName(secret.metadata?.name ?? '');
    if (!id || secret.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) return undefined;
    const facts = readAnnotations(secret.metadata?.annotations) ?? this.#factsFromData(secret);
    if (!facts) return undefined;
    const probe: CredentialMetadata = {
      createdAt: facts.createdAt,
      lastModified: facts.createdAt,
      tags: facts.tags,
    };
    return matchesFilter(probe, filter) ? id : undefined;
  }

  #idOfName(name: string): CredentialId | undefined {
    return decodeCredentialName(name, 'lowercase-dns', {
      prefix: this.#options.prefix,
      alphanumericEnd: true,
    });
  }

  protected async existsBackend(id: CredentialId, attempt: AttemptContext): Promise<boolean> {
    const secret = await this.#read(id, 'exists', attempt);
    return secret !== undefined && secret.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
  }

  /** One GET: the resourceVersion is the signal, and the Secret it returns refreshes a cache as well. */
  protected override async describeVersionBackend(
    id: CredentialId,
    attempt: AttemptContext,
  ): Promise<VersionProbe | undefined> {
    const secret = await this.#read(id, 'describeVersion', attempt);
    if (!secret) return undefined;
    this.#assertManaged(secret, id, 'describeVersion');
    const stored = this.#stored(secret, id);
    return { version: stored.version ?? '', stored };
  }

  /** One labelled list (all pages): every match with its resourceVersion and document. */
  protected override async listVersionsBackend(
    filter: CredentialFilter | undefined,
    attempt: AttemptContext,
  ): Promise<Map<string, VersionProbe>> {
    const { items } = await this.#listSecrets(this.#selector(filter), 'listVersions', attempt);
    const out = new Map<string, VersionProbe>();
    for (const secret of items) {
      const observation = this.#observation(secret, filter);
      if (observation?.version !== undefined) {
        out.set(observation.id, { version: observation.version, stored: observation.stored });
      }
    }
    return out;
  }

  /**
   * One labelled list call (paged) for the whole batch instead of a GET per id; ids missing from it are
   * `NotFound`. Where listing is forbidden (RBAC granting only `get`), one GET per id.
   */
  protected override async retrieveManyBackend(
    ids: readonly CredentialId[],
    attempt: AttemptContext,
  ): Promise<Map<string, StoredCredential | StorageError>> {
    const out = new Map<string, StoredCredential | StorageError>();
    const wanted = new Map(ids.map((id) => [this.secretName(id), id]));
    let items: V1Secret[] | undefined;
    if (ids.length > 1) {
      try {
        items = (await this.#listSecrets(this.#selector(undefined), 'retrieveMany', attempt)).items;
      } catch (error) {
        if (!(error instanceof StorageError && error.code === 'PermissionDenied')) throw error;
      }
    }
    if (items === undefined) {
      await this.retrieveEachBackend(ids, attempt, out);
      return out;
    }
    for (const secret of items) {
      const id = wanted.get(secret.metadata?.name ?? '');
      if (!id) continue;
      try {
        out.set(id.value, this.#stored(secret, id));
      } catch (error) {
        if (!(error instanceof StorageError)) throw error;
        out.set(id.value, error);
      }
    }
    for (const id of ids) if (!out.has(id.value)) out.set(id.value, this.notFound(id));
    return out;
  }

  /** The watch API: list, then `?watch=true` from the list's resourceVersion, resumed and relisted as needed. */
  protected override subscribeChangesBackend(target: ChangeTarget, sink: ChangeSink): ChangeFeed | undefined {
    if (!this.#connection) return undefined;
    const filter = target.kind === 'filter' ? target.filter : undefined;
    const labelSelector = this.#selector(filter);
    const fieldSelector = target.kind === 'id' ? `metadata.name=${this.secretName(target.id)}` : undefined;
    return new KubernetesChangeFeed(
      {
        list: async () => {
          const listed = await this.runner.run('watch', (a) =>
            this.#listSecrets(labelSelector, 'watch', a, fieldSelector),
          );
          return { items: listed.items as WatchedSecret[], resourceVersion: listed.resourceVersion };
        },
        open: (resourceVersion, signal) =>
          this.#openWatch({ labelSelector, fieldSelector, resourceVersion }, signal),
        observe: (secret) => this.#observation(secret as V1Secret, filter),
        idOf: (name) => this.#idOfName(name)?.value,
        maxEventBytes: responseBodyLimit(this.capabilities.maxCredentialSize),
      },
      sink,
      this.common.clock,
    );
  }

  protected override describeHealth(): ProviderHealthFacts {
    const access = this.#connection?.access;
    const token = access?.token;
    const now = this.common.clock.now();
    const credentials = access?.credentials;
    const expiresAt = credentials?.expiresAt;
    return {
      credentialSource:
        access?.source ?? (this.#options.inCluster ? 'in-cluster service account' : 'kubeconfig'),
      auth: {
        kind: token?.kind ?? credentials?.kind ?? 'kubeconfig',
        ...credentials?.healthFacts(),
        ...(expiresAt !== undefined ? { expiresAt, ttlMs: expiresAt - now } : {}),
        ...(token && token.mtimeMs >= 0 ? { tokenFileAgeMs: Math.max(0, Date.now() - token.mtimeMs) } : {}),
        ...(token ? { tokenFile: token.path } : {}),
      },
      ...(this.namespace ? { namespace: this.namespace } : {}),
      checkedAt: now,
    };
  }

  /** A Secret as a change observation, when it is ours and matches the filter. */
  #observation(secret: V1Secret, filter: CredentialFilter | undefined): ChangeObservation | undefined {
    const id = this.#matching(secret, filter);
    if (!id) return undefined;
    let stored: StoredCredential | undefined;
    try {
      stored = this.#stored(secret, id);
    } catch {
      // A corrupted document still has a version: the change is reported, the next read says what is wrong.
    }
    return { id: id.value, state: 'present', version: secret.metadata?.resourceVersion ?? '', stored };
  }

  /** Opens a watch stream with the same server, TLS material and credentials as the API client. */
  async #openWatch(
    query: { labelSelector: string; fieldSelector: string | undefined; resourceVersion: string },
    signal: AbortSignal,
  ): Promise<IncomingMessage> {
    const { access } = this.#connection!;
    const kc = access.kubeConfig;
    const server = kc.getCurrentCluster()?.server ?? '';
    const url = new URL(
      `${server.replace(/\/+$/, '')}/api/v1/namespaces/${encodeURIComponent(access.namespace)}/secrets`,
    );
    url.searchParams.set('watch', 'true');
    url.searchParams.set('allowWatchBookmarks', 'true');
    url.searchParams.set('resourceVersion', query.resourceVersion);
    // Like client-go: a server-side timeout between 5 and 10 minutes, so reconnections spread out.
    url.searchParams.set('timeoutSeconds', String(300 + Math.floor(Math.random() * 300)));
    url.searchParams.set('labelSelector', query.labelSelector);
    if (query.fieldSelector) url.searchParams.set('fieldSelector', query.fieldSelector);
    const options: RequestOptions & { headers: Record<string, string> } = {
      method: 'GET',
      headers: { accept: 'application/json' },
    };
    await kc.applyToHTTPSOptions(options as never);
    // client-node put its own proxy agent (hpagent) here; the watch shares the core tunnel like every call.
    if (kc.getCurrentCluster()?.proxyUrl) options.agent = access.agent;
    if (access.token) {
      options.headers['Authorization'] =
        `Bearer ${(await access.token.current(this.common.clock.now())).expose()}`;
    }
    const credential = access.credentials ? await access.credentials.current(signal) : undefined;
    if (credential) {
      if (credential.token) options.headers['Authorization'] = `Bearer ${credential.token}`;
      // The plugin's client certificate is presented by its own agent; client-node's knows nothing of it.
      if (credential.agent) options.agent = credential.agent;
    }
    const context = {
      provider: PROVIDER_NAME,
      operation: 'watch' as const,
      credentialId: undefined,
      namespace: access.namespace,
      verb: 'watch',
      source: access.source,
    };
    return new Promise<IncomingMessage>((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(url, { ...options, signal }, (res) => {
        if (res.statusCode === 200) {
          resolve(res);
          return;
        }
        // A refusal's body (a Status) is read through the same bound as one Secret.
        readBoundedBody(
          res,
          responseBodyLimit(this.capabilities.maxCredentialSize),
          res.headers['content-length'],
        ).then(
          (body) => {
            const failure = mapKubeError(
              { code: res.statusCode ?? 0, body: body.toString('utf8'), headers: res.headers },
              context,
            );
            if (res.statusCode !== 401) return reject(failure);
            // The feed reopens a failed stream without listing (so without #call's retry): the credential is
            // renewed here, or every reconnection would send a revoked one again until it expires. A failed
            // renewal is the next reconnection's to report; this stream's failure is the 401.
            this.#renewAfter401(credential, signal).then(
              () => reject(failure),
              () => reject(failure),
            );
          },
          (error: unknown) => reject(mapKubeError(error, context)),
        );
      });
      req.on('error', (error) => reject(mapKubeError(error, context)));
      req.end();
    });
  }

  /**
   * After a 401: the token file read again, or the exec plugin run again (as client-go does) or the oidc
   * id-token refreshed. True when that gave a different credential than `used`.
   */
  async #renewAfter401(used: KubeCredential | undefined, signal: AbortSignal): Promise<boolean> {
    const { access } = this.#connection!;
    if (access.token && (await access.token.reload(this.common.clock.now(), signal))) return true;
    if (!used || !access.credentials?.renewable) return false;
    const fresh = await access.credentials.refresh(used, signal);
    return fresh.token !== used.token || fresh.certificate !== used.certificate;
  }

  protected override async closeBackend(): Promise<void> {
    for (const dispatcher of this.#dispatchers.values()) dispatcher?.destroy().catch(() => {});
    this.#dispatchers.clear();
    this.#connection?.access.agent?.destroy();
    this.#connection?.access.token?.dispose();
    this.#connection?.access.credentials?.dispose();
    this.#connection = undefined;
  }

  /**
   * The undici dispatcher for `agent` (made once per agent: the connection's, or an exec plugin's for its
   * current client certificate), or undefined for a tunnel agent. A few are kept; older ones (certificates
   * an exec plugin replaced) are closed.
   */
  #dispatcherLike(agent: Agent): Dispatcher | undefined {
    if (this.#dispatchers.has(agent)) return this.#dispatchers.get(agent);
    const options = undiciOptionsLike(agent, this.#options.maxSockets);
    const dispatcher = options && new (this.peer<UndiciModule>(UNDICI_PACKAGE.name).Agent)(options);
    this.#dispatchers.set(agent, dispatcher);
    if (this.#dispatchers.size > 4) {
      const [oldest, old] = this.#dispatchers.entries().next().value!;
      this.#dispatchers.delete(oldest);
      old?.destroy().catch(() => {});
    }
    return dispatcher;
  }

  #namespace(): string {
    return this.#connection!.access.namespace;
  }

  #secretBody(id: CredentialId, data: EncryptedData, metadata: CredentialMetadata): SecretBody {
    const document = encodeCredentialDocument(data, metadata);
    const body: SecretBody = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: this.secretName(id),
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, ...tagLabels(metadata.tags) },
        annotations: metadataAnnotations(id.value, metadata),
      },
      data: { [this.#options.dataKey]: Buffer.from(document, 'utf8').toString('base64') },
    };
    return body;
  }

  #factsFromData(secret: V1Secret): { tags: Record<string, string>; createdAt: Date } | undefined {
    const encoded = secret.data?.[this.#options.dataKey];
    if (encoded === undefined) return undefined;
    try {
      const { metadata } = decodeCredentialDocument(Buffer.from(encoded, 'base64'));
      return { tags: metadata.tags, createdAt: metadata.createdAt };
    } catch {
      return undefined;
    }
  }

  #assertManaged(secret: V1Secret, id: CredentialId, operation: StorageOperation): void {
    if (secret.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) return;
    throw new StorageError({
      code: 'Conflict',
      message:
        `Secret "${secret.metadata?.name}" in namespace "${this.#namespace()}" exists but is not managed by nebula-credential ` +
        `(no ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE} label); it is left alone: rename one of them or use another prefix`,
      provider: PROVIDER_NAME,
      operation,
      credentialId: id.value,
      retryable: false,
      details: { namespace: this.#namespace(), secretName: secret.metadata?.name },
    });
  }

  async #read(
    id: CredentialId,
    operation: StorageOperation,
    attempt: AttemptContext,
  ): Promise<V1Secret | undefined> {
    try {
      return await this.#call(operation, 'get', id, attempt, (api, o) =>
        api.readNamespacedSecret({ name: this.secretName(id), namespace: this.#namespace() }, o),
      );
    } catch (error) {
      if (error instanceof StorageError && error.code === 'NotFound') return undefined;
      throw error;
    }
  }

  /**
   * One API call over our bounded transport: the deadline reaches the request through the attempt's stop
   * hook, the token is set fresh, and a 401 with a rotated token file or a renewed credential (an exec
   * plugin's, an oidc id-token) is tried once more at once.
   */
  async #call<T>(
    operation: StorageOperation,
    verb: string,
    id: CredentialId | undefined,
    attempt: AttemptContext,
    fn: (api: CoreV1Api, options: CallOptions) => Promise<T>,
    contentType?: string,
  ): Promise<T> {
    const { api, access, sdk } = this.#connection!;
    for (let tryAgain = true; ; tryAgain = false) {
      const credential = access.credentials ? await access.credentials.current(attempt.signal) : undefined;
      const token = access.token
        ? (await access.token.current(this.common.clock.now(), attempt.signal)).expose()
        : credential?.token;
      const agent = credential?.agent ?? access.agent;
      const middleware = perCallMiddleware(token, contentType);
      // A listing page holds whole secrets, up to listPageSize of them; any other answer holds one.
      const perAnswer = verb === 'list' ? this.#options.listPageSize : 1;
      // Every call goes over our transport: an undici dispatcher connecting as the agent does, or the agent
      // itself for a CONNECT tunnel; the attempt's stop hook ends it at the deadline.
      const limit = responseBodyLimit(this.capabilities.maxCredentialSize * perAnswer);
      const dispatcher = this.#dispatcherLike(agent);
      const httpApi = boundedKubeHttpLibrary(sdk, limit, dispatcher ? { dispatcher } : { agent }, attempt);
      try {
        return await fn(api, { middleware: [middleware], httpApi } as unknown as CallOptions);
      } catch (error) {
        // A new credential after a 401 is worth this call's one more try.
        if (
          tryAgain &&
          kubeFailure(error)?.status === 401 &&
          (await this.#renewAfter401(credential, attempt.signal))
        )
          continue;
        throw mapKubeError(error, {
          provider: PROVIDER_NAME,
          operation,
          credentialId: id?.value,
          namespace: access.namespace,
          verb,
          secretName: id ? this.secretName(id) : undefined,
          source: access.source,
          now: this.common.clock.now(),
        });
      }
    }
  }
}

// ObjectCoreV1Api runs middleware as the generated client's minimal Observable: anything with toPromise().
// The agent is not set here: client-node 1.x takes one (setAgent) but 2.x an undici dispatcher instead, and
// our HTTP library, which carries every call, is given it directly.
function perCallMiddleware(token: string | undefined, contentType?: string) {
  const observable = <R>(value: R) => ({ toPromise: () => Promise.resolve(value) });
  return {
    pre: (context: { setHeaderParam(k: string, v: string): void }) => {
      if (token !== undefined) context.setHeaderParam('Authorization', `Bearer ${token}`);
      // Set here, after the generated code picked its default, so each SDK major sends the same patch type.
      if (contentType !== undefined) context.setHeaderParam('Content-Type', contentType);
      return observable(context);
    },
    post: <R>(context: R) => observable(context),
  };
}
