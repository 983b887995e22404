// The one transport policy of every network provider: what a failure below HTTP means (by its Node.js
// `code`, found anywhere in the `cause` chain), what an HTTP status means by default, and how long a server
// asked us to wait. Providers map what is specific to their service first, then call these.
import {
  StorageError,
  type StorageErrorCode,
  type StorageErrorDetails,
  type StorageOperation,
} from './errors.js';
import { proxyTunnelError } from './proxy-tunnel.js';
import { type ResponseTooLargeError, responseTooLargeError } from './response-limit.js';

/**
 * What broke below HTTP, in the terms the library decides on:
 * - `certificate`: the server's certificate is not trusted, expired, self-signed or for another name;
 * - `tls-handshake`: no TLS on that port, or no protocol or cipher in common;
 * - `dns-not-found`: the host name does not exist (`ENOTFOUND`);
 * - `dns-temporary`: the resolver could not answer now (`EAI_AGAIN`);
 * - `refused`, `reset`, `timeout`, `unreachable`: the connection was refused, cut, timed out at the socket
 *   level, or had no route;
 * - `protocol`: the HTTP/2 or undici connection broke mid-exchange.
 *
 * @example
 * ```ts
 * import { classifyTransportFailure } from 'nebula-credential';
 * const failure = classifyTransportFailure(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }));
 * console.log(failure?.kind); // refused
 * ```
 */
export type TransportFailureKind =
  | 'certificate'
  | 'tls-handshake'
  | 'dns-not-found'
  | 'dns-temporary'
  | 'refused'
  | 'reset'
  | 'timeout'
  | 'unreachable'
  | 'protocol';

/**
 * A classified failure below HTTP: its kind and the Node.js code it was recognised by.
 *
 * @example
 * ```ts
 * const failure: TransportFailure = { kind: 'certificate', code: 'SELF_SIGNED_CERT_IN_CHAIN' };
 * ```
 */
export interface TransportFailure {
  kind: TransportFailureKind;
  code: string;
}

// OpenSSL's verification results as Node.js reports them, plus Node's own host name checks.
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_CERT_ALTNAME_FORMAT',
]);

const CODE_KINDS: ReadonlyMap<string, TransportFailureKind> = new Map([
  ['EPROTO', 'tls-handshake'],
  ['ERR_TLS_INVALID_PROTOCOL_VERSION', 'tls-handshake'],
  ['ERR_TLS_PROTOCOL_VERSION_CONFLICT', 'tls-handshake'],
  ['ENOTFOUND', 'dns-not-found'],
  ['EAI_FAIL', 'dns-not-found'],
  ['EAI_AGAIN', 'dns-temporary'],
  ['ECONNREFUSED', 'refused'],
  ['ECONNRESET', 'reset'],
  ['EPIPE', 'reset'],
  ['ECONNABORTED', 'reset'],
  ['ERR_STREAM_PREMATURE_CLOSE', 'reset'],
  ['UND_ERR_SOCKET', 'reset'],
  ['UND_ERR_CLOSED', 'reset'],
  ['UND_ERR_DESTROYED', 'reset'],
  ['ETIMEDOUT', 'timeout'],
  ['ERR_TLS_HANDSHAKE_TIMEOUT', 'timeout'],
  ['UND_ERR_CONNECT_TIMEOUT', 'timeout'],
  ['UND_ERR_HEADERS_TIMEOUT', 'timeout'],
  ['UND_ERR_BODY_TIMEOUT', 'timeout'],
  ['EHOSTUNREACH', 'unreachable'],
  ['ENETUNREACH', 'unreachable'],
  ['ENETDOWN', 'unreachable'],
  ['EHOSTDOWN', 'unreachable'],
  ['EADDRNOTAVAIL', 'unreachable'],
  ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'protocol'],
  ['UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'protocol'],
  ['ERR_HTTP2_ERROR', 'protocol'],
  ['ERR_HTTP2_STREAM_ERROR', 'protocol'],
  ['ERR_HTTP2_STREAM_CANCEL', 'protocol'],
  ['ERR_HTTP2_SESSION_ERROR', 'protocol'],
  ['ERR_HTTP2_GOAWAY_SESSION', 'protocol'],
  ['ERR_HTTP2_INVALID_SESSION', 'protocol'],
  ['ERR_HTTP2_PING_CANCEL', 'protocol'],
  ['ERR_HTTP2_SOCKET_UNBOUND', 'protocol'],
]);

function kindOfCode(code: string): TransportFailureKind | undefined {
  if (CERTIFICATE_CODES.has(code)) return 'certificate';
  const known = CODE_KINDS.get(code);
  if (known) return known;
  // OpenSSL reports handshake alerts and record errors as ERR_SSL_<reason>; there are hundreds.
  if (code.startsWith('ERR_SSL_')) return 'tls-handshake';
  return undefined;
}

