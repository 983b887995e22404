import {
  type ReplicationSpec,
  type SecretManagerState,
  type SecretRecord,
  type SecretSpec,
  VERSION_STATE_NUMBERS,
  type VersionRecord,
} from './gcp-state.js';
import { GcpError } from './gcp-status.js';

// Messages of google.cloud.secretmanager.v1 in the two shapes the transports use. gRPC hands proto-loader
// objects (camelCase, Timestamp as {seconds, nanos}, int64 as strings, bytes as Buffers, enums by name);
// REST uses the proto3 JSON mapping (RFC 3339 times, "3600s" durations, int64 as strings, base64 bytes,
// enum names, or numbers when the client asks for `$alt=json;enum-encoding=int` as google-gax does).
// One builder per message takes the scalar encoding as a parameter, so both transports answer alike.

/** How scalar well-known types are written on one transport. */
export interface WireEncoding {
  timestamp(ms: number): unknown;
  duration(seconds: number): unknown;
  int64(value: number): unknown;
  enumValue(name: string, number: number): unknown;
  bytes(data: Buffer): unknown;
}

/** How scalar well-known types are read on one transport; throws INVALID_ARGUMENT on bad input. */
export interface WireDecoding {
  timestamp(value: unknown, field: string): number;
  duration(value: unknown, field: string): number;
  int64(value: unknown, field: string): bigint;
  bytes(value: unknown, field: string): Buffer;
  /** Unknown fields are errors (REST JSON); proto-loader objects carry oneof markers, so gRPC is lenient. */
  strict: boolean;
}

const badValue = (field: string, type: string, detail: string) =>
  new GcpError('INVALID_ARGUMENT', `Invalid value at '${field}' (${type}), ${detail}`, [
    { type: 'BadRequest', fieldViolations: [{ field, description: `Invalid value (${type}): ${detail}` }] },
  ]);

export const GRPC_ENCODING: WireEncoding = {
  timestamp: (ms) => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 }),
  duration: (seconds) => ({ seconds: String(Math.floor(seconds)), nanos: Math.round((seconds % 1) * 1e9) }),
  int64: (value) => String(value),
  enumValue: (name) => name,
  bytes: (data) => data,
};

