import { randomBytes } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { crc32c } from '../../core/crc32c.js';
import { compileFilter, FilterError, type FilterResolver } from './gcp-filter.js';
import { GcpError } from './gcp-status.js';

// The one in-memory Secret Manager both transports (gRPC and REST) share: secrets, versions, etags, labels,
// annotations, aliases, expiry and delayed destruction, with the service's validation rules and messages.
// Names are resolved here; IAM and authentication are the caller's business (gcp.ts).

/** Replication policy of a secret (immutable after creation). */
export type ReplicationSpec =
  | { automatic: { kmsKeyName?: string | undefined } }
  | { userManaged: { replicas: { location: string; kmsKeyName?: string | undefined }[] } };

/** The writable fields of a secret, as both transports decode them. Absent = not given. */
export interface SecretSpec {
  replication?: ReplicationSpec | undefined;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  /** Absolute expiry (ms since the epoch). */
  expireTime?: number | undefined;
  /** Relative expiry in seconds (input only). */
  ttlSeconds?: number | undefined;
  etag?: string | undefined;
  versionAliases?: Record<string, number> | undefined;
  topics?: string[] | undefined;
  rotation?:
    | { nextRotationTime?: number | undefined; rotationPeriodSeconds?: number | undefined }
    | undefined;
  versionDestroyTtlSeconds?: number | undefined;
  customerManagedEncryption?: { kmsKeyName: string } | undefined;
  /** Input-only resource manager tags; the service accepts them at creation only. */
  tags?: Record<string, string> | undefined;
}

/** State of a secret version (google.cloud.secretmanager.v1.SecretVersion.State). */
export type VersionState = 'ENABLED' | 'DISABLED' | 'DESTROYED';

/** The numbers of {@link VersionState} on the wire. */
export const VERSION_STATE_NUMBERS: Record<VersionState, number> = { ENABLED: 1, DISABLED: 2, DESTROYED: 3 };

export interface VersionRecord {
  number: number;
  createTime: number;
  state: VersionState;
  /** The payload; wiped on destruction. */
  data: Buffer | undefined;
  crc32c: number;
  clientSpecifiedChecksum: boolean;
  etag: string;
  destroyTime?: number | undefined;
  scheduledDestroyTime?: number | undefined;
}

export interface SecretRecord {
  id: string;
  createTime: number;
  replication: ReplicationSpec;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  etag: string;
  expireTime?: number | undefined;
  versionAliases: Record<string, number>;
  topics: string[];
  rotation?:
    | { nextRotationTime?: number | undefined; rotationPeriodSeconds?: number | undefined }
    | undefined;
  versionDestroyTtlSeconds?: number | undefined;
  customerManagedEncryption?: { kmsKeyName: string } | undefined;
  versions: VersionRecord[];
}

/** Paging and filtering of the list calls. */
export interface ListOptions {
  pageSize?: number | undefined;
  pageToken?: string | undefined;
  filter?: string | undefined;
}

export interface Page<T> {
  items: T[];
  nextPageToken: string;
  totalSize: number;
}

/** Limits of the real service (see docs/emulators/gcp.md for where each comes from). */
export const GCP_SECRET_MANAGER_LIMITS = {
  maxPayloadBytes: 65_536,
  maxLabels: 64,
  maxLabelBytes: 128,
  maxAnnotationsBytes: 16_384,
  maxPageSize: 25_000,
  maxVersionAliases: 50,
  maxTopics: 10,
} as const;

const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;
const ANNOTATION_KEY = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const ALIAS = /^[A-Za-z0-9_-]{1,63}$/;
const UPDATABLE = new Set([
  'labels',
  'annotations',
  'expire_time',
  'ttl',
  'topics',
  'rotation',
  'version_aliases',
  'version_destroy_ttl',
]);

const invalid = (message: string) => new GcpError('INVALID_ARGUMENT', message);
const newEtag = () => `"${randomBytes(7).toString('hex')}"`;

/** Options of {@link SecretManagerState}. */
export interface SecretManagerStateOptions {
  projectId: string;
  projectNumber: string;
  clock: Clock;
  /** Page size when a list call gives none (the real default is unspecified). */
  defaultPageSize: number;
}

