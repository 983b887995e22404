import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../../core/clock.js';

interface SecretVersion {
  id: string;
  stages: Set<string>;
  string?: string | undefined;
  binary?: Buffer | undefined;
  created: number;
}

interface Secret {
  arn: string;
  name: string;
  description?: string | undefined;
  kmsKeyId?: string | undefined;
  tags: { Key: string; Value: string }[];
  versions: Map<string, SecretVersion>;
  created: number;
  lastChanged: number;
  lastAccessed?: number | undefined;
  deletedDate?: number | undefined;
}

/**
 * An AWS error answer: the `__type` code, the message and the HTTP status.
 *
 * @example
 * ```ts
 * throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
 * ```
 */
export class AwsError extends Error {
  /** The AWS error code (`ResourceNotFoundException`, `AccessDeniedException`, ...), sent as `__type`. */
  readonly code: string;
  /** The HTTP status of the answer. */
  readonly status: number;

  /** An error answer with AWS's `code`, `message` and HTTP `status` (400 by default). */
  constructor(code: string, message: string, status = 400) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const TAG_PATTERN = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const FILTER_VALUE_PATTERN = /^!?[a-zA-Z0-9 :_@/+=.\-!]*$/;
const FILTER_KEYS = new Set([
  'description',
  'name',
  'tag-key',
  'tag-value',
  'primary-region',
  'owning-service',
  'all',
]);
const MAX_SECRET_BYTES = 65_536;
const MAX_VERSIONS = 100;

/** The actions a Secrets Manager call needs (the IAM action is the operation name). */
/**
 * The operations the emulator implements.
 *
 * @example
 * ```ts
 * console.log(OPERATIONS.includes('GetSecretValue')); // true
 * ```
 */
export const OPERATIONS = [
  'CreateSecret',
  'PutSecretValue',
  'GetSecretValue',
  'DescribeSecret',
  'UpdateSecret',
  'ListSecrets',
  'DeleteSecret',
  'RestoreSecret',
  'TagResource',
  'UntagResource',
  'ListSecretVersionIds',
] as const;
/**
 * One Secrets Manager operation (also its IAM action name after `secretsmanager:`).
 *
 * @example
 * ```ts
 * const op: Operation = 'PutSecretValue';
 * ```
 */
export type Operation = (typeof OPERATIONS)[number];

const seconds = (ms: number) => ms / 1000;

/**
 * The state and semantics of one emulated Secrets Manager account and region: secrets, versions and their
 * stages, idempotency tokens, deletion windows, tags, pagination and filters. Transport, signatures and
 * permissions live in {@link AwsSecretsManagerEmulator}.
 *
 * @example
 * ```ts
 * import { systemClock } from 'nebula-credential';
 * import { SecretsManagerService } from 'nebula-credential/testing';
 * const service = new SecretsManagerService({ region: 'us-east-1', accountId: '123456789012', clock: systemClock });
 * service.dispatch('CreateSecret', { Name: 'app/db', SecretString: 'x' });
 * ```
 */
export class SecretsManagerService {
  /** The region in ARNs and signatures. */
  readonly region: string;
  /** The account id in ARNs. */
  readonly accountId: string;
  /** Stamps creation, change and deletion times, and decides when a recovery window has passed. */
  readonly clock: Clock;
  readonly #secrets = new Map<string, Secret>();

  /** An empty service for one region and account. */
  constructor(options: { region: string; accountId: string; clock: Clock }) {
    this.region = options.region;
    this.accountId = options.accountId;
    this.clock = options.clock;
  }