/**
 * Finds the first network or TLS failure in `error`, its `cause` chain and the `errors` of an
 * AggregateError (SDKs wrap the Node.js error: the AWS SDK keeps it, Azure's RestError and node-fetch's
 * FetchError copy its code, gax puts it in `cause`). Undefined when nothing in the chain is one.
 *
 * @example
 * ```ts
 * import { classifyTransportFailure } from 'nebula-credential';
 * const wrapped = new Error('request failed', { cause: Object.assign(new Error('x'), { code: 'CERT_HAS_EXPIRED' }) });
 * console.log(classifyTransportFailure(wrapped)); // { kind: 'certificate', code: 'CERT_HAS_EXPIRED' }
 * ```
 */
export function classifyTransportFailure(error: unknown): TransportFailure | undefined {
  const queue: unknown[] = [error];
  const seen = new Set<unknown>();
  // Bounded: a cause chain is a few links long; a cycle or a huge AggregateError must not spin.
  while (queue.length > 0 && seen.size < 32) {
    const current = queue.shift();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    const { code, cause, errors } = current as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === 'string') {
      const kind = kindOfCode(code);
      if (kind) return { kind, code };
    }
    queue.push(cause);
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return undefined;
}

/**
 * What a provider tells the transport policy about the failed call, for the error it builds.
 *
 * @example
 * ```ts
 * const context: TransportErrorContext = { provider: 'hashicorp-vault', operation: 'retrieve', service: 'Vault',
 *   endpointSource: 'the address option' };
 * ```
 */
export interface TransportErrorContext {
  provider: string;
  operation: StorageOperation;
  credentialId?: string | undefined;
  /** The service in the user's words, as the subject of a sentence: `Vault`, `the Kubernetes API server`. */
  service: string;
  /** What names the address, for "check ...": `the address option`, `kubeconfig /home/me/.kube/config`. */
  endpointSource?: string | undefined;
  /** How to trust a private CA. Default: set `tls.caFile` (a PEM file) or `tls.ca` (PEM text). */
  trustHint?: string | undefined;
  /** Provider details to keep on the error (the action, the secret name). */
  details?: StorageErrorDetails | undefined;
}

const DEFAULT_TRUST_HINT = 'set tls.caFile (a PEM file) or tls.ca (PEM text) to the CA that signed it';

/**
 * The StorageError for a network or TLS failure anywhere in `error`'s cause chain, or undefined when
 * there is none (the provider then maps the error itself). The decisions, the same for every provider:
 *
 * | failure | code | retryable |
 * | --- | --- | --- |
 * | untrusted, expired or mismatched certificate; TLS handshake failure | `InvalidConfig` | no |
 * | host name does not exist (`ENOTFOUND`) | `Unavailable` | no |
 * | resolver busy (`EAI_AGAIN`), refused, reset, socket timeout, no route, broken HTTP/2 | `Unavailable` | yes |
 * | a response body past its bound ({@link ResponseTooLargeError}) | `SizeLimitExceeded` | no |
 * | a failed proxy CONNECT (see `proxyTunnelError`) | 407 `AuthenticationFailed`, else `Unavailable` | see there |
 *
 * @example
 * ```ts
 * import { transportError } from 'nebula-credential';
 * const error = transportError(Object.assign(new Error('x'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }),
 *   { provider: 'hashicorp-vault', operation: 'connect', service: 'Vault' });
 * console.log(error?.code, error?.retryable); // InvalidConfig false
 * ```
 */
