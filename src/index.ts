/**
 * nebula-credential: one storage interface for credentials over interchangeable encrypted backends.
 * Provider classes live in subpath modules (`nebula-credential/local`, `/aws`, `/azure`, `/vault`,
 * `/kubernetes`, `/memory`); `createStorageProvider` loads them by name, lazily.
 *
 * @packageDocumentation
 */
export {
  BaseStorageProvider,
  type ProviderInit,
  type ProviderOperationOptions,
  type StoreAttemptOptions,
} from './core/base-provider.js';
export {
  asStorageError,
  type BulkReadResult,
  chunk,
  DEFAULT_BULK_CONCURRENCY,
  type GetManyOptions,
  mapWithConcurrency,
  retrieveEach,
} from './core/bulk.js';
export {
  CACHE_OPTION_FIELDS,
  type CacheEntry,
  CredentialCache,
  type CredentialCacheOptions,
  copyMetadata,
  type ResolvedCacheOptions,
} from './core/cache.js';
export {
  CIRCUIT_BREAKER_OPTION_FIELDS,
  CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitSnapshot,
  type CircuitState,
  type ResolvedCircuitBreakerOptions,
} from './core/circuit-breaker.js';
export { type Clock, ManualClock, monotonicMs, systemClock } from './core/clock.js';
export { DEFAULT_MAX_SOCKETS, MAX_SOCKETS_OPTION, maxSocketsOption } from './core/connection-pool.js';
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
  encodeCredentialDocumentWithin,
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
  type BoundedFileReadOptions,
  FILE_SIZE_LIMITS,
  readBoundedFile,
  readBoundedTextFile,
} from './core/files.js';
export { type LastErrorInfo, LastErrorTracker, providerHealth, type StoreHealth } from './core/health.js';
export { CredentialId, type CredentialIdLike, MAX_CREDENTIAL_ID_BYTES } from './core/id.js';
export {
  KNOWN_ABSENT_TTL_MS,
  KNOWN_RECORD_LIMIT,
  KNOWN_RECORD_TTL_MS,
  type KnownRecord,
  KnownRecords,
  setBounded,
} from './core/known-records.js';
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
  type FilterFacts,
  filterBoundsCreation,
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
  type ReadPathEvent,
  type ReadPathMetricsSnapshot,
  StorageMetrics,
} from './core/metrics.js';
export {
  decodeCredentialName,
  encodeCredentialName,
  type NameEncodingOptions,
  type NameProfile,
} from './core/name-mapping.js';
export {
  type AttemptContext,
  backstopTimeoutMs,
  DEADLINE_BACKSTOP_MARGIN_MS,
  type ErrorMapper,
  OperationRunner,
  type RunOptions,
  StopSignal,
} from './core/operation.js';
export {
  CLOCK_CHECK,
  COMMON_OPTION_NAMES,
  type CommonProviderOptions,
  DEFAULT_TIMEOUTS,
  defineProviderOptions,
  LOGGER_CHECK,
  METRICS_CHECK,
  type OperationTimeouts,
  type OptionsOf,
  type ProviderOptionsSchema,
  type ResolvedCommonOptions,
  resolveCommonOptions,
  type SettingsOf,
} from './core/options.js';
export { OPTIONS_TABLE_MARKERS, renderOptionsTable, replaceOptionsTable } from './core/options-docs.js';
export {
  expandHome,
  type Field,
  type InputOf,
  nearestName,
  OptionsSchema,
  type OutputOf,
  option,
  type ResolvedOptionSet,
  type SettingOrigin,
  type SettingSource,
  type Shape,
  settingLabel,
  suggest,
} from './core/options-schema.js';
export { loadPeerPackages, type PeerPackage } from './core/peer.js';
export type {
  ChangeFeed,
  ChangeObservation,
  ChangeSink,
  ChangeTarget,
  ConnectOptions,
  ProviderAuthState,
  ProviderCapabilities,
  ProviderHealthDetails,
  ProviderHealthFacts,
  ProviderRuntime,
  ReadPathProvider,
  RetrieveManyOptions,
  StorageProvider,
  StoredCredential,
  StoreOptions,
  VersionProbe,
} from './core/provider.js';
export {
  bypassesProxy,
  PROXY_ENV_VARIABLES,
  parseProxyUrl,
  proxyFromEnvironment,
} from './core/proxy-env.js';
export {
  findProxyTunnelError,
  HttpProxyTunnelAgent,
  openProxyTunnel,
  PROXY_HEAD_LIMIT,
  PROXY_TUNNEL_ERROR_CODE,
  ProxyTunnelAgent,
  ProxyTunnelError,
  type ProxyTunnelFailure,
  type ProxyTunnelOptions,
  proxyTunnelError,
} from './core/proxy-tunnel.js';
export { ReadPath, type ReadPathSettings, type ReadResult } from './core/read-path.js';
export type { EmulatorRegistration, ProviderClass, ProviderRegistration } from './core/registry.js';
export {
  announcedTooLarge,
  isResponseTooLarge,
  limitResponseStream,
  RESPONSE_TOO_LARGE_CODE,
  type ResponseBodyStream,
  ResponseTooLargeError,
  readBoundedBody,
  responseBodyLimit,
  responseTooLargeError,
} from './core/response-limit.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelayMs } from './core/retry.js';
export { REDACTED, SecretString } from './core/secret-string.js';
export { SingleFlight } from './core/single-flight.js';
export {
  CredentialStore,
  type CredentialStoreConstructorOptions,
  type CredentialStoreReadPathOptions,
  credentialAssociatedData,
  type EncryptionConfig,
  type PutOptions,
  READ_PATH_KEYS,
  type RetrievedSecret,
  readKeyFile,
  resolveEncryption,
  resolveStoreReadPathOptions,
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
  endpointSyntaxProblem,
  INSECURE_HTTP_OPTION,
  insecureHttpOption,
  isLoopbackHost,
  loadCaBundle,
  pemCertificatesProblem,
  secureEndpointCheck,
  type TlsTrustOptions,
  tlsOptions,
} from './core/transport-security.js';
export {
  type BoundedResponse,
  dispatchBounded,
  type ExchangeStop,
  joinedHeaders,
  simpleRequestBody,
  UNDICI_PACKAGE,
  type UndiciModule,
} from './core/undici-exchange.js';
export {
  ChangeWatcher,
  type CredentialChange,
  type CredentialChangeListener,
  type CredentialWatch,
  probeVersion,
  probeVersions,
  resolveWatchOptions,
  storedFingerprint,
  type WatchHooks,
  type WatchOptions,
  watchTarget,
} from './core/watch.js';
export {
  type CreateStorageProviderOptions,
  type CredentialStoreOptions,
  createStorageProvider,
  openCredentialStore,
} from './providers/factory.js';
export {
  EMULATORS,
  findProvider,
  PROVIDER_NAMES,
  PROVIDER_REGISTRY,
  type ProviderName,
  type StorageConfig,
} from './providers/registry.js';
