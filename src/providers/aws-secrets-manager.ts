import { randomUUID } from 'node:crypto';
import type {
  BatchGetSecretValueCommandOutput,
  DescribeSecretCommandOutput,
  ListSecretsCommandOutput,
  SecretListEntry,
  SecretsManagerClient,
  SecretValueEntry,
  Tag,
} from '@aws-sdk/client-secrets-manager';
import { BaseStorageProvider, type StoreAttemptOptions } from '../core/base-provider.js';
import { chunk, mapWithConcurrency } from '../core/bulk.js';
import type { EncryptedData } from '../core/crypto.js';
import { decodeCredentialDocument, encodeCredentialDocumentWithin } from '../core/document.js';
import { StorageError, type StorageOperation } from '../core/errors.js';
import type { CredentialId } from '../core/id.js';
import {
  type CredentialFilter,
  type CredentialMetadata,
  filterBoundsCreation,
  matchesFilter,
  metadataForOverwrite,
} from '../core/metadata.js';
import type { AttemptContext } from '../core/operation.js';
import { settingLabel } from '../core/options-schema.js';
import type {
  ProviderCapabilities,
  ProviderHealthFacts,
  StoredCredential,
  VersionProbe,
} from '../core/provider.js';
import { responseBodyLimit } from '../core/response-limit.js';
import { UNDICI_PACKAGE, type UndiciModule } from '../core/undici-exchange.js';
import {
  type AwsSdk,
  createAwsClient,
  resolveAwsCredentials,
  sendUntilStopped,
} from './aws-secrets-manager-client.js';
import { mapAwsError } from './aws-secrets-manager-errors.js';
import {
  AWS_FILTER_VALUE,
  AWS_MAX_NAME_LENGTH,
  AWS_MAX_SECRET_BYTES,
  AwsSecretNames,
  assertAwsTags,
} from './aws-secrets-manager-names.js';
import {
  AWS_SECRETS_MANAGER,
  AWS_SECRETS_MANAGER_OPTIONS,
  AWS_SECRETS_MANAGER_SDK,
  type AwsResolvedOptions,
  type AwsSecretsManagerOptions,
} from './aws-secrets-manager-options.js';
import { checkSharedConfigFiles } from './aws-shared-files.js';

export { type AwsCallContext, mapAwsError } from './aws-secrets-manager-errors.js';
export { AWS_TAG_LIMITS, AwsSecretNames } from './aws-secrets-manager-names.js';
export {
  AWS_DEFAULT_PREFIX,
  AWS_SECRETS_MANAGER,
  AWS_SECRETS_MANAGER_OPTIONS,
  AWS_SECRETS_MANAGER_SDK,
  type AwsSecretsManagerOptions,
} from './aws-secrets-manager-options.js';

const PROVIDER = AWS_SECRETS_MANAGER;
/**
 * Largest ciphertext: its base64 (61,440 bytes) plus the envelope and up to ~3.8 KB of metadata JSON stays
 * within AWS's 65,536-byte SecretString limit. Larger metadata is refused before the request.
 *
 * @example
 * ```ts
 * import { AWS_MAX_CREDENTIAL_SIZE } from 'nebula-credential/aws';
 * console.log(AWS_MAX_CREDENTIAL_SIZE); // 46080
 * ```
 */
export const AWS_MAX_CREDENTIAL_SIZE = 46_080;
const DESCRIPTION_PREFIX = 'nebula-credential; createdAt=';
/** Most secrets one BatchGetSecretValue call carries (the API's limit). */
const BATCH_SIZE = 20;
/** BatchGetSecretValue calls of one `retrieveMany` in flight at once. */
const BATCH_CONCURRENCY = 4;

interface KnownSecret {
  description: string | undefined;
  tags: Record<string, string>;
}

interface CallContext {
  attempt: AttemptContext;
  operation: StorageOperation;
  credentialId?: string | undefined;
}

/**
 * Stores credentials in AWS Secrets Manager, one secret per credential named `<prefix><id>`. The secret's
 * SecretString holds the encrypted value and the metadata (so `retrieve` returns both exactly); the metadata
 * tags (plus `defaultTags`) are also the secret's AWS tags, kept in sync on every store, so `list` filters by
 * tag in the service. The SDK's own retries are off: the core retry policy is the only one.
 *
 * @example
 * ```ts
 * import { AwsSecretsManagerProvider } from 'nebula-credential/aws';
 * import { createMetadata, EncryptionManager } from 'nebula-credential';
 * const provider = new AwsSecretsManagerProvider({ region: 'eu-west-1', defaultTags: { app: 'billing' } });
 * await provider.connect();
 * await provider.store('stripe_key', EncryptionManager.generate().encrypt(Buffer.from('sk_live_x')), createMetadata());
 * console.log(await provider.list({ tags: { app: 'billing' } }));
 * await provider.close();
 * ```
 */