/** The REST (proto3 JSON) encoding; `numericEnums` when the request asked for `enum-encoding=int`. */
export function restEncoding(numericEnums: boolean): WireEncoding {
  return {
    timestamp: (ms) => new Date(ms).toISOString(),
    duration: (seconds) => `${seconds}s`,
    int64: (value) => String(value),
    enumValue: (name, number) => (numericEnums ? number : name),
    bytes: (data) => data.toString('base64'),
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const GRPC_DECODING: WireDecoding = {
  strict: false,
  timestamp(value, field) {
    if (!isRecord(value)) throw badValue(field, 'google.protobuf.Timestamp', 'expected a Timestamp');
    return Number(value['seconds'] ?? 0) * 1000 + Math.floor(Number(value['nanos'] ?? 0) / 1e6);
  },
  duration(value, field) {
    if (!isRecord(value)) throw badValue(field, 'google.protobuf.Duration', 'expected a Duration');
    return Number(value['seconds'] ?? 0) + Number(value['nanos'] ?? 0) / 1e9;
  },
  int64(value, field) {
    try {
      return BigInt(value as string);
    } catch {
      throw badValue(field, 'TYPE_INT64', `"${String(value).slice(0, 40)}" is not an integer`);
    }
  },
  bytes(value, field) {
    if (!Buffer.isBuffer(value)) throw badValue(field, 'TYPE_BYTES', 'expected bytes');
    return value;
  },
};

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;

export const REST_DECODING: WireDecoding = {
  strict: true,
  timestamp(value, field) {
    const ms = typeof value === 'string' && RFC3339.test(value) ? Date.parse(value) : Number.NaN;
    if (Number.isNaN(ms)) {
      throw badValue(
        field,
        'type.googleapis.com/google.protobuf.Timestamp',
        'Illegal timestamp format; timestamps must be RFC 3339, e.g. "2025-01-01T00:00:00Z".',
      );
    }
    return ms;
  },
  duration(value, field) {
    const m = typeof value === 'string' ? /^(-?\d+(\.\d{1,9})?)s$/.exec(value) : null;
    if (!m)
      throw badValue(
        field,
        'type.googleapis.com/google.protobuf.Duration',
        'Illegal duration format; durations must end with "s", e.g. "3600s".',
      );
    return Number(m[1]);
  },
  int64(value, field) {
    if (
      (typeof value === 'string' && /^-?\d+$/.test(value)) ||
      (typeof value === 'number' && Number.isInteger(value))
    ) {
      return BigInt(value);
    }
    throw badValue(field, 'TYPE_INT64', `"${String(value).slice(0, 40)}" is not an integer`);
  },
  bytes(value, field) {
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) {
      throw badValue(field, 'TYPE_BYTES', 'Base64 decoding failed');
    }
    return Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
  },
};

// ---- decoding ------------------------------------------------------------------------------------------

const SECRET_FIELDS = new Set([
  'name',
  'replication',
  'createTime',
  'labels',
  'topics',
  'expireTime',
  'ttl',
  'etag',
  'rotation',
  'versionAliases',
  'annotations',
  'versionDestroyTtl',
  'customerManagedEncryption',
  'tags',
  'secretType',
  'policyMember',
]);

const camel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The object with snake_case keys renamed to camelCase (proto3 JSON accepts both), unknown keys refused. */
function fieldsOf(
  value: unknown,
  where: string,
  known: ReadonlySet<string>,
  dec: WireDecoding,
): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw badValue(where, 'TYPE_MESSAGE', 'expected an object');
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const name = camel(key);
    if (!known.has(name)) {
      if (dec.strict) {
        throw new GcpError(
          'INVALID_ARGUMENT',
          `Invalid JSON payload received. Unknown name "${key.slice(0, 100)}" at '${where}': Cannot find field.`,
          [
            {
              type: 'BadRequest',
              fieldViolations: [
                {
                  field: where,
                  description: `Invalid JSON payload received. Unknown name "${key.slice(0, 100)}" at '${where}': Cannot find field.`,
                },
              ],
            },
          ],
        );
      }
      continue;
    }
    if (v !== null && v !== undefined) out[name] = v;
  }
  return out;
}

function stringMap(value: unknown, field: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value)) throw badValue(field, 'TYPE_MAP', 'expected an object of strings');
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw badValue(`${field}[${k}]`, 'TYPE_STRING', 'expected a string');
  }
  return value as Record<string, string>;
}

function kmsKey(value: unknown, field: string, dec: WireDecoding): string | undefined {
  const cme = fieldsOf(value, field, new Set(['kmsKeyName']), dec);
  if (cme['kmsKeyName'] === undefined) return undefined;
  if (
    typeof cme['kmsKeyName'] !== 'string' ||
    !/^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/.test(cme['kmsKeyName'])
  ) {
    throw badValue(
      `${field}.kms_key_name`,
      'TYPE_STRING',
      'expected projects/*/locations/*/keyRings/*/cryptoKeys/*',
    );
  }
  return cme['kmsKeyName'];
}

function decodeReplication(value: unknown, dec: WireDecoding): ReplicationSpec | undefined {
  if (value === undefined) return undefined;
  const r = fieldsOf(value, 'secret.replication', new Set(['automatic', 'userManaged']), dec);
  if (r['automatic'] !== undefined && r['userManaged'] !== undefined) {
    throw new GcpError('INVALID_ARGUMENT', 'Replication must set only one of automatic and user_managed.');
  }
  if (r['automatic'] !== undefined) {
    const a = fieldsOf(
      r['automatic'],
      'secret.replication.automatic',
      new Set(['customerManagedEncryption']),
      dec,
    );
    return {
      automatic: {
        kmsKeyName: kmsKey(
          a['customerManagedEncryption'],
          'secret.replication.automatic.customer_managed_encryption',
          dec,
        ),
      },
    };
  }
  if (r['userManaged'] !== undefined) {
    const u = fieldsOf(r['userManaged'], 'secret.replication.user_managed', new Set(['replicas']), dec);
    const replicas = u['replicas'] ?? [];
    if (!Array.isArray(replicas))
      throw badValue('secret.replication.user_managed.replicas', 'TYPE_MESSAGE', 'expected a list');
    return {
      userManaged: {
        replicas: replicas.map((raw, i) => {
          const where = `secret.replication.user_managed.replicas[${i}]`;
          const replica = fieldsOf(raw, where, new Set(['location', 'customerManagedEncryption']), dec);
          return {
            location: String(replica['location'] ?? ''),
            kmsKeyName: kmsKey(
              replica['customerManagedEncryption'],
              `${where}.customer_managed_encryption`,
              dec,
            ),
          };
        }),
      },
    };
  }
  throw new GcpError('INVALID_ARGUMENT', 'Replication must set one of automatic and user_managed.');
}