export function transportError(error: unknown, context: TransportErrorContext): StorageError | undefined {
  const cut = responseTooLargeError(error, context);
  if (cut) return cut;
  const tunnel = proxyTunnelError(error, context);
  if (tunnel) return tunnel.withContext({ details: context.details });
  const failure = classifyTransportFailure(error);
  if (!failure) return undefined;
  const { code, kind } = failure;
  const { service } = context;
  const check = context.endpointSource ? `check ${context.endpointSource}` : 'check the address';
  const make = (storageCode: StorageErrorCode, message: string, retryable: boolean, extra = {}) =>
    new StorageError({
      code: storageCode,
      message,
      provider: context.provider,
      operation: context.operation,
      credentialId: context.credentialId,
      retryable,
      details: { ...context.details, backendCode: code, transport: kind, ...extra },
      cause: error,
    });
  switch (kind) {
    case 'certificate': {
      const message =
        code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH'
          ? `the TLS certificate of ${service} is not valid for the host name in the URL (${code}): connect with a name the certificate lists, or reissue the certificate`
          : `the TLS certificate of ${service} is not trusted (${code}); if a private CA signed it, ${context.trustHint ?? DEFAULT_TRUST_HINT}`;
      return make('InvalidConfig', message, false, {
        option: 'tls.caFile',
        issues: [{ path: 'tls.caFile', message }],
      });
    }
    case 'tls-handshake':
      return make(
        'InvalidConfig',
        `the TLS handshake with ${service} failed (${code}): the port may not speak TLS (http:// vs https://) or the TLS versions do not match; ${check}`,
        false,
      );
    case 'dns-not-found':
      return make(
        'Unavailable',
        `the host name of ${service} does not resolve (${code}); ${check} (a typo, or a DNS name not reachable from this network)`,
        false,
      );
    case 'dns-temporary':
      return make(
        'Unavailable',
        `the DNS resolver could not look up ${service} just now (${code}); retried with backoff`,
        true,
      );
    case 'refused':
      return make(
        'Unavailable',
        `${service} refused the connection (${code}); ${check} and that the service is running`,
        true,
      );
    case 'reset':
      return make(
        'Unavailable',
        `the connection to ${service} was cut (${code}); retried with backoff`,
        true,
      );
    case 'timeout':
      return make(
        'Unavailable',
        `the connection to ${service} timed out (${code}); ${check} and the network between`,
        true,
      );
    case 'unreachable':
      return make('Unavailable', `no network route to ${service} (${code}); ${check} and the network`, true);
    case 'protocol':
      return make(
        'Unavailable',
        `the connection to ${service} broke mid-request (${code}); retried with backoff`,
        true,
      );
  }
}

/**
 * Everything needed to turn a backend's answer into a StorageError.
 *
 * @example
 * ```ts
 * const init: BackendErrorInit = { provider: 'kubernetes', operation: 'retrieve', service: 'the Kubernetes API server',
 *   status: 403, message: 'the caller may not get secrets in namespace "apps"', details: { verb: 'get' } };
 * ```
 */
export interface BackendErrorInit {
  provider: string;
  /** The operation; when left out, the runner fills it in. */
  operation?: StorageOperation | undefined;
  credentialId?: string | undefined;
  /** The service in the user's words: `Secrets Manager`, `the vault`, `Vault`, `the Kubernetes API server`. */
  service: string;
  /** HTTP status of the answer, when there was one: it decides the code unless `code` is given. */
  status?: number | undefined;
  /** The provider's own reading of a service-specific error; wins over the status default. */
  code?: StorageErrorCode | undefined;
  /** Wins over the default of the code. */
  retryable?: boolean | undefined;
  /** The provider's wording; without it the status default is used. */
  message?: string | undefined;
  /** Server-requested wait (see {@link retryAfterMs}); kept on 429 and 5xx answers. */
  retryAfterMs?: number | undefined;
  details?: StorageErrorDetails | undefined;
  cause?: unknown;
}

/**
 * The default meaning of an HTTP status, the same on every provider: 401 `AuthenticationFailed`,
 * 403 `PermissionDenied`, 404 `NotFound`, 408 `Unavailable` (retryable), 409 and 412 `Conflict`, 413
 * `SizeLimitExceeded`, 429 `RateLimited` (retryable), 501 and 505 `Unsupported`, other 5xx `Unavailable`
 * (retryable), anything else `Internal`.
 *
 * @example
 * ```ts
 * import { classifyHttpStatus } from 'nebula-credential';
 * console.log(classifyHttpStatus(429)); // { code: 'RateLimited', retryable: true }
 * ```
 */
export function classifyHttpStatus(status: number): { code: StorageErrorCode; retryable: boolean } {
  switch (status) {
    case 401:
      return { code: 'AuthenticationFailed', retryable: false };
    case 403:
      return { code: 'PermissionDenied', retryable: false };
    case 404:
      return { code: 'NotFound', retryable: false };
    case 408:
      return { code: 'Unavailable', retryable: true };
    case 409:
    case 412:
      return { code: 'Conflict', retryable: false };
    case 413:
      return { code: 'SizeLimitExceeded', retryable: false };
    case 429:
      return { code: 'RateLimited', retryable: true };
    case 501:
    case 505:
      return { code: 'Unsupported', retryable: false };
  }
  return status >= 500 && status < 600
    ? { code: 'Unavailable', retryable: true }
    : { code: 'Internal', retryable: false };
}