export class AwsSecretsManagerProvider extends BaseStorageProvider<string> {
  /** The provider's name: `'aws-secrets-manager'`. */
  readonly name = PROVIDER;
  /**
   * What this backend allows: ciphertext whose document fits AWS's 64 KiB secret, AWS's tag limit, versions
   * and soft delete (the figures are in docs/providers/aws-secrets-manager.md, Limits).
   */
  readonly capabilities: ProviderCapabilities;
  readonly #names: AwsSecretNames;
  /** Validated options; explicit credentials stay in this private field, out of inspection. */
  readonly #settings: AwsResolvedOptions;
  /** `tls.caFile`, or `AWS_CA_BUNDLE` when the file came from there: how messages name it. */
  readonly #caFileSource: string;
  #sdk: AwsSdk | undefined;
  #client: SecretsManagerClient | undefined;
  /** Names this provider saw existing, with the tags and description last written or read. */
  readonly #known = new Map<string, KnownSecret>();
  /** One idempotency token per operation, shared by its retries (the signal is per operation). */
  readonly #tokens = new WeakMap<object, string>();
  /** The caller may not call BatchGetSecretValue: bulk reads use GetSecretValue per secret. */
  #batchDenied = false;
  /** When the resolved AWS credentials expire (temporary credentials only). */
  #credentialsExpireAt: number | undefined;

  /**
   * Validates `options` (every problem at once, `InvalidConfig`) without any I/O; the SDK loads and the
   * credentials are checked at `connect()`.
   */
  constructor(options: AwsSecretsManagerOptions = {}) {
    const { values: resolved, secrets, origins } = AWS_SECRETS_MANAGER_OPTIONS.resolve(options);
    super({
      name: PROVIDER,
      common: resolved,
      secrets,
      mapError: (error, operation, credentialId) =>
        mapAwsError(error, operation, credentialId, undefined, resolved.clock.now()),
      peers: [AWS_SECRETS_MANAGER_SDK, UNDICI_PACKAGE],
    });
    this.#caFileSource = settingLabel(origins, 'tls.caFile');
    this.#names = new AwsSecretNames(resolved.prefix);
    this.#settings = resolved;
    this.capabilities = {
      maxCredentialSize: AWS_MAX_CREDENTIAL_SIZE,
      // Room for the prefix and up to four "@2" pads (see AwsSecretNames) within 512 characters.
      maxIdBytes: Math.min(255, AWS_MAX_NAME_LENGTH - resolved.prefix.length - 8),
      versioning: true,
      softDelete: !resolved.forceDelete,
      nativeTagFiltering: true,
      createOnly: 'atomic',
      persistent: true,
      maxTags: 50,
    };
  }

  /** The secret name a credential id maps to (prefix included). */
  secretName(id: CredentialId | string): string {
    return this.#names.encode(id, PROVIDER);
  }

  protected override validateId(id: CredentialId): void {
    this.#names.encode(id, PROVIDER);
  }

