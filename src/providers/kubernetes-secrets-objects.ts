// How a credential becomes a Secret (labels for selection, annotations for exact metadata) and how the
// API server's Status objects become StorageErrors.
import { StorageError, type StorageErrorCode, type StorageOperation } from '../core/errors.js';
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

/** Bytes the API server counts for annotations: len(key) + len(value) in UTF-8. */
export function annotationBytes(annotations: Record<string, string>): number {
  let total = 0;
  for (const [k, v] of Object.entries(annotations)) total += Buffer.byteLength(k) + Buffer.byteLength(v);
  return total;
}

/** The parsed Status of a failed API call. */
export interface KubeFailure {
  status: number;
  reason: string | undefined;
  message: string | undefined;
  details: {
    name?: string;
    kind?: string;
    retryAfterSeconds?: number;
    causes?: { field?: string; reason?: string }[];
  };
  retryAfter: string | undefined;
}

/** Reads `.code`, `.body` (raw JSON text in client-node 1.x) and `.headers` of an ApiException. */
export function kubeFailure(error: unknown): KubeFailure | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; body?: unknown; headers?: Record<string, string> };
  if (typeof e.code !== 'number' || !('body' in e)) return undefined;
  let status: Record<string, unknown> = {};
  if (typeof e.body === 'string') {
    try {
      const parsed: unknown = JSON.parse(e.body);
      if (typeof parsed === 'object' && parsed !== null) status = parsed as Record<string, unknown>;
    } catch {
      // Not a Status (a proxy's HTML page, say): the HTTP code alone decides.
    }
  } else if (typeof e.body === 'object' && e.body !== null) status = e.body as Record<string, unknown>;
  return {
    status: e.code,
    reason: typeof status['reason'] === 'string' ? status['reason'] : undefined,
    message: typeof status['message'] === 'string' ? status['message'] : undefined,
    details: (status['details'] ?? {}) as KubeFailure['details'],
    retryAfter: e.headers?.['retry-after'],
  };
}

/** What was being done when a call failed: used to name the missing RBAC permission. */
export interface CallContext {
  provider: string;
  operation: StorageOperation;
  credentialId: string | undefined;
  namespace: string;
  verb: string;
  secretName?: string | undefined;
  source: string;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  // undici (client-node 2.x): the socket closed or failed, or connecting took too long.
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const TLS_CODES = /^(UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|CERT_|ERR_TLS_CERT|ERR_SSL|HOSTNAME_MISMATCH)/;

/**
 * The system, TLS or undici code of a failed request: on the error itself (node-fetch, client-node 1.x) or
 * on its `cause` (undici's fetch, client-node 2.x, rejects with a TypeError whose cause carries the code).
 */
function transportErrorCode(error: unknown): string {
  let current = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return '';
}

/** Maps an API or network failure to a StorageError from structured fields only. */
export function mapKubeError(error: unknown, ctx: CallContext): StorageError {
  const base = {
    provider: ctx.provider,
    operation: ctx.operation,
    credentialId: ctx.credentialId,
    cause: error,
  };
  const failure = kubeFailure(error);
  if (!failure) {
    const code = transportErrorCode(error);
    // node-fetch marks TLS failures as type "system" too: the certificate codes must be checked first.
    if (TLS_CODES.test(code)) {
      return new StorageError({
        ...base,
        code: 'InvalidConfig',
        message: `the Kubernetes API server's certificate was refused (${code}); check the cluster's certificate-authority in ${ctx.source}`,
        retryable: false,
        details: { backendCode: code },
      });
    }
    if (NETWORK_CODES.has(code) || (error as { type?: unknown } | null)?.type === 'system') {
      return new StorageError({
        ...base,
        code: 'Unavailable',
        message: `cannot reach the Kubernetes API server (${code || 'network error'}) from ${ctx.source}; check the server address and network`,
        retryable: true,
        details: code ? { backendCode: code } : {},
      });
    }
    return new StorageError({
      ...base,
      code: 'Internal',
      message: `unexpected ${(error as Error | null)?.name ?? typeof error} from the Kubernetes client during ${ctx.operation}; run with a debug logger to see the cause`,
    });
  }
  const { status, reason } = failure;
  const details = {
    status,
    ...(reason ? { backendCode: reason } : {}),
    namespace: ctx.namespace,
    verb: ctx.verb,
    resource: 'secrets',
    ...(ctx.secretName ? { secretName: ctx.secretName } : {}),
  };
  const make = (
    code: StorageErrorCode,
    message: string,
    extra: Record<string, unknown> = {},
    retryable = false,
  ) => new StorageError({ ...base, code, message, retryable, details: { ...details, ...extra } });
  if (status === 401) {
    return make(
      'AuthenticationFailed',
      `the Kubernetes API server rejected the credentials of ${ctx.source} (401 Unauthorized): the token is invalid or expired`,
    );
  }
  if (status === 403) {
    // The Status names the user only in its message; the verb, resource and namespace are ours.
    const user = /User "([^"]+)"/.exec(failure.message ?? '')?.[1];
    const rule = `{apiGroups: [""], resources: ["secrets"], verbs: ["${ctx.verb}"]}`;
    return make(
      'PermissionDenied',
      `${user ? `"${user}"` : 'the caller'} may not ${ctx.verb} secrets in namespace "${ctx.namespace}": ` +
        `add the rule ${rule} to a Role in namespace "${ctx.namespace}" and bind it with a RoleBinding`,
      {
        ...(user ? { user } : {}),
        requiredRule: { apiGroups: [''], resources: ['secrets'], verbs: [ctx.verb] },
      },
    );
  }
  if (status === 404) {
    if (failure.details.kind === 'namespaces') {
      return make(
        'InvalidConfig',
        `namespace "${ctx.namespace}" does not exist; create it or choose another namespace`,
      );
    }
    return make('NotFound', `credential "${ctx.credentialId ?? ''}" does not exist in ${ctx.provider}`);
  }
  if (status === 409) {
    return make(
      'Conflict',
      reason === 'AlreadyExists'
        ? `Secret "${ctx.secretName}" already exists`
        : `Secret "${ctx.secretName}" was changed by someone else meanwhile`,
    );
  }
  if (status === 410) {
    return make('Unavailable', 'the list continue token expired; listing starts again', {}, true);
  }
  if (
    status === 413 ||
    (status === 422 && failure.details.causes?.some((c) => c.reason === 'FieldValueTooLong'))
  ) {
    return make('SizeLimitExceeded', `the API server refused the Secret as too large (${status})`);
  }
  if (status === 422) {
    const fields = (failure.details.causes ?? []).map((c) => c.field).filter(Boolean);
    return make(
      'InvalidMetadata',
      `the API server refused the Secret as invalid (fields: ${fields.join(', ') || 'unknown'})`,
      {
        fields,
      },
    );
  }
  if (status === 429 || status >= 500) {
    const afterSeconds = Number(failure.retryAfter ?? failure.details.retryAfterSeconds ?? Number.NaN);
    return make(
      'Unavailable',
      `the Kubernetes API server is unavailable (${status}${reason ? ` ${reason}` : ''}); retried with backoff`,
      Number.isFinite(afterSeconds) ? { retryAfterMs: afterSeconds * 1000 } : {},
      true,
    );
  }
  return make(
    'Internal',
    `the Kubernetes API server answered ${status}${reason ? ` ${reason}` : ''} to ${ctx.verb} secrets`,
  );
}