/** A Secret message (either transport's shape) as the writable fields the state accepts. */
export function decodeSecret(
  value: unknown,
  dec: WireDecoding,
  where = 'secret',
): SecretSpec & { name?: string } {
  const f = fieldsOf(value, where, SECRET_FIELDS, dec);
  const spec: SecretSpec & { name?: string } = {};
  if (typeof f['name'] === 'string' && f['name'] !== '') spec.name = f['name'];
  spec.replication = decodeReplication(f['replication'], dec);
  spec.labels = stringMap(f['labels'], `${where}.labels`);
  spec.annotations = stringMap(f['annotations'], `${where}.annotations`);
  spec.tags = stringMap(f['tags'], `${where}.tags`);
  if (f['expireTime'] !== undefined) spec.expireTime = dec.timestamp(f['expireTime'], `${where}.expire_time`);
  if (f['ttl'] !== undefined) spec.ttlSeconds = dec.duration(f['ttl'], `${where}.ttl`);
  if (typeof f['etag'] === 'string' && f['etag'] !== '') spec.etag = f['etag'];
  if (f['versionDestroyTtl'] !== undefined) {
    spec.versionDestroyTtlSeconds = dec.duration(f['versionDestroyTtl'], `${where}.version_destroy_ttl`);
  }
  if (f['versionAliases'] !== undefined) {
    const aliases = f['versionAliases'];
    if (!isRecord(aliases))
      throw badValue(`${where}.version_aliases`, 'TYPE_MAP', 'expected an object of integers');
    spec.versionAliases = Object.fromEntries(
      Object.entries(aliases).map(([k, v]) => [k, Number(dec.int64(v, `${where}.version_aliases[${k}]`))]),
    );
  }
  if (f['topics'] !== undefined) {
    if (!Array.isArray(f['topics'])) throw badValue(`${where}.topics`, 'TYPE_MESSAGE', 'expected a list');
    spec.topics = f['topics'].map((t, i) =>
      String(fieldsOf(t, `${where}.topics[${i}]`, new Set(['name']), dec)['name'] ?? ''),
    );
  }
  if (f['rotation'] !== undefined) {
    const r = fieldsOf(
      f['rotation'],
      `${where}.rotation`,
      new Set(['nextRotationTime', 'rotationPeriod', 'managedRotationStatus']),
      dec,
    );
    spec.rotation = {
      nextRotationTime:
        r['nextRotationTime'] === undefined
          ? undefined
          : dec.timestamp(r['nextRotationTime'], `${where}.rotation.next_rotation_time`),
      rotationPeriodSeconds:
        r['rotationPeriod'] === undefined
          ? undefined
          : dec.duration(r['rotationPeriod'], `${where}.rotation.rotation_period`),
    };
  }
  const cmek = kmsKey(f['customerManagedEncryption'], `${where}.customer_managed_encryption`, dec);
  if (cmek) spec.customerManagedEncryption = { kmsKeyName: cmek };
  return spec;
}

/** A SecretPayload message: the data and the optional `data_crc32c` (proto3 `optional int64`). */
export function decodePayload(
  value: unknown,
  dec: WireDecoding,
): { data: Buffer; dataCrc32c: bigint | undefined } {
  const p = fieldsOf(value, 'payload', new Set(['data', 'dataCrc32c']), dec);
  const data = p['data'] === undefined ? Buffer.alloc(0) : dec.bytes(p['data'], 'payload.data');
  const crc = p['dataCrc32c'] === undefined ? undefined : dec.int64(p['dataCrc32c'], 'payload.data_crc32c');
  return { data, dataCrc32c: crc };
}

