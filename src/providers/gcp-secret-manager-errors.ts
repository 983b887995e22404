import type { StorageError, StorageErrorCode, StorageOperation } from '../core/errors.js';
import { backendError, transportError } from '../core/transport.js';

const PROVIDER = 'gcp-secret-manager';
const SERVICE = 'Secret Manager';

/**
 * What the provider knew about a call when it failed: the RPC, the IAM permission it needs and the
 * resource it addressed (for `PermissionDenied` when the service does not name them).
 *
 * @example
 * ```ts
 * const call: GcpCallContext = { rpc: 'AccessSecretVersion', permission: 'secretmanager.versions.access',
 *   resource: 'projects/acme/secrets/nebula-api_key/versions/latest' };
 * ```
 */
export interface GcpCallContext {
  rpc: string;
  permission: string;
  resource: string;
}

/** gRPC status codes by number, as google-gax puts them in `code` on both transports. */
const GRPC_STATUS: readonly string[] = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/** The HTTP status each gRPC status stands for (google.rpc.Code), so the core's status defaults apply. */
const HTTP_OF_STATUS: Readonly<Record<string, number>> = {
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  UNAUTHENTICATED: 401,
};

interface GaxErrorShape {
  code?: unknown;
  details?: unknown;
  message?: unknown;
  reason?: unknown;
  domain?: unknown;
  errorInfoMetadata?: unknown;
  statusDetails?: unknown;
}

/**
 * The gRPC status name of a google-gax error: `code` is the numeric status on both transports (the REST
 * transport converts Google's JSON error body); undefined for anything that is not a status.
 *
 * @example
 * ```ts
 * console.log(gcpStatusOf({ code: 5 })); // NOT_FOUND
 * ```
 */
export function gcpStatusOf(raw: unknown): string | undefined {
  const code = (raw as GaxErrorShape | null)?.code;
  if (typeof code === 'number' && Number.isInteger(code) && code > 0 && code < GRPC_STATUS.length) {
    return GRPC_STATUS[code];
  }
  if (typeof code === 'string' && HTTP_OF_STATUS[code] !== undefined) return code;
  return undefined;
}

/** The server's wait from a google.rpc.RetryInfo detail (`retryDelay` as `{seconds, nanos}` or "2s"). */
export function gcpRetryDelayMs(raw: unknown): number | undefined {
  const details = (raw as GaxErrorShape | null)?.statusDetails;
  if (!Array.isArray(details)) return undefined;
  for (const detail of details) {
    const delay = (detail as { retryDelay?: unknown } | null)?.retryDelay;
    if (delay === undefined || delay === null) continue;
    if (typeof delay === 'string') {
      const m = /^(\d+(?:\.\d+)?)s$/.exec(delay);
      if (m) return Math.round(Number(m[1]) * 1000);
      continue;
    }
    const { seconds, nanos } = delay as { seconds?: unknown; nanos?: unknown };
    const ms = Number(seconds ?? 0) * 1000 + Number(nanos ?? 0) / 1e6;
    if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  }
  return undefined;
}

/** google.rpc.ErrorInfo as google-gax exposes it: `reason`, `domain` and its `metadata` map. */
function errorInfo(error: GaxErrorShape): {
  reason?: string;
  domain?: string;
  metadata: Record<string, string>;
} {
  const metadata: Record<string, string> = {};
  if (typeof error.errorInfoMetadata === 'object' && error.errorInfoMetadata !== null) {
    for (const [k, v] of Object.entries(error.errorInfoMetadata)) if (typeof v === 'string') metadata[k] = v;
  }
  return {
    ...(typeof error.reason === 'string' ? { reason: error.reason } : {}),
    ...(typeof error.domain === 'string' ? { domain: error.domain } : {}),
    metadata,
  };
}

/**
 * Maps an error of the Secret Manager client (or of the network under it) to a {@link StorageError}, from
 * the structured fields only: the gRPC status in `code`, google.rpc.ErrorInfo (`reason`, `domain`,
 * `errorInfoMetadata`, where PERMISSION_DENIED names the permission) and RetryInfo (the wait of
 * RESOURCE_EXHAUSTED); failures below the RPC go through the core transport policy. The status's HTTP
 * equivalent gives the core default (`NOT_FOUND` 404, `UNAUTHENTICATED` 401, `UNAVAILABLE` 503, ...);
 * the GCP specifics refine it.
 *
 * @example
 * ```ts
 * import { mapGcpError } from 'nebula-credential/gcp';
 * const error = mapGcpError({ code: 7, reason: 'IAM_PERMISSION_DENIED',
 *   errorInfoMetadata: { permission: 'secretmanager.versions.access' } }, 'retrieve', 'api_key');
 * console.log(error.code, error.details.permission); // PermissionDenied secretmanager.versions.access
 * ```
 */