/**
 * The emulated Secret Manager data of one project. Accepts names with the project id or number and answers
 * with the number, as the real service does.
 *
 * @example
 * ```ts
 * const state = new SecretManagerState({ projectId: 'p', projectNumber: '1', clock: systemClock, defaultPageSize: 100 });
 * state.createSecret('projects/p', 'api', { replication: { automatic: {} } });
 * ```
 */
export class SecretManagerState {
  readonly projectId: string;
  readonly projectNumber: string;
  readonly #clock: Clock;
  readonly #defaultPageSize: number;
  readonly #secrets = new Map<string, SecretRecord>();

  constructor(options: SecretManagerStateOptions) {
    this.projectId = options.projectId;
    this.projectNumber = options.projectNumber;
    this.#clock = options.clock;
    this.#defaultPageSize = options.defaultPageSize;
  }

  /** All secrets (after expiry), sorted by id. */
  secrets(): SecretRecord[] {
    this.sweep();
    return [...this.#secrets.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** A secret by id, or undefined. */
  find(id: string): SecretRecord | undefined {
    this.sweep();
    return this.#secrets.get(id);
  }

  secretName(record: SecretRecord): string {
    return `projects/${this.projectNumber}/secrets/${record.id}`;
  }

  versionName(record: SecretRecord, version: VersionRecord): string {
    return `${this.secretName(record)}/versions/${version.number}`;
  }

  /** Deletes expired secrets and destroys versions whose delayed destruction is due. */
  sweep(): void {
    const now = this.#clock.now();
    for (const [id, record] of this.#secrets) {
      if (record.expireTime !== undefined && record.expireTime <= now) {
        this.#secrets.delete(id);
        continue;
      }
      for (const v of record.versions) {
        if (v.scheduledDestroyTime !== undefined && v.scheduledDestroyTime <= now) this.#destroyNow(v);
      }
    }
  }

  // ---- names ------------------------------------------------------------------------------------------

  /** Checks `projects/{project}` and returns nothing; a foreign project is refused like a missing one. */
  parseParent(parent: string): void {
    const m = /^projects\/([^/]+)$/.exec(parent);
    if (!m) this.#badName(parent, 'projects/*');
    this.#project(m![1]!);
  }

  /** `projects/{project}/secrets/{secret}` → the secret id. */
  parseSecretName(name: string): string {
    const m = /^projects\/([^/]+)\/secrets\/([^/]+)$/.exec(name);
    if (!m) this.#badName(name, 'projects/*/secrets/*');
    this.#project(m![1]!);
    return m![2]!;
  }

  /** `projects/{project}/secrets/{secret}/versions/{version}` → secret id and version segment. */
  parseVersionName(name: string): { secretId: string; version: string } {
    const m = /^projects\/([^/]+)\/secrets\/([^/]+)\/versions\/([^/]+)$/.exec(name);
    if (!m) this.#badName(name, 'projects/*/secrets/*/versions/*');
    this.#project(m![1]!);
    return { secretId: m![2]!, version: m![3]! };
  }

  #badName(name: string, pattern: string): never {
    if (/^projects\/[^/]+\/locations\//.test(name)) {
      throw new GcpError('UNIMPLEMENTED', 'Regional secrets (projects/*/locations/*) are not emulated.');
    }
    throw invalid(`Invalid resource name "${name.slice(0, 300)}": it must match ${pattern}.`);
  }

  #project(project: string): void {
    if (project === this.projectId || project === this.projectNumber) return;
    // The real service cannot tell a missing project from a forbidden one; neither can its callers.
    throw new GcpError(
      'PERMISSION_DENIED',
      `Permission denied on resource project ${project} (or it may not exist).`,
      [
        {
          type: 'ErrorInfo',
          reason: 'CONSUMER_INVALID',
          domain: 'googleapis.com',
          metadata: { service: 'secretmanager.googleapis.com', consumer: `projects/${project}` },
        },
      ],
    );
  }

  // ---- secrets ----------------------------------------------------------------------------------------

