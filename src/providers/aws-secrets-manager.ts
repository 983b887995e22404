import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type {
  DescribeSecretCommandOutput,
  ListSecretsCommandOutput,
  SecretsManagerClient,
  SecretsManagerClientConfig,
  Tag,
} from '@aws-sdk/client-secrets-manager';
import { BaseStorageProvider } from '../core/base-provider.js';
import type { EncryptedData } from '../core/crypto.js';
import { decodeCredentialDocument, encodeCredentialDocument } from '../core/document.js';
import { StorageError, type StorageOperation } from '../core/errors.js';
import type { CredentialId } from '../core/id.js';
import { assertWithinSizeLimit } from '../core/limits.js';
import type { CredentialFilter, CredentialMetadata } from '../core/metadata.js';
import type { AttemptContext } from '../core/operation.js';
import { type CommonProviderOptions, OptionsValidator } from '../core/options.js';
import { importOptionalPeer } from '../core/peer.js';
import type { ProviderCapabilities, StoredCredential } from '../core/provider.js';
import { SecretString } from '../core/secret-string.js';
import { mapAwsError } from './aws-secrets-manager-errors.js';
import {
  AWS_FILTER_VALUE,
  AWS_MAX_NAME_LENGTH,
  AWS_MAX_SECRET_BYTES,
  AWS_NAME_CHARSET,
  AwsSecretNames,
  assertAwsTags,
} from './aws-secrets-manager-names.js';

export { type AwsCallContext, mapAwsError } from './aws-secrets-manager-errors.js';
export { AWS_TAG_LIMITS, AwsSecretNames } from './aws-secrets-manager-names.js';

const PROVIDER = 'aws-secrets-manager';
const DEFAULT_PREFIX = 'nebula/credentials/';
/**
 * Largest ciphertext: its base64 (61,440 bytes) plus the envelope and up to ~3.8 KB of metadata JSON stays
 * within AWS's 65,536-byte SecretString limit. Larger metadata is refused before the request.
 */
export const AWS_MAX_CREDENTIAL_SIZE = 46_080;
const DESCRIPTION_PREFIX = 'nebula-credential; createdAt=';
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

type Sdk = typeof import('@aws-sdk/client-secrets-manager');

/**
 * Options of {@link AwsSecretsManagerProvider}.
 *
 * @example
 * ```ts
 * const options: AwsSecretsManagerOptions = {
 *   region: 'eu-west-1',
 *   prefix: 'payments/credentials/',
 *   kmsKeyId: 'alias/payments-secrets',
 *   defaultTags: { team: 'payments' },
 *   recoveryWindowInDays: 7,
 * };
 * ```
 */
