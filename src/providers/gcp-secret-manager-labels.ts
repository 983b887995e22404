// How a credential's metadata lives on a secret: the tags that satisfy Secret Manager's label rules become
// labels (filterable in ListSecrets), and one annotation keeps the exact tags, creation date and rotation
// policy, whatever the label rules allow. The stored document (the version's payload) stays the source of
// truth for retrieve; these mirror it for listing.
import { StorageError } from '../core/errors.js';
import type { CredentialMetadata, RotationPolicy } from '../core/metadata.js';

const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;
const LABEL_MAX_BYTES = 128;

/**
 * Secret Manager's limits this provider checks before any request.
 *
 * @example
 * ```ts
 * import { GCP_LIMITS } from 'nebula-credential/gcp';
 * console.log(GCP_LIMITS.maxPayloadBytes); // 65536
 * ```
 */
export const GCP_LIMITS = Object.freeze({
  /** A version's payload. */
  maxPayloadBytes: 64 * 1024,
  /** Labels per secret. */
  maxLabels: 64,
  /** Keys plus values of all annotations, in bytes. */
  maxAnnotationBytes: 16 * 1024,
  /** Secret ids: `[A-Za-z0-9_-]{1,255}`. */
  maxSecretIdLength: 255,
});

/**
 * The annotation holding the exact metadata mirror (tags, creation date, rotation policy) as JSON.
 *
 * @example
 * ```ts
 * import { METADATA_ANNOTATION } from 'nebula-credential/gcp';
 * console.log(METADATA_ANNOTATION); // nebula-credential-metadata
 * ```
 */
export const METADATA_ANNOTATION = 'nebula-credential-metadata';

/**
 * Whether a tag can be a label as it is (the rules: a key of 1 to 63 lowercase letters, digits, `_` and
 * `-` starting with a letter; a value of up to 63 of those; at most 128 bytes each).
 *
 * @example
 * ```ts
 * console.log(isLabelCompatible('env', 'prod'), isLabelCompatible('Env', 'prod')); // true false
 * ```
 */
export function isLabelCompatible(key: string, value: string): boolean {
  return (
    LABEL_KEY.test(key) &&
    LABEL_VALUE.test(value) &&
    Buffer.byteLength(key) <= LABEL_MAX_BYTES &&
    Buffer.byteLength(value) <= LABEL_MAX_BYTES
  );
}

/**
 * The labels of a credential: every label-compatible tag, up to the label limit (in key order, so the
 * choice is stable); the others live only in the annotation.
 *
 * @example
 * ```ts
 * console.log(labelsOf({ env: 'prod', Team: 'A' })); // { env: 'prod' }
 * ```
 */
export function labelsOf(tags: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  let count = 0;
  for (const key of Object.keys(tags).sort()) {
    const value = tags[key]!;
    if (count >= GCP_LIMITS.maxLabels || !isLabelCompatible(key, value)) continue;
    out[key] = value;
    count++;
  }
  return out;
}

interface MetadataMirror {
  v: 1;
  createdAt: string;
  tags: Record<string, string>;
  rotationPolicy?: RotationPolicy | undefined;
}

/**
 * The annotations of a credential: one JSON annotation with the exact tags, the creation date and the
 * rotation policy. `lastModified` is left out on purpose: it changes on every store, and keeping it out
 * lets a store of unchanged metadata be one request (the version's own `createTime` and the payload keep it).
 *
 * @example
 * ```ts
 * const annotations = annotationsOf(createMetadata({ tags: { env: 'prod' } }));
 * ```
 */
export function annotationsOf(metadata: CredentialMetadata): Record<string, string> {
  const mirror: MetadataMirror = {
    v: 1,
    createdAt: metadata.createdAt.toISOString(),
    tags: { ...metadata.tags },
    ...(metadata.rotationPolicy ? { rotationPolicy: metadata.rotationPolicy } : {}),
  };
  return { [METADATA_ANNOTATION]: JSON.stringify(mirror) };
}

/** Bytes the annotations count against the 16 KiB limit (keys plus values, UTF-8). */
export function annotationBytes(annotations: Readonly<Record<string, string>>): number {
  let total = 0;
  for (const [k, v] of Object.entries(annotations)) total += Buffer.byteLength(k) + Buffer.byteLength(v);
  return total;
}

/**
 * Refuses metadata whose annotation would exceed Secret Manager's 16 KiB, before any request.
 *
 * @example
 * ```ts
 * assertAnnotationLimit(annotationsOf(metadata), { provider: 'gcp-secret-manager', credentialId: 'api_key' });
 * ```
 */
export function assertAnnotationLimit(
  annotations: Readonly<Record<string, string>>,
  context: { provider: string; credentialId: string },
): void {
  const size = annotationBytes(annotations);
  if (size > GCP_LIMITS.maxAnnotationBytes) {
    throw new StorageError({
      code: 'InvalidMetadata',
      message: `the tags and rotation policy take ${size} bytes as annotations; Secret Manager allows ${GCP_LIMITS.maxAnnotationBytes} (16 KiB): use fewer or shorter tags`,
      provider: context.provider,
      operation: 'store',
      credentialId: context.credentialId,
      details: { size, limit: GCP_LIMITS.maxAnnotationBytes },
    });
  }
}

/**
 * The mirrored metadata of a secret (from its annotation), or undefined when it has none or it is not
 * ours (a secret written by another tool).
 *
 * @example
 * ```ts
 * const mirror = metadataFromAnnotations(secret.annotations);
 * console.log(mirror?.tags, mirror?.createdAt);
 * ```
 */
export function metadataFromAnnotations(
  annotations: Readonly<Record<string, string>> | null | undefined,
): { createdAt: Date; tags: Record<string, string>; rotationPolicy?: RotationPolicy } | undefined {
  const text = annotations?.[METADATA_ANNOTATION];
  if (typeof text !== 'string') return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<MetadataMirror>;
    const createdAt = new Date(String(parsed.createdAt));
    if (parsed.v !== 1 || Number.isNaN(createdAt.getTime())) return undefined;
    const tags: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed.tags ?? {})) if (typeof v === 'string') tags[k] = v;
    return { createdAt, tags, ...(parsed.rotationPolicy ? { rotationPolicy: parsed.rotationPolicy } : {}) };
  } catch {
    return undefined;
  }
}

/** Double-quoted string literal of the list filter syntax. */
function quoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The ListSecrets `filter` that narrows a listing server-side: the label-compatible filter tags as
 * `labels.<key>=<value>` terms (the rest are checked on the mirrored metadata). Undefined when none applies.
 *
 * @example
 * ```ts
 * console.log(listFilterOf({ env: 'prod', Team: 'x' })); // labels.env="prod"
 * ```
 */
export function listFilterOf(tags: Readonly<Record<string, string>> | undefined): string | undefined {
  const terms = Object.entries(tags ?? {})
    .filter(([k, v]) => isLabelCompatible(k, v) && v !== '')
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `labels.${k}=${quoted(v)}`);
  return terms.length > 0 ? terms.join(' AND ') : undefined;
}
