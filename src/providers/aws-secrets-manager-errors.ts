import { StorageError, type StorageOperation } from '../core/errors.js';

const PROVIDER = 'aws-secrets-manager';

/**
 * What the provider knew about a call when it failed: the IAM action and the secret it addressed.
 *
 * @example
 * ```ts
 * const call: AwsCallContext = { action: 'secretsmanager:GetSecretValue', resource: 'nebula/credentials/api_key' };
 * ```
 */
export interface AwsCallContext {
  /** IAM action of the call, e.g. `secretsmanager:GetSecretValue`. */
  action: string;
  /** Secret name (or `*` for ListSecrets). */
  resource: string;
}

/** Error codes AWS (and the SDK's retry strategy) treat as throttling. */
const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
]);

const AUTHENTICATION = new Set([
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'ExpiredToken',
  'SignatureDoesNotMatch',
  'CredentialsProviderError',
]);

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_HTTP2_STREAM_ERROR',
]);

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $fault?: unknown;
  $retryable?: { throttling?: boolean } | undefined;
  $metadata?: { httpStatusCode?: number; requestId?: string } | undefined;
  $response?: { headers?: Record<string, string | undefined> } | undefined;
}

function retryAfterMs(error: SdkErrorShape): number | undefined {
  const headers = error.$response?.headers ?? {};
  const amz = headers['x-amz-retry-after'];
  if (amz !== undefined && /^\d+$/.test(amz)) return Number(amz);
  const standard = headers['retry-after'];
  if (standard === undefined) return undefined;
  if (/^\d+$/.test(standard)) return Number(standard) * 1000;
  const at = Date.parse(standard);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

// AWS names the denied resource only in the message text; there is no field for it.
function deniedResource(message: string): string | undefined {
  return /on resource: (\S+)/.exec(message)?.[1];
}

/**
 * Maps an error from the AWS SDK (or the network under it) to a {@link StorageError}, from the structured
 * fields: the error `name` (the SDK copies `__type` there), `$metadata.httpStatusCode`, `$retryable`, and the
 * Node.js error `code` for network and TLS failures. Messages never include secret values.
 *
 * @example
 * ```ts
 * import { mapAwsError } from 'nebula-credential/aws';
 * const err = mapAwsError({ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } }, 'retrieve',
 *   'api_key', { action: 'secretsmanager:GetSecretValue', resource: 'nebula/credentials/api_key' });
 * console.log(err.code); // NotFound
 * ```
 */
export function mapAwsError(
  raw: unknown,
  operation: StorageOperation,
  credentialId: string | undefined,
  call?: AwsCallContext,
): StorageError {
  const error = (typeof raw === 'object' && raw !== null ? raw : {}) as SdkErrorShape;
  const name = typeof error.name === 'string' ? error.name : undefined;
  const code = typeof error.code === 'string' ? error.code : undefined;
  const status = error.$metadata?.httpStatusCode;
  const message = typeof error.message === 'string' ? error.message : '';
  const base = {
    provider: PROVIDER,
    operation,
    credentialId,
    cause: raw,
  };
  const details = {
    ...(status !== undefined ? { status } : {}),
    ...(name && error.$metadata ? { backendCode: name } : {}),
    ...(error.$metadata?.requestId ? { requestId: error.$metadata.requestId } : {}),
    ...(call ? { action: call.action, resource: call.resource } : {}),
  };
  const make = (
    c: StorageError['code'],
    text: string,
    retryable?: boolean,
    extra: Record<string, unknown> = {},
  ) => new StorageError({ ...base, code: c, message: text, retryable, details: { ...details, ...extra } });

  if (name === 'AccessDeniedException' || status === 403) {
    const resource = deniedResource(message) ?? call?.resource;
    return make(
      'PermissionDenied',
      `AWS denied ${call?.action ?? 'the call'}${resource ? ` on ${resource}` : ''}; grant this action to the caller's IAM policy`,
      false,
      { ...(resource ? { resource } : {}) },
    );
  }
  if (name !== undefined && AUTHENTICATION.has(name)) {
    const expired = name === 'InvalidSignatureException' && /Signature expired/.test(message);
    return make(
      'AuthenticationFailed',
      name === 'CredentialsProviderError'
        ? 'no AWS credentials found: set credentials in the options, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a profile in the shared credentials file (AWS_PROFILE)'
        : expired
          ? 'AWS rejected the request signature as expired: the system clock is off by more than 5 minutes'
          : `AWS rejected the credentials (${name}): check the access key id and secret access key, or the session token`,
      false,
    );
  }
  if (name === 'ResourceNotFoundException') {
    return make('NotFound', `credential "${credentialId ?? '?'}" does not exist in ${PROVIDER}`, false);
  }
  if (name === 'DecryptionFailure' || name === 'EncryptionFailure') {
    return make(
      'PermissionDenied',
      `Secrets Manager could not use the KMS key (${name}): the caller needs kms:Decrypt and kms:GenerateDataKey on the secret's key, and the key must be enabled`,
      false,
      { action: name === 'DecryptionFailure' ? 'kms:Decrypt' : 'kms:GenerateDataKey' },
    );
  }
  if ((name !== undefined && THROTTLING.has(name)) || status === 429 || error.$retryable?.throttling) {
    const after = retryAfterMs(error);
    return make(
      'RateLimited',
      'AWS throttled the request (ThrottlingException); it will be retried with backoff',
      true,
      after !== undefined ? { retryAfterMs: after } : {},
    );
  }
  if (name === 'LimitExceededException') {
    return make(
      'RateLimited',
      'a Secrets Manager quota was exceeded (LimitExceededException); see the Service Quotas console',
      false,
    );
  }
  if (
    name === 'ResourceExistsException' ||
    name === 'InvalidRequestException' ||
    name === 'PreconditionNotMet'
  ) {
    return make(
      'Conflict',
      `Secrets Manager refused the request in the secret's current state (${name}): ${message}`,
      false,
    );
  }
  if (
    name === 'InvalidParameterException' ||
    name === 'ValidationException' ||
    name === 'MalformedPolicyDocumentException'
  ) {
    return make('InvalidConfig', `Secrets Manager rejected a parameter (${name}): ${message}`, false);
  }
  if (code !== undefined && TLS_CODES.has(code)) {
    return make(
      'InvalidConfig',
      `the TLS certificate of the Secrets Manager endpoint is not trusted (${code}); if it uses a private CA, set tls.caFile`,
      false,
    );
  }
  if (
    (status !== undefined && status >= 500) ||
    name === 'InternalServiceError' ||
    name === 'ServiceUnavailable' ||
    name === 'TimeoutError' ||
    name === 'RequestTimeout' ||
    name === 'RequestTimeoutException' ||
    (code !== undefined && NETWORK_CODES.has(code))
  ) {
    return make(
      'Unavailable',
      `Secrets Manager is unreachable or failing (${name ?? code ?? 'network error'}${status ? `, HTTP ${status}` : ''}); retrying`,
      true,
    );
  }
  if (status !== undefined) {
    return make('Internal', `Secrets Manager answered HTTP ${status} (${name ?? 'unknown error'})`, false);
  }
  if (code !== undefined) {
    return make(
      'Unavailable',
      `the request to Secrets Manager failed (${code}); check the endpoint and network`,
      true,
    );
  }
  return make(
    'Internal',
    `${operation} failed with an unexpected ${name ?? typeof raw}; run with a debug logger to see the cause`,
    false,
  );
}
