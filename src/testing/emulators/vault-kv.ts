/** One version of a KV v2 secret. */
export interface KvVersion {
  data: Record<string, unknown> | null;
  createdTime: number;
  /** Soft-delete time (ms), or 0. */
  deletionTime: number;
  destroyed: boolean;
}

/** A KV v2 key: its metadata and versions. */
export interface KvEntry {
  versions: Map<number, KvVersion>;
  currentVersion: number;
  oldestVersion: number;
  createdTime: number;
  updatedTime: number;
  maxVersions: number;
  casRequired: boolean;
  deleteVersionAfter: string;
  customMetadata: Record<string, string> | null;
}

/** A KV v2 mount: its config and keys. */
export interface KvMount {
  maxVersions: number;
  casRequired: boolean;
  entries: Map<string, KvEntry>;
}

/** Thrown by the KV engine; becomes `{"errors":[message]}` with the status. */
export class KvError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const rfc3339 = (ms: number): string => (ms === 0 ? '' : new Date(ms).toISOString());

export function versionMetadata(entry: KvEntry, version: number): Record<string, unknown> {
  const v = entry.versions.get(version)!;
  return {
    created_time: rfc3339(v.createdTime),
    custom_metadata: entry.customMetadata,
    deletion_time: rfc3339(v.deletionTime),
    destroyed: v.destroyed,
    version,
  };
}

export function keyMetadata(entry: KvEntry): Record<string, unknown> {
  const versions: Record<string, unknown> = {};
  for (const [n, v] of entry.versions) {
    versions[String(n)] = {
      created_time: rfc3339(v.createdTime),
      deletion_time: rfc3339(v.deletionTime),
      destroyed: v.destroyed,
    };
  }
  return {
    cas_required: entry.casRequired,
    created_time: rfc3339(entry.createdTime),
    current_version: entry.currentVersion,
    custom_metadata: entry.customMetadata,
    delete_version_after: entry.deleteVersionAfter,
    max_versions: entry.maxVersions,
    oldest_version: entry.oldestVersion,
    updated_time: rfc3339(entry.updatedTime),
    versions,
  };
}

export function newEntry(now: number): KvEntry {
  return {
    versions: new Map(),
    currentVersion: 0,
    oldestVersion: 0,
    createdTime: now,
    updatedTime: now,
    maxVersions: 0,
    casRequired: false,
    deleteVersionAfter: '0s',
    customMetadata: null,
  };
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u;

/** Vault's custom_metadata rules (vault-plugin-secrets-kv): 64 keys, keys 1-128 and values 0-512 bytes, printable. */
export function validateCustomMetadata(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new KvError(400, 'custom_metadata must be a map of string keys to string values');
  }
  const problems: string[] = [];
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > 64) problems.push(`payload must contain at most 64 keys, provided ${entries.length}`);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') {
      problems.push(`value for key "${k}" is not a string`);
      continue;
    }
    const kl = Buffer.byteLength(k);
    const vl = Buffer.byteLength(v);
    if (kl === 0 || kl > 128)
      problems.push(`length of key ${JSON.stringify(k)} is ${kl} but must be 0 < len(key) <= 128`);
    if (vl > 512) problems.push(`length of value for key ${JSON.stringify(k)} is ${vl} but must be <= 512`);
    if (!PRINTABLE.test(k)) problems.push(`key ${JSON.stringify(k)} contains unprintable characters`);
    if (!PRINTABLE.test(v))
      problems.push(`value for key ${JSON.stringify(k)} contains unprintable characters`);
  }
  if (problems.length > 0) {
    throw new KvError(
      400,
      `custom_metadata validation failed: ${problems.length} error${problems.length > 1 ? 's' : ''} occurred:\n${problems
        .map((p) => `\t* ${p}`)
        .join('\n')}\n\n`,
    );
  }
  return { ...(value as Record<string, string>) };
}

/** Drops versions beyond the effective max_versions, oldest first, as Vault does on write. */
export function prune(entry: KvEntry, mount: KvMount): void {
  const max = entry.maxVersions || mount.maxVersions || 10;
  while (entry.versions.size > max) {
    const oldest = Math.min(...entry.versions.keys());
    entry.versions.delete(oldest);
  }
  entry.oldestVersion = entry.versions.size > 0 ? Math.min(...entry.versions.keys()) : entry.oldestVersion;
}

/** Direct children of `prefix` (which is '' or ends with '/'), directories with a trailing '/'. */
export function listKeys(mount: KvMount, prefix: string): string[] {
  const out = new Set<string>();
  for (const key of mount.entries.keys()) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf('/');
    out.add(slash < 0 ? rest : rest.slice(0, slash + 1));
  }
  return [...out].sort();
}
