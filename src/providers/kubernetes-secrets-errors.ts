// How the API server's Status objects, and failures below HTTP, become StorageErrors: Kubernetes reasons
// here, everything the transport policy covers in the core.
import { StorageError, type StorageErrorCode, type StorageOperation } from '../core/errors.js';
import { backendError, retryAfterMs, transportError } from '../core/transport.js';

const SERVICE = 'the Kubernetes API server';

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
  headers: Record<string, string> | undefined;
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
    headers: e.headers,
  };
}

/** What was being done when a call failed: used to name the missing RBAC permission. */
export interface KubeCallContext {
  provider: string;
  operation: StorageOperation;
  credentialId: string | undefined;
  namespace: string;
  verb: string;
  secretName?: string | undefined;
  /** Where the cluster settings came from (`kubeconfig <path> (context <name>)`, `in-cluster service account`). */
  source: string;
  /** The provider clock's time, for an HTTP-date `Retry-After`. Default: now. */
  now?: number | undefined;
}

/**
 * Maps an API or network failure to a StorageError from structured fields only: the Status `reason`,
 * `details` and HTTP code for API errors, the core transport policy for the rest.
 *
 * @example
 * ```ts
 * const error = mapKubeError({ code: 429, body: '{"reason":"TooManyRequests"}', headers: { 'retry-after': '2' } },
 *   { provider: 'kubernetes', operation: 'retrieve', credentialId: 'k', namespace: 'apps', verb: 'get', source: 'in-cluster' });
 * console.log(error.code, error.details.retryAfterMs); // RateLimited 2000
 * ```
 */
export function mapKubeError(error: unknown, ctx: KubeCallContext): StorageError {
  const context = { provider: ctx.provider, operation: ctx.operation, credentialId: ctx.credentialId };
  const failure = kubeFailure(error);
  if (!failure) {
    const network = transportError(error, {
      ...context,
      service: SERVICE,
      endpointSource: `the cluster server in ${ctx.source}`,
      trustHint: `check the cluster's certificate-authority in ${ctx.source}, or set tls.caFile (a PEM file) or tls.ca (PEM text)`,
    });
    if (network) return network;
    // node-fetch marks every socket-level failure with type "system", also ones without a known code.
    if ((error as { type?: unknown } | null)?.type === 'system') {
      const code = (error as { code?: unknown }).code;
      return new StorageError({
        ...context,
        code: 'Unavailable',
        message: `cannot reach the Kubernetes API server (${typeof code === 'string' ? code : 'network error'}) from ${ctx.source}; check the server address and network`,
        retryable: true,
        details: typeof code === 'string' ? { backendCode: code } : {},
        cause: error,
      });
    }
    return new StorageError({
      ...context,
      code: 'Internal',
      message: `unexpected ${(error as Error | null)?.name ?? typeof error} from the Kubernetes client during ${ctx.operation}; run with a debug logger to see the cause`,
      cause: error,
    });
  }
  const { status, reason } = failure;
  const afterHeader = retryAfterMs(failure.headers, ctx.now ?? Date.now());
  const afterStatus = failure.details.retryAfterSeconds;
  const make = (
    code: StorageErrorCode | undefined,
    message: string | undefined,
    extra: Record<string, unknown> = {},
    retryable?: boolean,
  ) =>
    backendError({
      ...context,
      service: SERVICE,
      status,
      code,
      message,
      retryable,
      retryAfterMs:
        afterHeader ?? (typeof afterStatus === 'number' && afterStatus >= 0 ? afterStatus * 1000 : undefined),
      details: {
        ...(reason ? { backendCode: reason } : {}),
        namespace: ctx.namespace,
        verb: ctx.verb,
        resource: 'secrets',
        ...(ctx.secretName ? { secretName: ctx.secretName } : {}),
        ...extra,
      },
      cause: error,
    });
  if (status === 401) {
    return make(
      undefined,
      `the Kubernetes API server rejected the credentials of ${ctx.source} (401 Unauthorized): the token is invalid or expired`,
    );
  }
  if (status === 403) {
    // The Status names the user only in its message; the verb, resource and namespace are ours.
    const user = /User "([^"]+)"/.exec(failure.message ?? '')?.[1];
    const rule = `{apiGroups: [""], resources: ["secrets"], verbs: ["${ctx.verb}"]}`;
    return make(
      undefined,
      `${user ? `"${user}"` : 'the caller'} may not ${ctx.verb} secrets in namespace "${ctx.namespace}": ` +
        `add the rule ${rule} to a Role in namespace "${ctx.namespace}" and bind it with a RoleBinding`,
      {
        ...(user ? { user } : {}),
        requiredRule: { apiGroups: [''], resources: ['secrets'], verbs: [ctx.verb] },
      },
    );
  }
  if (status === 404 && failure.details.kind === 'namespaces') {
    return make(
      'InvalidConfig',
      `namespace "${ctx.namespace}" does not exist; create it or choose another namespace`,
      {},
      false,
    );
  }
  if (status === 409) {
    return make(
      undefined,
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
    return make('SizeLimitExceeded', `the API server refused the Secret as too large (${status})`, {}, false);
  }
  if (status === 422) {
    const fields = (failure.details.causes ?? []).map((c) => c.field).filter(Boolean);
    return make(
      'InvalidMetadata',
      `the API server refused the Secret as invalid (fields: ${fields.join(', ') || 'unknown'})`,
      { fields },
      false,
    );
  }
  if (status === 429 || status >= 500) {
    return make(
      undefined,
      `the Kubernetes API server ${status === 429 ? 'is throttling requests' : 'is unavailable'} (${status}${reason ? ` ${reason}` : ''}); retried with backoff`,
    );
  }
  return make(
    status === 404 ? undefined : 'Internal',
    status === 404
      ? undefined
      : `the Kubernetes API server answered ${status}${reason ? ` ${reason}` : ''} to ${ctx.verb} secrets`,
    {},
    status === 404 ? undefined : false,
  );
}
