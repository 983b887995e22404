/**
 * nebula-credential: one storage interface for credentials over interchangeable encrypted backends.
 * Provider classes live in subpath modules (`nebula-credential/local`, `/aws`, `/azure`, `/vault`,
 * `/kubernetes`, `/memory`); `createStorageProvider` loads them by name, lazily.
 *
 * @packageDocumentation
 */
export { BaseStorageProvider, type ProviderOperationOptions } from './core/base-provider.js';
export { type Clock, ManualClock, monotonicMs, systemClock } from './core/clock.js';
export { DEFAULT_MAX_SOCKETS, MAX_SOCKETS_OPTION, readMaxSockets } from './core/connection-pool.js';
export {
  ARGON2ID_PARAMETERS,
  ENCRYPTION_FORMAT_VERSION,
  type EncryptedData,
  type EncryptedDataJson,
  EncryptionManager,
  encryptedDataFromJson,
  encryptedDataToJson,
  MIN_SALT_BYTES,
} from './core/crypto.js';
export { asyncDisposeSymbol, disposeSymbol } from './core/dispose.js';
export {
  CREDENTIAL_DOCUMENT_FORMAT,
  type CredentialDocument,
  decodeCredentialDocument,
  encodeCredentialDocument,
} from './core/document.js';
export {
  type ConfigIssue,
  isStorageError,
  STORAGE_ERROR_CODES,
  StorageError,
  type StorageErrorCode,
  type StorageErrorDetails,
  type StorageErrorInit,
  type StorageOperation,
  toStorageError,
} from './core/errors.js';
export {
  type CreateStorageProviderOptions,
  createStorageProvider,
  PROVIDER_NAMES,
  type StorageConfig,
} from './core/factory.js';
export {
  type BoundedFileReadOptions,
  FILE_SIZE_LIMITS,
  readBoundedFile,
  readBoundedTextFile,
} from './core/files.js';
export { CredentialId, type CredentialIdLike, MAX_CREDENTIAL_ID_BYTES } from './core/id.js';
export {
  assertCredentialSize,
  assertTagLimits,
  assertWithinSizeLimit,
  type TagLimits,
} from './core/limits.js';
export { type Logger, redact, silentLogger } from './core/logger.js';
export {
  type CredentialContext,
  type CredentialFilter,
  type CredentialMetadata,
  type CredentialMetadataJson,
  createContext,
  createMetadata,
  matchesFilter,
  metadataForOverwrite,
  metadataFromJson,
  metadataToJson,
  type RotationPolicy,
  validateContext,
  validateFilter,
  validateMetadata,
} from './core/metadata.js';
export {
  bridgeMetricsToOpenTelemetry,
  type MetricsListener,
  type OpenTelemetryMeterLike,
  type OperationMetricsSnapshot,
  StorageMetrics,
} from './core/metrics.js';
export {
  decodeCredentialName,
  encodeCredentialName,
  type NameEncodingOptions,
  type NameProfile,
} from './core/name-mapping.js';
export { type AttemptContext, type ErrorMapper, OperationRunner, type RunOptions } from './core/operation.js';
export {
  type CommonProviderOptions,
  DEFAULT_TIMEOUTS,
  type OperationTimeouts,
  OptionsValidator,
  type ResolvedCommonOptions,
} from './core/options.js';
export { importOptionalPeer } from './core/peer.js';
export type {
  ConnectOptions,
  ProviderCapabilities,
  ProviderName,
  StorageProvider,
  StoredCredential,
  StoreOptions,
} from './core/provider.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy, resolveRetryPolicy, retryDelayMs } from './core/retry.js';
export { REDACTED, SecretString } from './core/secret-string.js';
export {
  CredentialStore,
  type CredentialStoreConstructorOptions,
  type CredentialStoreOptions,
  credentialAssociatedData,
  type EncryptionConfig,
  openCredentialStore,
  type PutOptions,
  type RetrievedSecret,
  readKeyFile,
  resolveEncryption,
} from './core/store.js';
export {
  type BackendErrorInit,
  backendError,
  classifyHttpStatus,
  classifyTransportFailure,
  type HeaderSource,
  retryAfterMs,
  type TransportErrorContext,
  type TransportFailure,
  type TransportFailureKind,
  transportError,
} from './core/transport.js';
export {
  assertSecureEndpoint,
  type CaBundleContext,
  checkEndpoint,
  type EndpointSource,
  INSECURE_HTTP_OPTION,
  isLoopbackHost,
  loadCaBundle,
  pemCertificatesProblem,
  readEndpointOption,
  readTlsOptions,
  type TlsTrustOptions,
} from './core/transport-security.js';