// ---- encoding ------------------------------------------------------------------------------------------

function replicationMessage(r: ReplicationSpec): Record<string, unknown> {
  const cme = (kmsKeyName: string | undefined) =>
    kmsKeyName ? { customerManagedEncryption: { kmsKeyName } } : {};
  return 'automatic' in r
    ? { automatic: cme(r.automatic.kmsKeyName) }
    : {
        userManaged: {
          replicas: r.userManaged.replicas.map((x) => ({ location: x.location, ...cme(x.kmsKeyName) })),
        },
      };
}

/** The Secret message of a record. Empty fields are left out, as proto3 JSON does. */
export function secretMessage(
  state: SecretManagerState,
  s: SecretRecord,
  enc: WireEncoding,
): Record<string, unknown> {
  const nonEmpty = (m: Record<string, unknown>) => Object.keys(m).length > 0;
  return {
    name: state.secretName(s),
    replication: replicationMessage(s.replication),
    createTime: enc.timestamp(s.createTime),
    ...(nonEmpty(s.labels) ? { labels: s.labels } : {}),
    ...(s.topics.length ? { topics: s.topics.map((name) => ({ name })) } : {}),
    ...(s.expireTime === undefined ? {} : { expireTime: enc.timestamp(s.expireTime) }),
    etag: s.etag,
    ...(s.rotation
      ? {
          rotation: {
            ...(s.rotation.nextRotationTime === undefined
              ? {}
              : { nextRotationTime: enc.timestamp(s.rotation.nextRotationTime) }),
          },
        }
      : {}),
    ...(nonEmpty(s.versionAliases)
      ? {
          versionAliases: Object.fromEntries(
            Object.entries(s.versionAliases).map(([k, v]) => [k, enc.int64(v)]),
          ),
        }
      : {}),
    ...(nonEmpty(s.annotations) ? { annotations: s.annotations } : {}),
    ...(s.versionDestroyTtlSeconds === undefined
      ? {}
      : { versionDestroyTtl: enc.duration(s.versionDestroyTtlSeconds) }),
    ...(s.customerManagedEncryption ? { customerManagedEncryption: s.customerManagedEncryption } : {}),
  };
}

function replicationStatus(s: SecretRecord): Record<string, unknown> {
  const status = (kmsKeyName: string | undefined) =>
    kmsKeyName
      ? { customerManagedEncryption: { kmsKeyVersionName: `${kmsKeyName}/cryptoKeyVersions/1` } }
      : {};
  return 'automatic' in s.replication
    ? { automatic: status(s.replication.automatic.kmsKeyName) }
    : {
        userManaged: {
          replicas: s.replication.userManaged.replicas.map((r) => ({
            location: r.location,
            ...status(r.kmsKeyName),
          })),
        },
      };
}

/** The SecretVersion message of a record. */
export function versionMessage(
  state: SecretManagerState,
  s: SecretRecord,
  v: VersionRecord,
  enc: WireEncoding,
): Record<string, unknown> {
  return {
    name: state.versionName(s, v),
    createTime: enc.timestamp(v.createTime),
    ...(v.destroyTime === undefined ? {} : { destroyTime: enc.timestamp(v.destroyTime) }),
    state: enc.enumValue(v.state, VERSION_STATE_NUMBERS[v.state]),
    replicationStatus: replicationStatus(s),
    etag: v.etag,
    ...(v.clientSpecifiedChecksum ? { clientSpecifiedPayloadChecksum: true } : {}),
    ...(v.scheduledDestroyTime === undefined
      ? {}
      : { scheduledDestroyTime: enc.timestamp(v.scheduledDestroyTime) }),
  };
}

/** The AccessSecretVersionResponse: the resolved version name (never `latest`) and the payload with its CRC32C. */
export function accessMessage(
  state: SecretManagerState,
  s: SecretRecord,
  v: VersionRecord,
  data: Buffer,
  enc: WireEncoding,
): Record<string, unknown> {
  return {
    name: state.versionName(s, v),
    payload: { data: enc.bytes(data), dataCrc32c: enc.int64(v.crc32c) },
  };
}