  #secret(id: string): SecretRecord {
    this.sweep();
    const record = this.#secrets.get(id);
    if (!record)
      throw new GcpError('NOT_FOUND', `Secret [projects/${this.projectNumber}/secrets/${id}] not found.`);
    return record;
  }

  createSecret(parent: string, secretId: string, spec: SecretSpec): SecretRecord {
    this.parseParent(parent);
    if (!SECRET_ID.test(secretId)) {
      throw invalid(
        `Secret ID [${secretId.slice(0, 300)}] is invalid: it must be 1 to 255 characters of letters, digits, hyphens and underscores.`,
      );
    }
    this.sweep();
    if (!spec.replication) throw invalid('Secret.replication must be set.');
    checkReplication(spec.replication);
    const labels = checkLabels(spec.labels ?? {});
    const annotations = checkAnnotations(spec.annotations ?? {});
    if (spec.versionAliases && Object.keys(spec.versionAliases).length > 0) {
      throw invalid('Secret.version_aliases can only refer to existing versions; a new secret has none.');
    }
    if (this.#secrets.has(secretId)) {
      throw new GcpError(
        'ALREADY_EXISTS',
        `Secret [projects/${this.projectNumber}/secrets/${secretId}] already exists.`,
      );
    }
    const now = this.#clock.now();
    const record: SecretRecord = {
      id: secretId,
      createTime: now,
      replication: spec.replication,
      labels,
      annotations,
      etag: newEtag(),
      expireTime: this.#expiry(spec, now),
      versionAliases: {},
      topics: checkTopics(spec.topics ?? []),
      rotation: spec.rotation,
      versionDestroyTtlSeconds: checkDuration(spec.versionDestroyTtlSeconds, 'version_destroy_ttl'),
      customerManagedEncryption: spec.customerManagedEncryption,
      versions: [],
    };
    this.#secrets.set(secretId, record);
    return record;
  }

  #expiry(spec: SecretSpec, now: number): number | undefined {
    if (spec.expireTime !== undefined && spec.ttlSeconds !== undefined) {
      throw invalid('Only one of Secret.expire_time and Secret.ttl may be set.');
    }
    if (spec.ttlSeconds !== undefined) {
      if (!(spec.ttlSeconds > 0)) throw invalid('Secret.ttl must be positive.');
      return now + spec.ttlSeconds * 1000;
    }
    if (spec.expireTime !== undefined && spec.expireTime <= now) {
      throw invalid('Secret.expire_time must be in the future.');
    }
    return spec.expireTime;
  }

  getSecret(name: string): SecretRecord {
    return this.#secret(this.parseSecretName(name));
  }

  /** Applies the fields named by `updateMask` (snake_case or camelCase paths); `spec.etag` is a precondition. */
  updateSecret(name: string, spec: SecretSpec, updateMask: readonly string[]): SecretRecord {
    const record = this.#secret(this.parseSecretName(name));
    const paths = updateMask.map((p) => p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
    if (paths.length === 0) throw invalid('update_mask must name at least one field.');
    for (const path of paths) {
      if (path === 'replication' || path.startsWith('replication.')) {
        throw invalid('Secret.replication is immutable and cannot be updated.');
      }
      if (!UPDATABLE.has(path)) throw invalid(`Invalid update_mask path "${path.slice(0, 100)}".`);
    }
    checkEtag(spec.etag, record.etag, this.secretName(record));
    const now = this.#clock.now();
    const next = { ...record };
    for (const path of paths) {
      if (path === 'labels') next.labels = checkLabels(spec.labels ?? {});
      if (path === 'annotations') next.annotations = checkAnnotations(spec.annotations ?? {});
      if (path === 'topics') next.topics = checkTopics(spec.topics ?? []);
      if (path === 'rotation') next.rotation = spec.rotation;
      if (path === 'version_destroy_ttl') {
        next.versionDestroyTtlSeconds = checkDuration(spec.versionDestroyTtlSeconds, 'version_destroy_ttl');
      }
      if (path === 'expire_time' || path === 'ttl') {
        next.expireTime = this.#expiry(
          path === 'ttl' ? { ttlSeconds: spec.ttlSeconds } : { expireTime: spec.expireTime },
          now,
        );
      }
      if (path === 'version_aliases')
        next.versionAliases = this.#checkAliases(record, spec.versionAliases ?? {});
    }
    Object.assign(record, next, { etag: newEtag() });
    return record;
  }

  #checkAliases(record: SecretRecord, aliases: Record<string, number>): Record<string, number> {
    const entries = Object.entries(aliases);
    if (entries.length > GCP_SECRET_MANAGER_LIMITS.maxVersionAliases) {
      throw invalid(
        `A secret can have at most ${GCP_SECRET_MANAGER_LIMITS.maxVersionAliases} version aliases.`,
      );
    }
    for (const [alias, number] of entries) {
      if (!ALIAS.test(alias) || alias === 'latest' || /^\d+$/.test(alias)) {
        throw invalid(`Version alias "${alias.slice(0, 100)}" is invalid.`);
      }
      if (!record.versions.some((v) => v.number === number && v.state !== 'DESTROYED')) {
        throw invalid(
          `Version alias "${alias}" refers to version ${number}, which does not exist or is destroyed.`,
        );
      }
    }
    return { ...aliases };
  }

  deleteSecret(name: string, etag: string | undefined): void {
    const record = this.#secret(this.parseSecretName(name));
    checkEtag(etag, record.etag, this.secretName(record));
    this.#secrets.delete(record.id);
  }

  listSecrets(parent: string, options: ListOptions): Page<SecretRecord> {
    this.parseParent(parent);
    const match = filterOf(options.filter);
    const items = this.secrets().filter((s) => match(this.#secretFields(s)));
    return this.#paginate(
      items,
      'secrets',
      (s) => s.id,
      (s, key) => s.id > key,
      options,
    );
  }

  #secretFields(s: SecretRecord): FilterResolver {
    return (field) => {
      if (field === 'name') return [this.secretName(s), s.id];
      if (field === 'create_time') return { time: s.createTime };
      if (field === 'expire_time') return s.expireTime === undefined ? undefined : { time: s.expireTime };
      if (field.startsWith('labels.')) return s.labels[field.slice(7)];
      if (field === 'labels') return Object.keys(s.labels);
      if (field.startsWith('annotations.')) return s.annotations[field.slice(12)];
      if (field === 'replication.automatic') return 'automatic' in s.replication ? 'automatic' : undefined;
      if (field === 'replication.user_managed')
        return 'userManaged' in s.replication ? 'user_managed' : undefined;
      if (field === 'replication.user_managed.replicas.location') {
        return 'userManaged' in s.replication
          ? s.replication.userManaged.replicas.map((r) => r.location)
          : undefined;
      }
      if (field === 'topics.name') return s.topics;
      return null;
    };
  }

  // ---- versions ---------------------------------------------------------------------------------------

  addVersion(
    parent: string,
    data: Buffer,
    dataCrc32c: bigint | undefined,
  ): { secret: SecretRecord; version: VersionRecord } {
    const record = this.#secret(this.parseSecretName(parent));
    if (data.length > GCP_SECRET_MANAGER_LIMITS.maxPayloadBytes) {
      throw invalid(
        `Secret Version payload is too large: ${data.length} bytes; the limit is ${GCP_SECRET_MANAGER_LIMITS.maxPayloadBytes} bytes.`,
      );
    }
    const checksum = crc32c(data);
    if (dataCrc32c !== undefined && dataCrc32c !== BigInt(checksum)) {
      throw invalid(
        'The checksum of the payload data does not match SecretPayload.data_crc32c: it may have been corrupted in transit.',
      );
    }
    const version: VersionRecord = {
      number: (record.versions.at(-1)?.number ?? 0) + 1,
      createTime: this.#clock.now(),
      state: 'ENABLED',
      data: Buffer.from(data),
      crc32c: checksum,
      clientSpecifiedChecksum: dataCrc32c !== undefined,
      etag: newEtag(),
    };
    record.versions.push(version);
    return { secret: record, version };
  }

  /** Resolves `latest` (the newest version, whatever its state), a number or an alias. */
  #version(name: string): { secret: SecretRecord; version: VersionRecord } {
    const { secretId, version } = this.parseVersionName(name);
    this.sweep();
    const record = this.#secrets.get(secretId);
    const full = `projects/${this.projectNumber}/secrets/${secretId}`;
    if (version === 'latest') {
      const latest = record?.versions.at(-1);
      if (!record || !latest)
        throw new GcpError('NOT_FOUND', `Secret [${full}] not found or has no versions.`);
      return { secret: record, version: latest };
    }
    const number = /^[1-9]\d{0,17}$/.test(version) ? Number(version) : record?.versionAliases[version];
    if (number === undefined && !/^\d+$/.test(version) && !ALIAS.test(version)) {
      throw invalid(
        `Invalid version "${version.slice(0, 100)}": use a version number, an alias or "latest".`,
      );
    }
    const found = record?.versions.find((v) => v.number === number);
    if (!record || !found)
      throw new GcpError('NOT_FOUND', `Secret Version [${full}/versions/${version}] not found.`);
    return { secret: record, version: found };
  }

  getVersion(name: string): { secret: SecretRecord; version: VersionRecord } {
    return this.#version(name);
  }

  accessVersion(name: string): { secret: SecretRecord; version: VersionRecord; data: Buffer } {
    const found = this.#version(name);
    if (found.version.state !== 'ENABLED') {
      throw new GcpError(
        'FAILED_PRECONDITION',
        `Secret Version [${this.versionName(found.secret, found.version)}] is in ${found.version.state} state.`,
      );
    }
    return { ...found, data: found.version.data! };
  }

  listVersions(parent: string, options: ListOptions): Page<VersionRecord> {
    const record = this.#secret(this.parseSecretName(parent));
    const match = filterOf(options.filter);
    const items = [...record.versions].reverse().filter((v) =>
      match((field) => {
        if (field === 'state') return v.state;
        if (field === 'name') return [this.versionName(record, v), String(v.number)];
        if (field === 'create_time') return { time: v.createTime };
        return null;
      }),
    );
    return this.#paginate(
      items,
      'versions',
      (v) => String(v.number),
      (v, key) => v.number < Number(key),
      options,
    );
  }

  /** Enables, disables or destroys a version; `etag` (the version's) is a precondition. */
  changeVersion(
    name: string,
    action: 'enable' | 'disable' | 'destroy',
    etag: string | undefined,
  ): { secret: SecretRecord; version: VersionRecord } {
    const found = this.#version(name);
    const { secret, version } = found;
    checkEtag(etag, version.etag, this.versionName(secret, version));
    if (version.state === 'DESTROYED') {
      throw new GcpError(
        'FAILED_PRECONDITION',
        `Secret Version [${this.versionName(secret, version)}] is in DESTROYED state.`,
      );
    }
    if (action === 'enable') {
      version.state = 'ENABLED';
      version.scheduledDestroyTime = undefined;
    } else if (action === 'disable') {
      version.state = 'DISABLED';
    } else if (secret.versionDestroyTtlSeconds !== undefined && version.scheduledDestroyTime === undefined) {
      // Delayed destruction: disabled now, destroyed when the TTL passes (or re-enabled before).
      version.state = 'DISABLED';
      version.scheduledDestroyTime = this.#clock.now() + secret.versionDestroyTtlSeconds * 1000;
    } else {
      this.#destroyNow(version);
    }
    version.etag = newEtag();
    if ((version.state as VersionState) === 'DESTROYED') {
      for (const [alias, number] of Object.entries(secret.versionAliases)) {
        if (number === version.number) delete secret.versionAliases[alias];
      }
    }
    return found;
  }

  #destroyNow(version: VersionRecord): void {
    version.state = 'DESTROYED';
    version.data = undefined;
    version.destroyTime = this.#clock.now();
    version.scheduledDestroyTime = undefined;
  }

  // ---- paging -----------------------------------------------------------------------------------------

  #paginate<T>(
    items: T[],
    kind: string,
    keyOf: (item: T) => string,
    after: (item: T, key: string) => boolean,
    options: ListOptions,
  ): Page<T> {
    const size = options.pageSize ?? 0;
    if (!Number.isInteger(size) || size < 0) throw invalid('page_size must not be negative.');
    const limit = Math.min(size || this.#defaultPageSize, GCP_SECRET_MANAGER_LIMITS.maxPageSize);
    let start = 0;
    if (options.pageToken) {
      const key = decodePageToken(options.pageToken, kind);
      start = items.findIndex((item) => after(item, key));
      if (start < 0) start = items.length;
    }
    const page = items.slice(start, start + limit);
    const more = start + limit < items.length;
    return {
      items: page,
      nextPageToken: more ? encodePageToken(kind, keyOf(page.at(-1)!)) : '',
      totalSize: items.length,
    };
  }
}