export interface AwsSecretsManagerOptions extends CommonProviderOptions {
  /** AWS region, e.g. `eu-west-1`. @default the SDK's resolution: `AWS_REGION`, then the profile's `region` */
  region?: string | undefined;
  /**
   * Endpoint URL, for VPC interface endpoints or an emulator. `http://` is accepted for loopback hosts only.
   * @default the regional public endpoint (`AWS_ENDPOINT_URL_SECRETS_MANAGER` is honoured by the SDK)
   */
  endpoint?: string | undefined;
  /** Text put before every secret name (AWS name characters only). @default `nebula/credentials/` */
  prefix?: string | undefined;
  /** KMS key (id, ARN or alias) used when a secret is created. @default the account's `aws/secretsmanager` key */
  kmsKeyId?: string | undefined;
  /** Tags put on every secret besides the credential's own (which win on a clash). @default `{}` */
  defaultTags?: Record<string, string> | undefined;
  /**
   * Explicit credentials; without them the SDK's default chain applies (environment, shared config and
   * credentials files with `profile`, web identity, SSO, container and instance metadata).
   * @default the default provider chain
   */
  credentials?:
    | {
        accessKeyId: string;
        secretAccessKey: string | SecretString;
        sessionToken?: string | SecretString | undefined;
      }
    | undefined;
  /** Profile of the shared config/credentials files for the default chain. @default `AWS_PROFILE`, then `default` */
  profile?: string | undefined;
  /** PEM file of the CA bundle to trust instead of Node's roots. @default `AWS_CA_BUNDLE` when set, else Node's roots */
  caCertPath?: string | undefined;
  /** PEM text of the CA bundle (alternative to `caCertPath`). @default none */
  caCertPem?: string | undefined;
  /** Days a deleted credential stays recoverable (7 to 30). @default 30 (AWS's default) */
  recoveryWindowInDays?: number | undefined;
  /** Delete immediately, without a recovery window. @default false */
  forceDelete?: boolean | undefined;
  /**
   * When `store` meets a secret scheduled for deletion under the same name, restore it and write the new
   * value instead of failing with `Conflict`. @default false
   */
  restoreOnStore?: boolean | undefined;
}

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
export class AwsSecretsManagerProvider extends BaseStorageProvider {
  readonly name = PROVIDER;
  readonly capabilities: ProviderCapabilities;
  readonly #names: AwsSecretNames;
  readonly #settings: {
    region: string | undefined;
    endpoint: string | undefined;
    kmsKeyId: string | undefined;
    defaultTags: Record<string, string>;
    profile: string | undefined;
    caCertPath: string | undefined;
    caCertPem: string | undefined;
    recoveryWindowInDays: number;
    forceDelete: boolean;
    restoreOnStore: boolean;
  };
  readonly #credentials:
    | { accessKeyId: string; secretAccessKey: SecretString; sessionToken: SecretString | undefined }
    | undefined;
  #sdk: Sdk | undefined;
  #client: SecretsManagerClient | undefined;
  /** Names this provider saw existing, with the tags and description last written or read. */
  readonly #known = new Map<string, KnownSecret>();
  /** The document encoded by the pre-check, reused by the store that follows it. */
  readonly #documents = new WeakMap<EncryptedData, { metadata: CredentialMetadata; text: string }>();
  /** One idempotency token per operation, shared by its retries (the signal is per operation). */
  readonly #tokens = new WeakMap<AbortSignal, string>();

  constructor(options: AwsSecretsManagerOptions = {}) {
    const v = new OptionsValidator(PROVIDER, options);
    v.noUnknownKeys([
      'region',
      'endpoint',
      'prefix',
      'kmsKeyId',
      'defaultTags',
      'credentials',
      'profile',
      'caCertPath',
      'caCertPem',
      'recoveryWindowInDays',
      'forceDelete',
      'restoreOnStore',
    ]);
    const region = v.string('region', {
      nonEmpty: true,
      pattern: /^[a-z]{2,4}(-[a-z0-9]+)+-\d+$/,
      rule: 'an AWS region such as eu-west-1',
    });
    const endpoint = v.string('endpoint', { nonEmpty: true });
    if (endpoint !== undefined) checkEndpoint(v, endpoint);
    const prefix =
      v.string('prefix', {
        maxLength: 256,
        pattern: AWS_NAME_CHARSET,
        rule: 'made of the characters AWS allows in secret names: letters, digits and / _ + = . @ -',
      }) ?? DEFAULT_PREFIX;
    const kmsKeyId = v.string('kmsKeyId', { nonEmpty: true, maxLength: 2048 });
    const defaultTags = v.stringMap('defaultTags') ?? {};
    try {
      assertAwsTags(defaultTags, { provider: PROVIDER });
    } catch (error) {
      for (const problem of ((error as StorageError).details['problems'] as string[] | undefined) ?? []) {
        v.add('defaultTags', problem);
      }
    }
    const credentials = readCredentials(v);
    const profile = v.string('profile', { nonEmpty: true });
    const caCertPath = v.string('caCertPath', { nonEmpty: true });
    const caCertPem = v.string('caCertPem', { nonEmpty: true });
    if (caCertPath !== undefined && caCertPem !== undefined) {
      v.add('caCertPem', 'give either caCertPath or caCertPem, not both');
    }
    if (credentials !== undefined && profile !== undefined) {
      v.add('profile', 'a profile applies to the default chain only; drop it or drop credentials');
    }
    const window = v.number('recoveryWindowInDays', { min: 7, max: 30, integer: true });
    const forceDelete = v.boolean('forceDelete') ?? false;
    if (forceDelete && window !== undefined) {
      v.add(
        'forceDelete',
        'forceDelete deletes without a recovery window; drop recoveryWindowInDays or forceDelete',
      );
    }
    const restoreOnStore = v.boolean('restoreOnStore') ?? false;
    const common = v.common();
    v.throwIfInvalid();
    super(PROVIDER, common, (error, operation, credentialId) => mapAwsError(error, operation, credentialId));
    this.#names = new AwsSecretNames(prefix);
    this.#credentials = credentials;
    this.#settings = {
      region,
      endpoint,
      kmsKeyId,
      defaultTags: { ...defaultTags },
      profile,
      caCertPath,
      caCertPem,
      recoveryWindowInDays: window ?? 30,
      forceDelete,
      restoreOnStore,
    };
    this.capabilities = {
      maxCredentialSize: AWS_MAX_CREDENTIAL_SIZE,
      // Room for the prefix and up to four "@2" pads (see AwsSecretNames) within 512 characters.
      maxIdBytes: Math.min(255, AWS_MAX_NAME_LENGTH - prefix.length - 8),
      versioning: true,
      softDelete: !forceDelete,
      nativeTagFiltering: true,
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

  protected override validateStore(
    id: CredentialId,
    data: EncryptedData,
    metadata: CredentialMetadata,
  ): void {
    this.validateId(id);
    assertAwsTags(this.#desiredTags(metadata), { provider: PROVIDER, credentialId: id.value });
    assertWithinSizeLimit(
      Buffer.byteLength(this.#document(data, metadata, true), 'utf8'),
      AWS_MAX_SECRET_BYTES,
      {
        provider: PROVIDER,
        credentialId: id.value,
        what: 'the secret (base64 ciphertext plus metadata, as stored in SecretString)',
      },
    );
  }

  protected async connectBackend(attempt: AttemptContext): Promise<void> {
    this.#sdk ??= await importOptionalPeer(
      PROVIDER,
      '@aws-sdk/client-secrets-manager@^3.700.0',
      () => import('@aws-sdk/client-secrets-manager'),
    );
    const sdk = this.#sdk;
    this.#client ??= await this.#createClient(sdk);
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
    await this.#resolveCredentials(client, attempt);
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
    data: EncryptedData,
    metadata: CredentialMetadata,
    attempt: AttemptContext,
  ): Promise<void> {
    const sdk = this.#sdk!;
    const name = this.#names.encode(id, PROVIDER);
    const secretString = this.#document(data, metadata);
    const tags = this.#desiredTags(metadata);
    const description = `${DESCRIPTION_PREFIX}${metadata.createdAt.toISOString()}`;
    let token = this.#tokens.get(attempt.signal);
    if (token === undefined) {
      token = randomUUID();
      this.#tokens.set(attempt.signal, token);
    }
    const call: CallContext = { attempt, operation: 'store', credentialId: id.value };
    for (let pass = 0; ; pass++) {
      if (!this.#known.has(name)) {
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
          return;
        } catch (error) {
          // ResourceExists: write a new version below. InvalidRequest: scheduled for deletion (checked below).
          if (!isConflict(error)) throw error;
        }
      }
      const state = this.#known.get(name) ?? (await this.#existingState(id, name, call));
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
        this.#known.delete(name);
        if (stale && pass === 0) continue;
        throw error;
      }
      await this.#syncTags(name, state.tags, tags, call);
      this.#known.set(name, { description, tags });
      return;
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
            : { SecretId: name, RecoveryWindowInDays: this.#settings.recoveryWindowInDays },
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
    const sdk = this.#sdk!;
    const call: CallContext = { attempt, operation: 'list' };
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
    const ids: string[] = [];
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
        if (!Object.entries(filter?.tags ?? {}).every(([k, v]) => Object.hasOwn(tags, k) && tags[k] === v)) {
          continue;
        }
        if (filter?.createdAfter || filter?.createdBefore) {
          const created = await this.#createdAt(id, entry.Name, entry.Description, call);
          if (filter.createdAfter && created < filter.createdAfter.getTime()) continue;
          if (filter.createdBefore && created > filter.createdBefore.getTime()) continue;
        }
        ids.push(id.value);
      }
      nextToken = page.NextToken || undefined;
    } while (nextToken);
    return ids;
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

  protected override async closeBackend(): Promise<void> {
    this.#client?.destroy();
    this.#client = undefined;
    this.#known.clear();
  }

  /** Encodes the document; `keep` leaves it for the store of the same call (taken once, never reused later). */
  #document(data: EncryptedData, metadata: CredentialMetadata, keep = false): string {
    const cached = this.#documents.get(data);
    this.#documents.delete(data);
    if (cached?.metadata === metadata && !keep) return cached.text;
    const text = encodeCredentialDocument(data, metadata);
    if (keep) this.#documents.set(data, { metadata, text });
    return text;
  }

  #desiredTags(metadata: CredentialMetadata): Record<string, string> {
    return { ...this.#settings.defaultTags, ...metadata.tags };
  }

  async #createClient(sdk: Sdk): Promise<SecretsManagerClient> {
    const ca = await this.#caBundle();
    const { timeouts } = this.common;
    const config: SecretsManagerClientConfig = {
      // The core RetryPolicy is the only retry layer: one SDK attempt per core attempt.
      maxAttempts: 1,
      requestHandler: {
        httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 50, ...(ca ? { ca } : {}) }),
        httpAgent: new http.Agent({ keepAlive: true, maxSockets: 50 }),
        connectionTimeout: timeouts.connectMs,
      },
      ...(this.#settings.region ? { region: this.#settings.region } : {}),
      ...(this.#settings.endpoint ? { endpoint: this.#settings.endpoint } : {}),
      ...(this.#settings.profile ? { profile: this.#settings.profile } : {}),
    };
    const explicit = this.#credentials;
    if (explicit) {
      config.credentials = async () => ({
        accessKeyId: explicit.accessKeyId,
        secretAccessKey: explicit.secretAccessKey.expose(),
        ...(explicit.sessionToken ? { sessionToken: explicit.sessionToken.expose() } : {}),
      });
    }
    try {
      return new sdk.SecretsManagerClient(config);
    } catch (error) {
      throw new StorageError({
        code: 'InvalidConfig',
        message: 'the AWS SDK refused the client configuration (region, endpoint or profile)',
        provider: PROVIDER,
        operation: 'connect',
        cause: error,
      });
    }
  }

  async #caBundle(): Promise<string | undefined> {
    if (this.#settings.caCertPem) return this.#settings.caCertPem;
    const path = this.#settings.caCertPath ?? process.env['AWS_CA_BUNDLE'];
    if (!path) return undefined;
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      throw new StorageError({
        code: 'InvalidConfig',
        message: `cannot read the CA bundle ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'}); fix caCertPath or AWS_CA_BUNDLE`,
        provider: PROVIDER,
        operation: 'connect',
        details: { issues: [{ path: 'caCertPath', message: 'file cannot be read' }] },
        cause: error,
      });
    }
  }

  /** Resolves the credential chain within the connect deadline, so a slow metadata probe fails fast. */
  async #resolveCredentials(client: SecretsManagerClient, attempt: AttemptContext): Promise<void> {
    const provider = client.config.credentials as unknown as () => Promise<unknown>;
    const budget = Math.max(50, attempt.remainingMs() - 300);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new StorageError({
              code: 'AuthenticationFailed',
              message: `no AWS credentials resolved within ${budget} ms: set credentials, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile (instance metadata did not answer)`,
              provider: PROVIDER,
              operation: 'connect',
              details: { durationMs: budget },
            }),
          ),
        budget,
      );
      timer.unref?.();
    });
    try {
      await Promise.race([provider(), timeout]);
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw new StorageError({
        code: 'AuthenticationFailed',
        message:
          'no AWS credentials found: set credentials in the options, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a profile in the shared credentials file (AWS_PROFILE)',
        provider: PROVIDER,
        operation: 'connect',
        details: { backendCode: (error as { name?: string } | null)?.name ?? 'CredentialsProviderError' },
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async #send<T>(command: object, action: string, resource: string, call: CallContext): Promise<T> {
    try {
      return (await this.#client!.send(command as never, { abortSignal: call.attempt.signal })) as T;
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw mapAwsError(error, call.operation, call.credentialId, {
        action: `secretsmanager:${action}`,
        resource,
      });
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
  async #existingState(id: CredentialId, name: string, call: CallContext): Promise<KnownSecret> {
    const described = await this.#describe(name, call);
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

function checkEndpoint(v: OptionsValidator, endpoint: string): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    v.add('endpoint', 'must be a URL such as https://secretsmanager.eu-west-1.amazonaws.com');
    return;
  }
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return;
  v.add(
    'endpoint',
    url.protocol === 'http:'
      ? 'plain http is accepted for loopback emulators only; use https (a private CA goes in caCertPath)'
      : 'must use https',
  );
}

function readCredentials(
  v: OptionsValidator,
):
  | { accessKeyId: string; secretAccessKey: SecretString; sessionToken: SecretString | undefined }
  | undefined {
  const raw = v.get('credentials');
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null) {
    v.add('credentials', 'must be an object with accessKeyId and secretAccessKey');
    return undefined;
  }
  const accessKeyId = v.string('credentials.accessKeyId', {
    required: true,
    pattern: /^[A-Z0-9]{16,128}$/,
    rule: 'an access key id such as AKIA...',
  });
  const secret = (raw as Record<string, unknown>)['secretAccessKey'];
  const token = (raw as Record<string, unknown>)['sessionToken'];
  const asSecret = (value: unknown, path: string, required: boolean): SecretString | undefined => {
    if (value instanceof SecretString) return value;
    if (typeof value === 'string' && value.length > 0) return new SecretString(value);
    if (value !== undefined || required) v.add(path, 'must be a non-empty string or SecretString');
    return undefined;
  };
  const secretAccessKey = asSecret(secret, 'credentials.secretAccessKey', true);
  const sessionToken = asSecret(token, 'credentials.sessionToken', false);
  for (const key of Object.keys(raw)) {
    if (!['accessKeyId', 'secretAccessKey', 'sessionToken'].includes(key))
      v.add(`credentials.${key}`, 'unknown option');
  }
  if (accessKeyId === undefined || secretAccessKey === undefined) return undefined;
  return { accessKeyId, secretAccessKey, sessionToken };
}