  /** Names of all secrets, scheduled-for-deletion ones included. */
  names(): string[] {
    this.purgeExpired();
    return [...this.#secrets.keys()].sort();
  }

  /** A copy of a secret's tags, or undefined when there is no such secret. */
  tagsOf(name: string): Record<string, string> | undefined {
    const secret = this.#secrets.get(name);
    return secret ? Object.fromEntries(secret.tags.map((t) => [t.Key, t.Value])) : undefined;
  }

  /** Number of versions a secret holds (deprecated ones included). */
  versionCount(name: string): number | undefined {
    return this.#secrets.get(name)?.versions.size;
  }

  /** The ARN of the secret a SecretId (name, ARN or partial ARN) names, if it exists. */
  arnOf(secretId: string): string | undefined {
    return this.#find(secretId)?.arn;
  }

  /** Carries out one operation; throws {@link AwsError} with AWS's code and message. */
  dispatch(operation: Operation, input: Record<string, unknown>): unknown {
    switch (operation) {
      case 'CreateSecret':
        return this.#create(input);
      case 'PutSecretValue':
        return this.#putValue(input);
      case 'GetSecretValue':
        return this.#getValue(input);
      case 'DescribeSecret':
        return this.#describe(input);
      case 'UpdateSecret':
        return this.#update(input);
      case 'ListSecrets':
        return this.#list(input);
      case 'DeleteSecret':
        return this.#delete(input);
      case 'RestoreSecret':
        return this.#restore(input);
      case 'TagResource':
        return this.#tag(input);
      case 'UntagResource':
        return this.#untag(input);
      case 'ListSecretVersionIds':
        return this.#listVersions(input);
    }
  }

  /** Forgets secrets whose deletion date has passed on the service clock. */
  purgeExpired(): void {
    const now = this.clock.now();
    for (const [name, secret] of this.#secrets) {
      if (secret.deletedDate !== undefined && secret.deletedDate <= now) this.#secrets.delete(name);
    }
  }

  #find(secretId: string): Secret | undefined {
    const byName = this.#secrets.get(secretId);
    if (byName) return byName;
    for (const secret of this.#secrets.values()) {
      // Full ARN, or partial ARN (without the 6-character suffix AWS appends).
      if (secret.arn === secretId || secret.arn.slice(0, -7) === secretId) return secret;
    }
    return undefined;
  }

  #require(input: Record<string, unknown>, options: { allowDeleted?: boolean } = {}): Secret {
    const id = input['SecretId'];
    if (typeof id !== 'string' || id.length === 0 || id.length > 2048) {
      throw new AwsError('InvalidParameterException', 'You must provide a valid SecretId.');
    }
    const secret = this.#find(id);
    if (!secret)
      throw new AwsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    if (secret.deletedDate !== undefined && !options.allowDeleted) {
      throw new AwsError(
        'InvalidRequestException',
        "You can't perform this operation on the secret because it was marked for deletion.",
      );
    }
    return secret;
  }