function encodePageToken(kind: string, key: string): string {
  return Buffer.from(JSON.stringify({ k: kind, a: key })).toString('base64url');
}

function decodePageToken(token: string, kind: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      k?: unknown;
      a?: unknown;
    };
    if (parsed.k === kind && typeof parsed.a === 'string') return parsed.a;
  } catch {
    // reported below
  }
  throw invalid('The page token is invalid.');
}

function filterOf(filter: string | undefined): (resolve: FilterResolver) => boolean {
  try {
    const predicate = compileFilter(filter ?? '');
    return (resolve) => {
      try {
        return predicate(resolve);
      } catch (error) {
        if (error instanceof FilterError) throw invalid(`Invalid filter: ${error.message}.`);
        throw error;
      }
    };
  } catch (error) {
    if (error instanceof FilterError) throw invalid(`Invalid filter: ${error.message}.`);
    throw error;
  }
}

function checkEtag(given: string | undefined, current: string, name: string): void {
  if (given === undefined || given === '') return;
  if (given !== current) {
    // Secret Manager answers a stale etag with FAILED_PRECONDITION (HTTP 400), not AIP-154's ABORTED.
    throw new GcpError(
      'FAILED_PRECONDITION',
      `The etag provided for [${name}] does not match the current etag.`,
    );
  }
}