function defaultMessage(init: BackendErrorInit, status: number | undefined): string {
  const { service } = init;
  switch (status) {
    case undefined:
      return `${init.operation ?? 'the request'} failed with an unexpected answer from ${service}; run with a debug logger to see the cause`;
    case 401:
      return `${service} rejected the credentials (HTTP 401): they are missing, invalid or expired`;
    case 403:
      return `${service} denied ${init.operation ?? 'the request'} (HTTP 403): grant the caller the permission it needs`;
    case 404:
      return init.credentialId === undefined
        ? `${service} has no such resource (HTTP 404)`
        : `credential "${init.credentialId}" does not exist in ${init.provider}`;
    case 408:
      return `${service} timed out waiting for the request (HTTP 408); retried with backoff`;
    case 409:
      return `${service} reported a conflict (HTTP 409): the resource changed meanwhile; read it again and retry`;
    case 412:
      return `a precondition failed at ${service} (HTTP 412): the resource changed since it was read; read it again and retry`;
    case 413:
      return `${service} refused the request as too large (HTTP 413); store less`;
    case 429:
      return `${service} is throttling requests (HTTP 429); retried after the wait it asked for`;
  }
  if (status === 501 || status === 505) return `${service} does not support this request (HTTP ${status})`;
  return status >= 500 && status < 600
    ? `${service} failed with HTTP ${status}; retried with backoff`
    : `unexpected HTTP ${status} from ${service} to ${init.operation ?? 'the request'}`;
}

/**
 * Builds the StorageError for an answer of the backend: the provider names what it recognised (`code`,
 * `message`, `details`) and the status default fills the rest, so the same status means the same code
 * and `retryable` on every provider.
 *
 * @example
 * ```ts
 * import { backendError } from 'nebula-credential';
 * const error = backendError({ provider: 'kubernetes', operation: 'retrieve', service: 'the Kubernetes API server',
 *   status: 429, retryAfterMs: 2000 });
 * console.log(error.code, error.retryable, error.details.retryAfterMs); // RateLimited true 2000
 * ```
 */
export function backendError(init: BackendErrorInit): StorageError {
  const status = init.status;
  const defaults =
    status === undefined ? { code: 'Internal' as const, retryable: false } : classifyHttpStatus(status);
  const code = init.code ?? defaults.code;
  const keepsWait = status === 429 || (status !== undefined && status >= 500) || code === 'RateLimited';
  return new StorageError({
    code,
    message: init.message ?? defaultMessage(init, status),
    provider: init.provider,
    operation: init.operation,
    credentialId: init.credentialId,
    retryable: init.retryable ?? (init.code === undefined ? defaults.retryable : undefined),
    details: {
      ...(status === undefined ? {} : { status }),
      ...init.details,
      ...(keepsWait && init.retryAfterMs !== undefined ? { retryAfterMs: init.retryAfterMs } : {}),
    },
    cause: init.cause,
  });
}

/**
 * Response headers in any of the shapes SDKs hand out: a plain object (Node.js, the AWS SDK, client-node),
 * or anything with `get(name)` (fetch `Headers`, Azure's `HttpHeaders`).
 *
 * @example
 * ```ts
 * const plain: HeaderSource = { 'retry-after': '2' };
 * const fetched: HeaderSource = new Headers({ 'Retry-After': '2' });
 * ```
 */
export type HeaderSource =
  | { get(name: string): string | null | undefined }
  | Readonly<Record<string, string | readonly string[] | number | undefined>>
  | undefined;

function header(headers: HeaderSource, name: string): string | undefined {
  if (headers === undefined || headers === null) return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const value = (headers as { get(name: string): string | null | undefined }).get(name);
    return value === null || value === undefined ? undefined : String(value);
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | number | undefined>>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? String(value[0]) : String(value);
}

const MILLISECOND_HEADERS = ['x-amz-retry-after', 'retry-after-ms', 'x-ms-retry-after-ms'];

/**
 * The wait a server asked for, in milliseconds: `x-amz-retry-after`, `retry-after-ms` or
 * `x-ms-retry-after-ms` (milliseconds), else `Retry-After` as delta-seconds or an HTTP date (measured
 * from `now`, so an injected clock decides). Undefined when there is no usable header.
 *
 * @example
 * ```ts
 * import { retryAfterMs } from 'nebula-credential';
 * retryAfterMs({ 'retry-after': '2' }, Date.now()); // 2000
 * retryAfterMs({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }, Date.UTC(2026, 0, 1)); // 5000
 * ```
 */
export function retryAfterMs(headers: HeaderSource, now: number): number | undefined {
  for (const name of MILLISECOND_HEADERS) {
    const value = header(headers, name)?.trim();
    if (value !== undefined && /^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value));
  }
  const value = header(headers, 'retry-after')?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  // An HTTP date names its day and month; Date.parse would take "-1" or "2" as years.
  if (!/[a-z]{3}/i.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