export function mapGcpError(
  raw: unknown,
  operation: StorageOperation,
  credentialId: string | undefined,
  call?: GcpCallContext,
): StorageError {
  const error = (typeof raw === 'object' && raw !== null ? raw : {}) as GaxErrorShape;
  const status = gcpStatusOf(raw);
  const base = { provider: PROVIDER, operation, credentialId, service: SERVICE, cause: raw };
  const callDetails = call ? { rpc: call.rpc, resource: call.resource } : {};
  // Below the RPC (refused, reset, DNS, certificates): a gRPC UNAVAILABLE carries the Node error too, so
  // the transport policy is asked first whenever the status says the call never got an answer.
  if (status === undefined || status === 'UNAVAILABLE' || status === 'INTERNAL') {
    const network = transportError(raw, {
      ...base,
      endpointSource: 'the apiEndpoint option',
      details: { ...callDetails, ...(status ? { backendCode: status } : {}) },
    });
    if (network) return network;
  }
  const info = errorInfo(error);
  const said = typeof error.details === 'string' && error.details ? error.details : undefined;
  const details = {
    ...callDetails,
    ...(status ? { backendCode: status } : {}),
    ...(info.reason ? { reason: info.reason } : {}),
    ...(info.domain ? { domain: info.domain } : {}),
  };
  const make = (
    code: StorageErrorCode | undefined,
    message: string | undefined,
    retryable?: boolean,
    extra = {},
  ) =>
    backendError({
      ...base,
      status: status === undefined ? undefined : HTTP_OF_STATUS[status],
      code,
      message,
      retryable,
      retryAfterMs: gcpRetryDelayMs(raw),
      details: { ...details, ...extra },
    });
  switch (status) {
    case 'NOT_FOUND':
      return make(
        'NotFound',
        credentialId === undefined ? `${SERVICE} has no such resource (NOT_FOUND)` : undefined,
        false,
      );
    case 'PERMISSION_DENIED': {
      const permission = info.metadata.permission ?? call?.permission;
      const resource = info.metadata.resource ?? call?.resource;
      return make(
        'PermissionDenied',
        `${SERVICE} denied ${permission ? `the permission ${permission}` : 'the call'}${resource ? ` on ${resource}` : ''}; grant it to the caller (roles/secretmanager.secretAccessor reads, roles/secretmanager.admin manages)`,
        false,
        { ...(permission ? { permission } : {}), ...(resource ? { resource } : {}) },
      );
    }
    case 'UNAUTHENTICATED':
      return make(
        'AuthenticationFailed',
        `${SERVICE} rejected the access token (UNAUTHENTICATED): it is missing, invalid, expired or revoked; check credentialsFile, credentials or Application Default Credentials`,
        false,
      );
    case 'ALREADY_EXISTS':
      return make(
        'Conflict',
        `the secret already exists (ALREADY_EXISTS): another writer created it first`,
        false,
      );
    case 'RESOURCE_EXHAUSTED':
      return make(
        'RateLimited',
        `${SERVICE} quota exhausted (RESOURCE_EXHAUSTED${info.metadata.quota_metric ? `, ${info.metadata.quota_metric}` : ''}); retried after the wait it asked for`,
        true,
        info.metadata.quota_metric ? { quotaMetric: info.metadata.quota_metric } : {},
      );
    case 'UNAVAILABLE':
      return make('Unavailable', `${SERVICE} is unavailable (UNAVAILABLE); retried with backoff`, true);
    case 'DEADLINE_EXCEEDED':
      return make(
        'Unavailable',
        `${SERVICE} did not answer in time (DEADLINE_EXCEEDED); retried with backoff`,
        true,
      );
    case 'FAILED_PRECONDITION':
      return make(
        'Conflict',
        `${SERVICE} refused ${call?.rpc ?? 'the call'} in the resource's current state (FAILED_PRECONDITION)${said ? `: ${said}` : ''}`,
        false,
      );
    case 'ABORTED':
      return make(
        'Conflict',
        `${SERVICE} aborted the call on a concurrent change (ABORTED); read again and retry`,
        false,
      );
    case 'INVALID_ARGUMENT':
    case 'OUT_OF_RANGE':
      return make(
        'InvalidConfig',
        `${SERVICE} rejected a parameter of ${call?.rpc ?? 'the call'} (${status})${said ? `: ${said}` : ''}`,
        false,
      );
    case 'CANCELLED':
      return make('Aborted', `the call to ${SERVICE} was cancelled`, false);
    case undefined:
      return make(
        'Internal',
        `${operation} failed with an unexpected ${raw instanceof Error ? raw.name : typeof raw} talking to ${SERVICE}; run with a debug logger to see the cause`,
        false,
      );
  }
  return make(undefined, `${SERVICE} failed with ${status}${said ? `: ${said}` : ''}`);
}