function checkReplication(replication: ReplicationSpec): void {
  if ('userManaged' in replication) {
    const replicas = replication.userManaged.replicas;
    if (replicas.length === 0)
      throw invalid('Replication.user_managed.replicas must name at least one location.');
    const locations = new Set<string>();
    for (const r of replicas) {
      if (!/^[a-z]+-[a-z]+\d+$/.test(r.location))
        throw invalid(`Invalid replica location "${r.location.slice(0, 100)}".`);
      if (locations.has(r.location)) throw invalid(`Replica location "${r.location}" is given twice.`);
      locations.add(r.location);
    }
  }
}

function checkLabels(labels: Record<string, string>): Record<string, string> {
  const entries = Object.entries(labels);
  if (entries.length > GCP_SECRET_MANAGER_LIMITS.maxLabels) {
    throw invalid(`A secret can have at most ${GCP_SECRET_MANAGER_LIMITS.maxLabels} labels.`);
  }
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key) || Buffer.byteLength(key) > GCP_SECRET_MANAGER_LIMITS.maxLabelBytes) {
      throw invalid(
        `Label key "${key.slice(0, 100)}" is invalid: keys are 1 to 63 lowercase letters, digits, underscores and dashes, starting with a lowercase letter.`,
      );
    }
    if (!LABEL_VALUE.test(value) || Buffer.byteLength(value) > GCP_SECRET_MANAGER_LIMITS.maxLabelBytes) {
      throw invalid(
        `Label value for key "${key}" is invalid: values are at most 63 lowercase letters, digits, underscores and dashes.`,
      );
    }
  }
  return { ...labels };
}