  /** Checks the tags and the stored size, and encodes the SecretString `storeBackend` writes. */
  protected override prepareStore(
    id: CredentialId,
    data: EncryptedData,
    metadata: CredentialMetadata,
  ): string {
    this.validateId(id);
    assertAwsTags(this.#desiredTags(metadata), { provider: PROVIDER, credentialId: id.value });
    return encodeCredentialDocumentWithin(data, metadata, AWS_MAX_SECRET_BYTES, {
      provider: PROVIDER,
      credentialId: id.value,
      what: 'the secret (base64 ciphertext plus metadata, as stored in SecretString)',
    });
  }

  protected async connectBackend(attempt: AttemptContext): Promise<void> {
    this.#sdk ??= this.peer<AwsSdk>(AWS_SECRETS_MANAGER_SDK.name);
    const sdk = this.#sdk;
    // The client resolves its region, FIPS, retry and defaults modes from the shared files (even with
    // explicit credentials and region), which the SDK reads whole.
    await checkSharedConfigFiles({}, attempt.signal);
    this.#client ??= await createAwsClient(sdk, this.#settings, {
      signal: attempt.signal,
      caFileSource: this.#caFileSource,
      maxResponseBytes: responseBodyLimit(this.capabilities.maxCredentialSize),
      undici: this.peer<UndiciModule>(UNDICI_PACKAGE.name),
    });
    const client = this.#client;
    let region: string;
    try {
      region = await client.config.region();
    } catch (error) {
      throw new StorageError({
        code: 'InvalidConfig',
        message:
          'no AWS region: set the region option, AWS_REGION, or region in the profile of ~/.aws/config',
        provider: PROVIDER,
        operation: 'connect',
        cause: error,
      });
    }
    await resolveAwsCredentials(client, attempt);
    this.#credentialsExpireAt = await credentialExpiry(client);
    try {
      await this.#send(new sdk.ListSecretsCommand({ MaxResults: 1 }), 'ListSecrets', '*', {
        attempt,
        operation: 'connect',
      });
    } catch (error) {
      // Denied ListSecrets still proves the credentials authenticate; the caller may lack only that action.
      if (!(error instanceof StorageError && error.code === 'PermissionDenied')) throw error;
      this.common.logger.debug(
        { provider: PROVIDER, operation: 'connect', region },
        'ListSecrets denied at connect; credentials are valid',
      );
    }
  }

  protected async storeBackend(
    id: CredentialId,
    _prepared: string,
    metadata: CredentialMetadata,
    attempt: AttemptContext,
    options: StoreAttemptOptions<string>,
  ): Promise<CredentialMetadata> {
    const sdk = this.#sdk!;
    const name = this.#names.encode(id, PROVIDER);
    // The value (SecretString) carries the metadata, and PutSecretValue cannot merge into it: the overwrite
    // rule needs the current document, one GetSecretValue (which also tells a new secret from an old one).
    const previous = await this.previousMetadata(id, attempt, options);
    const written = metadataForOverwrite(previous, metadata, options);
    const secretString = options.prepare(written);
    const tags = this.#desiredTags(written);
    const description = `${DESCRIPTION_PREFIX}${written.createdAt.toISOString()}`;
    let token = this.#tokens.get(attempt.stopSignal);
    if (token === undefined) {
      token = randomUUID();
      this.#tokens.set(attempt.stopSignal, token);
    }
    const call: CallContext = { attempt, operation: 'store', credentialId: id.value };
    for (let pass = 0; ; pass++) {
      if (previous === undefined && (options.createOnly || !this.#known.has(name))) {
        try {
          await this.#send(
            new sdk.CreateSecretCommand({
              Name: name,
              SecretString: secretString,
              ClientRequestToken: token,
              Description: description,
              ...(this.#settings.kmsKeyId ? { KmsKeyId: this.#settings.kmsKeyId } : {}),
              ...(Object.keys(tags).length > 0 ? { Tags: toTagList(tags) } : {}),
            }),
            'CreateSecret',
            name,
            call,
          );
          this.#known.set(name, { description, tags });
          return written;
        } catch (error) {
          // ResourceExists: write a new version below. InvalidRequest: scheduled for deletion (checked below).
          if (!isConflict(error)) throw error;
          if (options.createOnly && (error as StorageError).details.backendCode === 'ResourceExistsException')
            throw this.alreadyExists(id, { secretName: name });
        }
      }
      // Kept tags need no tagging call (PutSecretValue keeps the secret's tags); given tags are synced
      // against the secret's actual tags, which DescribeSecret tells when this process does not know them.
      // A create-only write gets here only for a secret scheduled for deletion, which counts as absent.
      const state = options.createOnly
        ? await this.#existingState(id, name, call, { onlyScheduled: true })
        : (this.#known.get(name) ??
          (previous && pass === 0 && options.keepTags
            ? { description: `${DESCRIPTION_PREFIX}${previous.createdAt.toISOString()}`, tags }
            : await this.#existingState(id, name, call)));
      try {
        if (state.description !== description) {
          await this.#send(
            new sdk.UpdateSecretCommand({
              SecretId: name,
              SecretString: secretString,
              ClientRequestToken: token,
              Description: description,
            }),
            'UpdateSecret',
            name,
            call,
          );
        } else {
          await this.#send(
            new sdk.PutSecretValueCommand({
              SecretId: name,
              SecretString: secretString,
              ClientRequestToken: token,
            }),
            'PutSecretValue',
            name,
            call,
          );
        }
      } catch (error) {
        // What this process knew is stale (deleted or scheduled by someone else): look again, once.
        const stale =
          error instanceof StorageError && (error.code === 'NotFound' || error.code === 'Conflict');
        if (!stale) throw error;
        this.#known.delete(name);
        if (pass === 0) continue;
        throw error;
      }
      await this.#syncTags(name, state.tags, tags, call);
      this.#known.set(name, { description, tags });
      return written;
    }
  }

  protected async retrieveBackend(id: CredentialId, attempt: AttemptContext): Promise<StoredCredential> {
    const name = this.#names.encode(id, PROVIDER);
    const call: CallContext = { attempt, operation: 'retrieve', credentialId: id.value };
    let output: { SecretString?: string | undefined; VersionId?: string | undefined };
    try {
      output = await this.#send(
        new this.#sdk!.GetSecretValueCommand({ SecretId: name }),
        'GetSecretValue',
        name,
        call,
      );
    } catch (error) {
      if (error instanceof StorageError && error.code === 'NotFound') this.#known.delete(name);
      if (isConflict(error)) await this.#throwIfScheduled(id, name, call, 'retrieve');
      throw error;
    }
    if (output.SecretString === undefined) {
      throw new StorageError({
        code: 'Corrupted',
        message: `secret ${name} holds a binary value, not a nebula-credential document; it was not written by this library`,
        provider: PROVIDER,
        operation: 'retrieve',
        credentialId: id.value,
      });
    }
    const { data, metadata } = decodeCredentialDocument(output.SecretString, id.value);
    return { data, metadata, version: output.VersionId };
  }

  protected async deleteBackend(id: CredentialId, attempt: AttemptContext): Promise<void> {
    const name = this.#names.encode(id, PROVIDER);
    const call: CallContext = { attempt, operation: 'delete', credentialId: id.value };
    this.#known.delete(name);
    try {
      await this.#send(
        new this.#sdk!.DeleteSecretCommand(
          this.#settings.forceDelete
            ? { SecretId: name, ForceDeleteWithoutRecovery: true }
            : { SecretId: name, RecoveryWindowInDays: this.#settings.recoveryWindowInDays ?? 30 },
        ),
        'DeleteSecret',
        name,
        call,
      );
    } catch (error) {
      // Deleting a secret already scheduled for deletion is done already: delete is idempotent.
      if (isConflict(error)) {
        const described = await this.#describe(name, call);
        if (described.DeletedDate !== undefined) return;
      }
      throw error;
    }
  }

  protected async listBackend(
    filter: CredentialFilter | undefined,
    attempt: AttemptContext,
  ): Promise<string[]> {
    const entries = await this.#listMatching(filter, { attempt, operation: 'list' });
    return entries.map((e) => e.id.value);
  }

  /** The ListSecrets entries (all pages) of this provider's credentials that match `filter`. */
  async #listMatching(
    filter: CredentialFilter | undefined,
    call: CallContext,
  ): Promise<{ id: CredentialId; entry: SecretListEntry }[]> {
    const sdk = this.#sdk!;
    const filters: { Key: 'name' | 'tag-key' | 'tag-value'; Values: string[] }[] = [];
    if (this.#names.prefix && AWS_FILTER_VALUE.test(this.#names.prefix)) {
      filters.push({ Key: 'name', Values: [this.#names.prefix] });
    }
    // The service matches tag keys and values separately and by prefix; one pair narrows the listing,
    // and every pair is then checked exactly below. Filters take ASCII only.
    const pair = Object.entries(filter?.tags ?? {}).find(
      ([k, v]) => AWS_FILTER_VALUE.test(k) && AWS_FILTER_VALUE.test(v),
    );
    if (pair) filters.push({ Key: 'tag-key', Values: [pair[0]] }, { Key: 'tag-value', Values: [pair[1]] });
    const out: { id: CredentialId; entry: SecretListEntry }[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.#send<ListSecretsCommandOutput>(
        new sdk.ListSecretsCommand({
          MaxResults: 100,
          ...(filters.length > 0 ? { Filters: filters } : {}),
          ...(nextToken ? { NextToken: nextToken } : {}),
        }),
        'ListSecrets',
        '*',
        call,
      );
      for (const entry of page.SecretList ?? []) {
        if (entry.Name === undefined || entry.DeletedDate !== undefined) continue;
        const id = this.#names.decode(entry.Name);
        if (!id) continue;
        const tags = fromTagList(entry.Tags);
        this.#known.set(entry.Name, { description: entry.Description, tags });
        // The creation time can cost a GetSecretValue: learn it only for a credential whose tags match.
        if (!matchesFilter({ tags }, { tags: filter?.tags })) continue;
        if (filterBoundsCreation(filter)) {
          const createdAt = new Date(await this.#createdAt(id, entry.Name, entry.Description, call));
          if (!matchesFilter({ tags, createdAt }, filter)) continue;
        }
        out.push({ id, entry });
      }
      nextToken = page.NextToken || undefined;
    } while (nextToken);
    return out;
  }

  protected async existsBackend(id: CredentialId, attempt: AttemptContext): Promise<boolean> {
    const name = this.#names.encode(id, PROVIDER);
    try {
      const described = await this.#describe(name, { attempt, operation: 'exists', credentialId: id.value });
      return described.DeletedDate === undefined;
    } catch (error) {
      if (error instanceof StorageError && error.code === 'NotFound') return false;
      throw error;
    }
  }

  /** DescribeSecret: the AWSCURRENT version id, without reading the value. */
  protected override async describeVersionBackend(
    id: CredentialId,
    attempt: AttemptContext,
  ): Promise<VersionProbe | undefined> {
    const name = this.#names.encode(id, PROVIDER);
    try {
      const described = await this.#describe(name, {
        attempt,
        operation: 'describeVersion',
        credentialId: id.value,
      });
      if (described.DeletedDate !== undefined) return undefined;
      const current = currentVersion(described.VersionIdsToStages);
      return current === undefined ? undefined : { version: current };
    } catch (error) {
      if (error instanceof StorageError && error.code === 'NotFound') return undefined;
      throw error;
    }
  }

  /** ListSecrets pages carry each secret's version stages: one paged call for the whole filter. */
  protected override async listVersionsBackend(
    filter: CredentialFilter | undefined,
    attempt: AttemptContext,
  ): Promise<Map<string, VersionProbe>> {
    const entries = await this.#listMatching(filter, { attempt, operation: 'listVersions' });
    const out = new Map<string, VersionProbe>();
    for (const { id, entry } of entries) {
      const current = currentVersion(entry.SecretVersionsToStages);
      if (current !== undefined) out.set(id.value, { version: current });
    }
    return out;
  }

  /**
   * BatchGetSecretValue, 20 secrets per call, a few calls in parallel; per-secret errors come back in the
   * answer's `Errors` and become that id's result. Without the batch permission, GetSecretValue per id.
   */
  protected override async retrieveManyBackend(
    ids: readonly CredentialId[],
    attempt: AttemptContext,
  ): Promise<Map<string, StoredCredential | StorageError>> {
    const out = new Map<string, StoredCredential | StorageError>();
    const byName = new Map(ids.map((id) => [this.#names.encode(id, PROVIDER), id]));
    const oneByOne: CredentialId[] = [];
    if (this.#batchDenied) oneByOne.push(...ids);
    else {
      const call: CallContext = { attempt, operation: 'retrieveMany' };
      await mapWithConcurrency(chunk([...byName.keys()], BATCH_SIZE), BATCH_CONCURRENCY, async (names) => {
        if (this.#batchDenied) {
          oneByOne.push(...names.map((n) => byName.get(n)!));
          return;
        }
        let page: BatchGetSecretValueCommandOutput;
        try {
          page = await this.#send<BatchGetSecretValueCommandOutput>(
            new this.#sdk!.BatchGetSecretValueCommand({ SecretIdList: names }),
            'BatchGetSecretValue',
            '*',
            call,
          );
        } catch (error) {
          if (!(error instanceof StorageError && error.code === 'PermissionDenied')) throw error;
          this.#batchDenied = true;
          this.common.logger.debug(
            { provider: PROVIDER, operation: 'retrieveMany' },
            'BatchGetSecretValue denied; reading each secret with GetSecretValue',
          );
          oneByOne.push(...names.map((n) => byName.get(n)!));
          return;
        }
        for (const value of page.SecretValues ?? []) {
          const id = value.Name === undefined ? undefined : byName.get(value.Name);
          if (id) out.set(id.value, this.#decodeBatchValue(id, value));
        }
        for (const failure of page.Errors ?? []) {
          const id = failure.SecretId === undefined ? undefined : this.#batchIdOf(failure.SecretId, byName);
          if (!id) continue;
          // A secret scheduled for deletion answers InvalidRequestException: the single read tells it apart.
          if (failure.ErrorCode === 'InvalidRequestException') oneByOne.push(id);
          else {
            out.set(
              id.value,
              mapAwsError(
                {
                  name: failure.ErrorCode ?? 'InternalServiceError',
                  message: failure.Message ?? '',
                  $metadata: {},
                },
                'retrieve',
                id.value,
                { action: 'secretsmanager:GetSecretValue', resource: this.#names.encode(id, PROVIDER) },
              ),
            );
          }
        }
      });
    }
    await this.retrieveEachBackend(oneByOne, attempt, out);
    return out;
  }

  protected override describeHealth(): ProviderHealthFacts {
    const s = this.#settings;
    const now = this.common.clock.now();
    const expiresAt = this.#credentialsExpireAt;
    return {
      credentialSource: s.credentials
        ? 'access key (options)'
        : s.profile
          ? `profile ${s.profile}`
          : 'default credential chain',
      auth: {
        kind: s.credentials ? 'access-key' : 'default-chain',
        ...(expiresAt === undefined ? {} : { expiresAt, ttlMs: Math.max(0, expiresAt - now) }),
      },
      ...(s.region ? { region: s.region } : {}),
      ...(s.endpoint ? { endpoint: s.endpoint } : {}),
    };
  }

  #decodeBatchValue(id: CredentialId, value: SecretValueEntry): StoredCredential | StorageError {
    if (value.SecretString === undefined) {
      return new StorageError({
        code: 'Corrupted',
        message: `secret ${value.Name} holds a binary value, not a nebula-credential document; it was not written by this library`,
        provider: PROVIDER,
        operation: 'retrieve',
        credentialId: id.value,
      });
    }
    try {
      const { data, metadata } = decodeCredentialDocument(value.SecretString, id.value);
      return { data, metadata, version: value.VersionId };
    } catch (error) {
      if (error instanceof StorageError)
        return error.withContext({ provider: PROVIDER, credentialId: id.value });
      throw error;
    }
  }

  /** The id an error entry names: by secret name, or by the ARN AWS may echo instead. */
  #batchIdOf(secretId: string, byName: Map<string, CredentialId>): CredentialId | undefined {
    const direct = byName.get(secretId);
    if (direct) return direct;
    const name = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)-[A-Za-z0-9]{6}$/.exec(secretId)?.[1];
    return name === undefined ? undefined : byName.get(name);
  }

  protected override async closeBackend(): Promise<void> {
    this.#client?.destroy();
    this.#client = undefined;
    this.#known.clear();
  }

  #desiredTags(metadata: CredentialMetadata): Record<string, string> {
    return { ...this.#settings.defaultTags, ...metadata.tags };
  }

  async #send<T>(command: object, action: string, resource: string, call: CallContext): Promise<T> {
    try {
      return await sendUntilStopped<T>(this.#client!, command as { input: object }, call.attempt.stopSignal);
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw mapAwsError(
        error,
        call.operation,
        call.credentialId,
        { action: `secretsmanager:${action}`, resource },
        this.common.clock.now(),
      );
    }
  }

  #describe(name: string, call: CallContext): Promise<DescribeSecretCommandOutput> {
    return this.#send<DescribeSecretCommandOutput>(
      new this.#sdk!.DescribeSecretCommand({ SecretId: name }),
      'DescribeSecret',
      name,
      call,
    ).then((described) => {
      if (described.DeletedDate === undefined) {
        this.#known.set(name, { description: described.Description, tags: fromTagList(described.Tags) });
      } else this.#known.delete(name);
      return described;
    });
  }

  /** Tags and description of an existing secret; restores or refuses one scheduled for deletion. */
  async #existingState(
    id: CredentialId,
    name: string,
    call: CallContext,
    { onlyScheduled = false } = {},
  ): Promise<KnownSecret> {
    const described = await this.#describe(name, call);
    if (onlyScheduled && described.DeletedDate === undefined)
      throw this.alreadyExists(id, { secretName: name });
    if (described.DeletedDate !== undefined) {
      if (!this.#settings.restoreOnStore)
        throw this.#scheduledConflict(id, name, described.DeletedDate, 'store');
      await this.#send(new this.#sdk!.RestoreSecretCommand({ SecretId: name }), 'RestoreSecret', name, call);
      this.common.logger.info(
        { provider: PROVIDER, operation: 'store', credentialId: id.value },
        'restored a secret scheduled for deletion (restoreOnStore)',
      );
    }
    return { description: described.Description, tags: fromTagList(described.Tags) };
  }

  async #throwIfScheduled(id: CredentialId, name: string, call: CallContext, operation: StorageOperation) {
    let described: DescribeSecretCommandOutput;
    try {
      described = await this.#describe(name, call);
    } catch {
      return;
    }
    if (described.DeletedDate === undefined) return;
    throw new StorageError({
      code: 'NotFound',
      message: `credential "${id.value}" was deleted from ${PROVIDER} (recoverable until ${described.DeletedDate.toISOString()})`,
      provider: PROVIDER,
      operation,
      credentialId: id.value,
      details: {
        scheduledForDeletion: true,
        deletionDate: described.DeletedDate.toISOString(),
        secretName: name,
      },
    });
  }

  #scheduledConflict(
    id: CredentialId,
    name: string,
    deletionDate: Date,
    operation: StorageOperation,
  ): StorageError {
    return new StorageError({
      code: 'Conflict',
      message:
        `credential "${id.value}" is scheduled for deletion in ${PROVIDER} until ${deletionDate.toISOString()}, so ` +
        `its name cannot be reused yet: restore it (aws secretsmanager restore-secret --secret-id ${name}), set ` +
        'restoreOnStore: true, or delete it for good with forceDelete',
      provider: PROVIDER,
      operation,
      credentialId: id.value,
      retryable: false,
      details: {
        backendCode: 'InvalidRequestException',
        scheduledForDeletion: true,
        deletionDate: deletionDate.toISOString(),
        secretName: name,
      },
    });
  }

  async #syncTags(
    name: string,
    current: Record<string, string>,
    desired: Record<string, string>,
    call: CallContext,
  ): Promise<void> {
    const changed = Object.entries(desired).filter(([k, v]) => current[k] !== v);
    // Tags under aws: belong to AWS and cannot be removed; every other tag is this library's to manage.
    const removed = Object.keys(current).filter((k) => !Object.hasOwn(desired, k) && !k.startsWith('aws:'));
    if (changed.length > 0) {
      await this.#send(
        new this.#sdk!.TagResourceCommand({
          SecretId: name,
          Tags: changed.map(([Key, Value]) => ({ Key, Value })),
        }),
        'TagResource',
        name,
        call,
      );
    }
    if (removed.length > 0) {
      await this.#send(
        new this.#sdk!.UntagResourceCommand({ SecretId: name, TagKeys: removed }),
        'UntagResource',
        name,
        call,
      );
    }
  }

  async #createdAt(id: CredentialId, name: string, description: string | undefined, call: CallContext) {
    if (description?.startsWith(DESCRIPTION_PREFIX)) {
      const time = Date.parse(description.slice(DESCRIPTION_PREFIX.length));
      if (!Number.isNaN(time)) return time;
    }
    // Written by an older release or edited by hand: read the metadata from the value itself.
    const output = await this.#send<{ SecretString?: string }>(
      new this.#sdk!.GetSecretValueCommand({ SecretId: name }),
      'GetSecretValue',
      name,
      call,
    );
    return decodeCredentialDocument(output.SecretString ?? '', id.value).metadata.createdAt.getTime();
  }
}

/** The id of the version carrying AWSCURRENT. */
function currentVersion(stages: Record<string, string[]> | undefined): string | undefined {
  for (const [version, labels] of Object.entries(stages ?? {}))
    if (labels.includes('AWSCURRENT')) return version;
  return undefined;
}

/** The expiry of temporary credentials the SDK resolved (it memoizes them: no request here). */
async function credentialExpiry(client: SecretsManagerClient): Promise<number | undefined> {
  try {
    const provider = client.config.credentials as unknown as () => Promise<{ expiration?: Date }>;
    const resolved = await provider();
    return resolved.expiration instanceof Date ? resolved.expiration.getTime() : undefined;
  } catch {
    return undefined;
  }
}

function isConflict(error: unknown): boolean {
  return error instanceof StorageError && error.code === 'Conflict';
}

function toTagList(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

function fromTagList(tags: Tag[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}
