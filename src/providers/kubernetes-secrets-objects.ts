// How a credential becomes a Secret: labels for selection, annotations for exact metadata.
import type { CredentialMetadata } from '../core/metadata.js';

/**
 * Label on every Secret this library writes; Secrets without it are never overwritten or deleted.
 *
 * @example
 * ```ts
 * import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from 'nebula-credential/kubernetes';
 * console.log(`kubectl get secrets -l ${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`);
 * ```
 */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/**
 * Value of {@link MANAGED_BY_LABEL} on the Secrets this library writes.
 *
 * @example
 * ```ts
 * import { MANAGED_BY_VALUE } from 'nebula-credential/kubernetes';
 * console.log(MANAGED_BY_VALUE); // nebula-credential
 * ```
 */
export const MANAGED_BY_VALUE = 'nebula-credential';
/**
 * Prefix of the labels that carry (sanitized) tags.
 *
 * @example
 * ```ts
 * import { TAG_LABEL_PREFIX } from 'nebula-credential/kubernetes';
 * console.log(`kubectl get secrets -l ${TAG_LABEL_PREFIX}env=prod`);
 * ```
 */
export const TAG_LABEL_PREFIX = 'tag.nebula-credential.io/';
/**
 * Annotation keys holding the exact metadata.
 *
 * @example
 * ```ts
 * import { ANNOTATIONS } from 'nebula-credential/kubernetes';
 * console.log(ANNOTATIONS.tags); // nebula-credential.io/tags
 * ```
 */
export const ANNOTATIONS = {
  id: 'nebula-credential.io/id',
  tags: 'nebula-credential.io/tags',
  createdAt: 'nebula-credential.io/created-at',
  lastModified: 'nebula-credential.io/last-modified',
  lastAccessed: 'nebula-credential.io/last-accessed',
  rotationDays: 'nebula-credential.io/rotation-interval-days',
} as const;

/** The API server's limits (core/v1 validation). */
export const KUBE_LIMITS = {
  /** Sum of the decoded data values of one Secret. */
  dataBytes: 1024 * 1024,
  /** Sum of len(key) + len(value), in bytes, over all annotations. */
  annotationBytes: 256 * 1024,
  /** Secret name (DNS-1123 subdomain). */
  nameLength: 253,
};

/**
 * Turns text into a valid label name or value: characters outside `[-A-Za-z0-9_.]` become `_`, at most 63
 * characters, starting and ending alphanumeric. Lossy: labels only narrow a selection, the exact tags are
 * in the annotations.
 */
export function sanitizeLabel(text: string): string {
  const replaced = [...text].map((ch) => (/^[-A-Za-z0-9_.]$/.test(ch) ? ch : '_')).join('');
  return replaced
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
}

/** The tag labels of a credential. When two tags sanitize to one label key, the exact one wins. */
export function tagLabels(tags: Record<string, string>): Record<string, string> {
  const labels: Record<string, string> = {};
  const exact = new Set<string>();
  for (const [key, value] of Object.entries(tags)) {
    const name = sanitizeLabel(key);
    if (name === '') continue;
    const labelKey = TAG_LABEL_PREFIX + name;
    const isExact = name === key && sanitizeLabel(value) === value;
    if (Object.hasOwn(labels, labelKey) && (exact.has(labelKey) || !isExact)) continue;
    labels[labelKey] = sanitizeLabel(value);
    if (isExact) exact.add(labelKey);
  }
  return labels;
}

/**
 * The label-selector terms a tag filter can use: only tags whose key and value are valid labels as they
 * are (then the stored label is exact), so selection never misses a match; results are verified anyway.
 */
export function tagSelector(tags: Record<string, string> | undefined): string[] {
  return Object.entries(tags ?? {})
    .filter(([k, v]) => sanitizeLabel(k) === k && sanitizeLabel(v) === v)
    .map(([k, v]) => `${TAG_LABEL_PREFIX}${k}=${v}`);
}