  #token(input: Record<string, unknown>): string {
    const token = input['ClientRequestToken'];
    if (token === undefined) return randomUUID();
    if (typeof token !== 'string' || token.length < 32 || token.length > 64) {
      throw new AwsError(
        'InvalidParameterException',
        'ClientRequestToken must be between 32 and 64 characters long.',
      );
    }
    return token;
  }

  #value(input: Record<string, unknown>): { string?: string; binary?: Buffer } | undefined {
    const s = input['SecretString'];
    const b = input['SecretBinary'];
    if (s !== undefined && b !== undefined) {
      throw new AwsError(
        'InvalidParameterException',
        'You can provide either SecretString or SecretBinary in a request, but not both.',
      );
    }
    if (s !== undefined) {
      if (typeof s !== 'string')
        throw new AwsError('SerializationException', 'SecretString must be a string.');
      if (Buffer.byteLength(s, 'utf8') > MAX_SECRET_BYTES) {
        throw new AwsError('InvalidParameterException', 'SecretString must not exceed 65536 bytes.');
      }
      return { string: s };
    }
    if (b !== undefined) {
      if (typeof b !== 'string') throw new AwsError('SerializationException', 'SecretBinary must be base64.');
      const binary = Buffer.from(b, 'base64');
      if (binary.length > MAX_SECRET_BYTES) {
        throw new AwsError('InvalidParameterException', 'SecretBinary must not exceed 65536 bytes.');
      }
      return { binary };
    }
    return undefined;
  }

  #validateTags(tags: unknown): { Key: string; Value: string }[] {
    if (tags === undefined) return [];
    if (!Array.isArray(tags)) throw new AwsError('SerializationException', 'Tags must be a list.');
    for (const tag of tags as { Key?: unknown; Value?: unknown }[]) {
      const { Key: key, Value: value } = tag;
      if (typeof key !== 'string' || key.length < 1 || key.length > 128 || !TAG_PATTERN.test(key)) {
        throw new AwsError('ValidationException', 'Tag keys must be 1 to 128 allowed characters.');
      }
      if (typeof value !== 'string' || value.length > 256 || !TAG_PATTERN.test(value)) {
        throw new AwsError('ValidationException', 'Tag values must be 0 to 256 allowed characters.');
      }
      if (key.toLowerCase().startsWith('aws:')) {
        throw new AwsError('InvalidParameterException', 'Tag keys starting with "aws:" are reserved.');
      }
    }
    return (tags as { Key: string; Value: string }[]).map((t) => ({ Key: t.Key, Value: t.Value }));
  }

  #mergeTags(secret: Secret, tags: { Key: string; Value: string }[]): void {
    const merged = new Map(secret.tags.map((t) => [t.Key, t.Value]));
    for (const t of tags) merged.set(t.Key, t.Value);
    if (merged.size > 50) {
      throw new AwsError('InvalidParameterException', 'A resource can have at most 50 tags.');
    }
    secret.tags = [...merged].map(([Key, Value]) => ({ Key, Value }));
  }

  /**
   * Adds a version carrying AWSCURRENT (or the given stages), moving AWSCURRENT's old holder to AWSPREVIOUS.
   */
  #addVersion(
    secret: Secret,
    id: string,
    value: { string?: string; binary?: Buffer },
    stages: readonly string[] = ['AWSCURRENT'],
  ): SecretVersion {
    const now = this.clock.now();
    const version: SecretVersion = { id, stages: new Set(), created: now, ...value };
    for (const stage of stages) {
      const holder = [...secret.versions.values()].find((v) => v.stages.has(stage));
      holder?.stages.delete(stage);
      if (stage === 'AWSCURRENT' && holder) {
        for (const v of secret.versions.values()) v.stages.delete('AWSPREVIOUS');
        holder.stages.add('AWSPREVIOUS');
      }
      version.stages.add(stage);
    }
    secret.versions.set(id, version);
    const stale = [...secret.versions.values()].filter((v) => v.stages.size === 0);
    for (const v of stale.slice(0, Math.max(0, secret.versions.size - MAX_VERSIONS)))
      secret.versions.delete(v.id);
    secret.lastChanged = now;
    return version;
  }

  /**
   * Same token and same value: the earlier version (the retry is a no-op); same token, other value: error.
   */
  #existingVersion(
    secret: Secret,
    token: string,
    value: { string?: string; binary?: Buffer } | undefined,
  ): SecretVersion | undefined {
    const existing = secret.versions.get(token);
    if (!existing) return undefined;
    const same =
      value !== undefined &&
      existing.string === value.string &&
      (existing.binary === undefined) === (value.binary === undefined) &&
      (existing.binary === undefined || existing.binary.equals(value.binary!));
    if (!same) {
      throw new AwsError(
        'ResourceExistsException',
        "You can't modify an existing version, you can only create a new version.",
      );
    }
    return existing;
  }

  #create(input: Record<string, unknown>): unknown {
    const name = input['Name'];
    if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
      throw new AwsError(
        'InvalidParameterException',
        'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      );
    }
    const token = this.#token(input);
    const value = this.#value(input);
    const tags = this.#validateTags(input['Tags']);
    if (tags.length > 50)
      throw new AwsError('InvalidParameterException', 'A resource can have at most 50 tags.');
    const existing = this.#secrets.get(name);
    if (existing) {
      if (existing.deletedDate !== undefined) {
        throw new AwsError(
          'InvalidRequestException',
          "You can't create this secret because a secret with this name is already scheduled for deletion.",
        );
      }
      const same = this.#existingVersion(existing, token, value);
      if (same) return { ARN: existing.arn, Name: existing.name, VersionId: same.id, ReplicationStatus: [] };
      throw new AwsError(
        'ResourceExistsException',
        `The operation failed because the secret ${name} already exists.`,
      );
    }
    const now = this.clock.now();
    const secret: Secret = {
      arn: `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${name}-${randomSuffix()}`,
      name,
      description: typeof input['Description'] === 'string' ? input['Description'] : undefined,
      kmsKeyId: typeof input['KmsKeyId'] === 'string' ? input['KmsKeyId'] : undefined,
      tags,
      versions: new Map(),
      created: now,
      lastChanged: now,
    };
    this.#secrets.set(name, secret);
    const version = value ? this.#addVersion(secret, token, value) : undefined;
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(version ? { VersionId: version.id } : {}),
      ReplicationStatus: [],
    };
  }

  #putValue(input: Record<string, unknown>): unknown {
    const secret = this.#require(input);
    const token = this.#token(input);
    const value = this.#value(input);
    if (!value)
      throw new AwsError(
        'InvalidParameterException',
        'You must provide either SecretString or SecretBinary.',
      );
    const stages = input['VersionStages'];
    const existing = this.#existingVersion(secret, token, value);
    const version =
      existing ??
      this.#addVersion(
        secret,
        token,
        value,
        Array.isArray(stages) && stages.length > 0 ? (stages as string[]) : ['AWSCURRENT'],
      );
    return { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: [...version.stages] };
  }

  #getValue(input: Record<string, unknown>): unknown {
    const secret = this.#require(input);
    const versionId = input['VersionId'];
    const stage = input['VersionStage'];
    let version: SecretVersion | undefined;
    if (typeof versionId === 'string') {
      version = secret.versions.get(versionId);
      if (version && typeof stage === 'string' && !version.stages.has(stage)) {
        throw new AwsError(
          'InvalidRequestException',
          'You provided a VersionStage that is not attached to the version you specified.',
        );
      }
    } else {
      const wanted = typeof stage === 'string' ? stage : 'AWSCURRENT';
      version = [...secret.versions.values()].find((v) => v.stages.has(wanted));
    }
    if (!version) {
      throw new AwsError(
        'ResourceNotFoundException',
        `Secrets Manager can't find the specified secret value for ${typeof versionId === 'string' ? `VersionId: ${versionId}` : `staging label: ${typeof stage === 'string' ? stage : 'AWSCURRENT'}`}`,
      );
    }
    // AWS records access by day.
    const now = this.clock.now();
    secret.lastAccessed = now - (now % 86_400_000);
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      ...(version.string !== undefined ? { SecretString: version.string } : {}),
      ...(version.binary !== undefined ? { SecretBinary: version.binary.toString('base64') } : {}),
      VersionStages: [...version.stages],
      CreatedDate: seconds(version.created),
    };
  }

  #entry(secret: Secret): Record<string, unknown> {
    const stages = Object.fromEntries(
      [...secret.versions.values()].filter((v) => v.stages.size > 0).map((v) => [v.id, [...v.stages]]),
    );
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(secret.description !== undefined ? { Description: secret.description } : {}),
      ...(secret.kmsKeyId !== undefined ? { KmsKeyId: secret.kmsKeyId } : {}),
      LastChangedDate: seconds(secret.lastChanged),
      ...(secret.lastAccessed !== undefined ? { LastAccessedDate: seconds(secret.lastAccessed) } : {}),
      ...(secret.deletedDate !== undefined ? { DeletedDate: seconds(secret.deletedDate) } : {}),
      ...(secret.tags.length > 0 ? { Tags: secret.tags.map((t) => ({ ...t })) } : {}),
      CreatedDate: seconds(secret.created),
      stages,
    };
  }

  #describe(input: Record<string, unknown>): unknown {
    const { stages, ...entry } = this.#entry(this.#require(input, { allowDeleted: true }));
    return { ...entry, VersionIdsToStages: stages };
  }

  #update(input: Record<string, unknown>): unknown {
    const secret = this.#require(input);
    const token = this.#token(input);
    const value = this.#value(input);
    if (typeof input['Description'] === 'string') secret.description = input['Description'];
    if (typeof input['KmsKeyId'] === 'string') secret.kmsKeyId = input['KmsKeyId'];
    let version: SecretVersion | undefined;
    if (value)
      version = this.#existingVersion(secret, token, value) ?? this.#addVersion(secret, token, value);
    secret.lastChanged = this.clock.now();
    return { ARN: secret.arn, Name: secret.name, ...(version ? { VersionId: version.id } : {}) };
  }

  #list(input: Record<string, unknown>): unknown {
    const max = input['MaxResults'];
    if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 100)) {
      throw new AwsError('InvalidParameterException', 'MaxResults must be between 1 and 100.');
    }
    const pageSize = typeof max === 'number' ? max : 100;
    const filters = this.#filters(input['Filters']);
    const includeDeleted = input['IncludePlannedDeletion'] === true;
    const descending = input['SortOrder'] === 'desc';
    const matching = [...this.#secrets.values()]
      .filter((s) => includeDeleted || s.deletedDate === undefined)
      .filter((s) => filters.every((f) => f(s)))
      .sort((a, b) => a.created - b.created || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (descending) matching.reverse();
    const fingerprint = JSON.stringify([input['Filters'] ?? null, includeDeleted, descending]);
    let start = 0;
    const next = input['NextToken'];
    if (next !== undefined) {
      try {
        const decoded = JSON.parse(Buffer.from(String(next), 'base64').toString('utf8')) as [number, string];
        if (decoded[1] !== fingerprint || !Number.isInteger(decoded[0])) throw new Error('mismatch');
        start = decoded[0];
      } catch {
        throw new AwsError('InvalidNextTokenException', 'The NextToken value is invalid.');
      }
    }
    const page = matching.slice(start, start + pageSize);
    const end = start + page.length;
    return {
      SecretList: page.map((s) => {
        const { stages, ...entry } = this.#entry(s);
        return { ...entry, SecretVersionsToStages: stages };
      }),
      ...(end < matching.length
        ? { NextToken: Buffer.from(JSON.stringify([end, fingerprint])).toString('base64') }
        : {}),
    };
  }

  #filters(raw: unknown): ((s: Secret) => boolean)[] {
    if (raw === undefined) return [];
    if (!Array.isArray(raw) || raw.length > 10) {
      throw new AwsError('InvalidParameterException', 'Filters must be a list of at most 10 filters.');
    }
    return (raw as { Key?: unknown; Values?: unknown }[]).map((filter) => {
      const key = filter.Key;
      const values = filter.Values;
      if (typeof key !== 'string' || !FILTER_KEYS.has(key)) {
        throw new AwsError('ValidationException', `Invalid filter key: ${String(key)}`);
      }
      if (
        !Array.isArray(values) ||
        values.length < 1 ||
        values.length > 10 ||
        values.some((v) => typeof v !== 'string' || v.length > 512 || !FILTER_VALUE_PATTERN.test(v))
      ) {
        throw new AwsError(
          'InvalidParameterException',
          'Filter values must be 1 to 10 strings of letters, digits, spaces and :_@/+=.-! (at most 512 characters).',
        );
      }
      // Values of one filter are OR-ed and a leading "!" negates; only description and all ignore case.
      const insensitive = key === 'description' || key === 'all';
      const test = (candidates: (string | undefined)[]) =>
        (values as string[]).some((value) => {
          const negate = value.startsWith('!');
          const needle = negate ? value.slice(1) : value;
          const hit = candidates.some((c) => {
            if (c === undefined) return false;
            if (key === 'all') {
              const words = c.toLowerCase().split(/[\s/_.:=+@-]+/);
              return needle
                .toLowerCase()
                .split(/\s+/)
                .every((w) => words.some((word) => word.startsWith(w)));
            }
            return insensitive ? c.toLowerCase().startsWith(needle.toLowerCase()) : c.startsWith(needle);
          });
          return negate ? !hit : hit;
        });
      return (s: Secret) => {
        switch (key) {
          case 'name':
            return test([s.name]);
          case 'description':
            return test([s.description]);
          case 'tag-key':
            return test(s.tags.map((t) => t.Key));
          case 'tag-value':
            return test(s.tags.map((t) => t.Value));
          case 'primary-region':
          case 'owning-service':
            return test([]);
          default:
            return test([s.name, s.description, ...s.tags.flatMap((t) => [t.Key, t.Value])]);
        }
      };
    });
  }

  #delete(input: Record<string, unknown>): unknown {
    const secret = this.#require(input, { allowDeleted: true });
    const window = input['RecoveryWindowInDays'];
    const force = input['ForceDeleteWithoutRecovery'] === true;
    if (force && window !== undefined) {
      throw new AwsError(
        'InvalidParameterException',
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
      );
    }
    if (
      window !== undefined &&
      (typeof window !== 'number' || !Number.isInteger(window) || window < 7 || window > 30)
    ) {
      throw new AwsError(
        'InvalidParameterException',
        'RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
      );
    }
    const now = this.clock.now();
    if (force) {
      this.#secrets.delete(secret.name);
      return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(now) };
    }
    if (secret.deletedDate !== undefined) {
      throw new AwsError(
        'InvalidRequestException',
        "You can't perform this operation on the secret because it was already scheduled for deletion.",
      );
    }
    secret.deletedDate = now + (typeof window === 'number' ? window : 30) * 86_400_000;
    return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(secret.deletedDate) };
  }

  #restore(input: Record<string, unknown>): unknown {
    const secret = this.#require(input, { allowDeleted: true });
    secret.deletedDate = undefined;
    return { ARN: secret.arn, Name: secret.name };
  }

  #tag(input: Record<string, unknown>): unknown {
    const secret = this.#require(input);
    const tags = this.#validateTags(input['Tags']);
    this.#mergeTags(secret, tags);
    return {};
  }

  #untag(input: Record<string, unknown>): unknown {
    const secret = this.#require(input);
    const keys = input['TagKeys'];
    if (!Array.isArray(keys)) throw new AwsError('InvalidParameterException', 'TagKeys must be a list.');
    secret.tags = secret.tags.filter((t) => !keys.includes(t.Key));
    return {};
  }

  #listVersions(input: Record<string, unknown>): unknown {
    const secret = this.#require(input, { allowDeleted: true });
    const include = input['IncludeDeprecated'] === true;
    return {
      ARN: secret.arn,
      Name: secret.name,
      Versions: [...secret.versions.values()]
        .filter((v) => include || v.stages.size > 0)
        .map((v) => ({ VersionId: v.id, VersionStages: [...v.stages], CreatedDate: seconds(v.created) })),
    };
  }
}

function randomSuffix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return Array.from(randomBytes(6), (b) => alphabet[b % alphabet.length]).join('');
}