function checkAnnotations(annotations: Record<string, string>): Record<string, string> {
  let total = 0;
  for (const [key, value] of Object.entries(annotations)) {
    if (!ANNOTATION_KEY.test(key) || Buffer.byteLength(key) > 128) {
      throw invalid(
        `Annotation key "${key.slice(0, 100)}" is invalid: keys are 1 to 63 characters, begin and end with a letter or digit, with dashes, underscores and dots between.`,
      );
    }
    total += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  // "The total size of annotation keys and values must be less than 16KiB" (the API reference).
  if (total >= GCP_SECRET_MANAGER_LIMITS.maxAnnotationsBytes) {
    throw invalid(
      `The annotations take ${total} bytes; keys and values together must take less than ${GCP_SECRET_MANAGER_LIMITS.maxAnnotationsBytes} bytes.`,
    );
  }
  return { ...annotations };
}

function checkTopics(topics: string[]): string[] {
  if (topics.length > GCP_SECRET_MANAGER_LIMITS.maxTopics) {
    throw invalid(`A secret can have at most ${GCP_SECRET_MANAGER_LIMITS.maxTopics} topics.`);
  }
  for (const topic of topics) {
    if (!/^projects\/[^/]+\/topics\/[^/]+$/.test(topic))
      throw invalid(`Invalid topic "${topic.slice(0, 100)}": expected projects/*/topics/*.`);
  }
  return [...topics];
}

function checkDuration(seconds: number | undefined, field: string): number | undefined {
  if (seconds !== undefined && !(seconds > 0)) throw invalid(`Secret.${field} must be positive.`);
  return seconds;
}
