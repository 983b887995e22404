import type { StorageError, StorageOperation } from '../core/errors.js';
import { isResponseTooLarge } from '../core/response-limit.js';
import { backendError, retryAfterMs, transportError } from '../core/transport.js';
import { AWS_SECRETS_MANAGER as PROVIDER } from './aws-secrets-manager-options.js';

const SERVICE = 'Secrets Manager';

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

interface SdkErrorShape {
  name?: unknown;
  message?: unknown;
  $fault?: unknown;
  $retryable?: { throttling?: boolean } | undefined;
  $metadata?: { httpStatusCode?: number; requestId?: string } | undefined;
  $response?: { headers?: Record<string, string | undefined> } | undefined;
}

// AWS names the denied resource only in the message text; there is no field for it.
function deniedResource(message: string): string | undefined {
  return /on resource: (\S+)/.exec(message)?.[1];
}

/**
 * Maps an error from the AWS SDK (or the network under it) to a {@link StorageError}, from the structured
 * fields: the error `name` (the SDK copies `__type` there), `$metadata.httpStatusCode`, `$retryable`, and the
 * Node.js error `code` for network and TLS failures (through the core transport policy). Messages never
 * include secret values. `now` measures an HTTP-date `Retry-After` (pass the provider's clock).
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
  now: number = Date.now(),
): StorageError {
  const error = (typeof raw === 'object' && raw !== null ? raw : {}) as SdkErrorShape;
  const name = typeof error.name === 'string' ? error.name : undefined;
  const status = error.$metadata?.httpStatusCode;
  const message = typeof error.message === 'string' ? error.message : '';
  const details = {
    ...(name && error.$metadata ? { backendCode: name } : {}),
    ...(error.$metadata?.requestId ? { requestId: error.$metadata.requestId } : {}),
    ...(call ? { action: call.action, resource: call.resource } : {}),
  };
  const base = { provider: PROVIDER, operation, credentialId, service: SERVICE, cause: raw };
  // The deserializer stamps even a body it could not finish reading with the response's status.
  if (status === undefined || isResponseTooLarge(raw)) {
    const network = transportError(raw, {
      ...base,
      endpointSource: 'the endpoint option or AWS_ENDPOINT_URL_SECRETS_MANAGER',
      details,
    });
    if (network) return network;
  }
  const make = (
    code: StorageError['code'] | undefined,
    text: string | undefined,
    retryable?: boolean,
    extra: Record<string, unknown> = {},
  ) =>
    backendError({
      ...base,
      status,
      code,
      message: text,
      retryable,
      retryAfterMs: retryAfterMs(error.$response?.headers, now),
      details: { ...details, ...extra },
    });

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
    return make(
      'RateLimited',
      'AWS throttled the request (ThrottlingException); it will be retried with backoff',
      true,
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
  if (
    name === 'InternalServiceError' ||
    name === 'ServiceUnavailable' ||
    name === 'TimeoutError' ||
    name === 'RequestTimeout' ||
    name === 'RequestTimeoutException'
  ) {
    return make(
      'Unavailable',
      `Secrets Manager is unreachable or failing (${name}${status ? `, HTTP ${status}` : ''}); retrying`,
      true,
    );
  }
  if (status !== undefined && (status === 429 || status >= 500)) return make(undefined, undefined);
  // AWS names every client error in __type; an unknown one (or an answer without a status) is unexpected.
  return make(
    'Internal',
    status === undefined
      ? `${operation} failed with an unexpected ${name ?? typeof raw}; run with a debug logger to see the cause`
      : `Secrets Manager answered HTTP ${status} (${name ?? 'unknown error'})`,
    false,
  );
}