/** The annotations that keep the metadata exactly. */
export function metadataAnnotations(id: string, metadata: CredentialMetadata): Record<string, string> {
  const a: Record<string, string> = {
    [ANNOTATIONS.id]: id,
    [ANNOTATIONS.tags]: JSON.stringify(metadata.tags),
    [ANNOTATIONS.createdAt]: metadata.createdAt.toISOString(),
    [ANNOTATIONS.lastModified]: metadata.lastModified.toISOString(),
  };
  if (metadata.lastAccessed) a[ANNOTATIONS.lastAccessed] = metadata.lastAccessed.toISOString();
  if (metadata.rotationPolicy) a[ANNOTATIONS.rotationDays] = String(metadata.rotationPolicy.intervalDays);
  return a;
}

/** Reads the tags and creation time back from annotations; undefined when they are missing or malformed. */
export function readAnnotations(
  annotations: Record<string, string> | undefined,
): { tags: Record<string, string>; createdAt: Date } | undefined {
  const tagsText = annotations?.[ANNOTATIONS.tags];
  const created = annotations?.[ANNOTATIONS.createdAt];
  if (tagsText === undefined || created === undefined) return undefined;
  try {
    const tags: unknown = JSON.parse(tagsText);
    const createdAt = new Date(created);
    if (
      typeof tags !== 'object' ||
      tags === null ||
      Array.isArray(tags) ||
      Number.isNaN(createdAt.getTime())
    ) {
      return undefined;
    }
    if (!Object.values(tags).every((v) => typeof v === 'string')) return undefined;
    return { tags: tags as Record<string, string>, createdAt };
  } catch {
    return undefined;
  }
}

/**
 * The whole metadata from the annotations, or undefined when one is missing or malformed. Reads take the
 * metadata from here first: a value-only patch (a fresh process keeping tags and rotation policy) replaces
 * the document in the data without knowing the metadata, while the annotations it leaves alone stay exact.
 *
 * @example
 * ```ts
 * const metadata = annotatedMetadata(secret.metadata?.annotations) ?? decodedDocument.metadata;
 * ```
 */
export function annotatedMetadata(
  annotations: Record<string, string> | undefined,
): CredentialMetadata | undefined {
  const facts = readAnnotations(annotations);
  const lastModified = parseTime(annotations?.[ANNOTATIONS.lastModified]);
  if (!facts || !lastModified) return undefined;
  const metadata: CredentialMetadata = { createdAt: facts.createdAt, lastModified, tags: facts.tags };
  const accessedText = annotations?.[ANNOTATIONS.lastAccessed];
  if (accessedText !== undefined) {
    const lastAccessed = parseTime(accessedText);
    if (!lastAccessed) return undefined;
    metadata.lastAccessed = lastAccessed;
  }
  const daysText = annotations?.[ANNOTATIONS.rotationDays];
  if (daysText !== undefined) {
    const intervalDays = Number(daysText);
    if (!/^[0-9]+$/.test(daysText) || !Number.isSafeInteger(intervalDays)) return undefined;
    metadata.rotationPolicy = { intervalDays };
  }
  return metadata;
}

function parseTime(text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const time = new Date(text);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/**
 * One reference token of an RFC 6901 JSON pointer (`~` and `/` escaped), for JSON patch paths into label,
 * annotation and data maps, whose keys hold `/`.
 *
 * @example
 * ```ts
 * jsonPointerToken('nebula-credential.io/id'); // 'nebula-credential.io~1id'
 * ```
 */
export function jsonPointerToken(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Bytes the API server counts for annotations: len(key) + len(value) in UTF-8. */
export function annotationBytes(annotations: Record<string, string>): number {
  let total = 0;
  for (const [k, v] of Object.entries(annotations)) total += Buffer.byteLength(k) + Buffer.byteLength(v);
  return total;
}
