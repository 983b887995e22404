/**
 * Test support: the conformance suite every provider must pass, and the loopback emulators of the cloud
 * services (with fault injection and controllable clocks), usable from any test runner.
 *
 * @packageDocumentation
 */
export { ManualClock } from '../core/clock.js';
export {
  type CapturedLogger,
  capturingLogger,
  rejectsWithCode,
  rejectsWithStorageError,
} from './assertions.js';
export {
  type ConformanceFactoryContext,
  type ConformanceOptions,
  type ConformanceTestApi,
  runStorageProviderConformance,
} from './conformance.js';
export {
  BEHAVIOUR_MATRIX,
  BEHAVIOUR_MATRIX_READ_DEADLINE_MS,
  BEHAVIOUR_MATRIX_RETRY,
  BEHAVIOUR_MATRIX_RETRY_AFTER_SECONDS,
  BEHAVIOUR_MATRIX_UNRESOLVABLE_HOST,
  type BehaviourMatrixAdapter,
  type BehaviourMatrixFault,
  type BehaviourMatrixOptions,
  type BehaviourMatrixReadFault,
  type BehaviourMatrixRow,
  type BehaviourMatrixSubject,
  type BehaviourMatrixTarget,
  renderBehaviourMatrixTable,
  runBehaviourMatrix,
} from './conformance-matrix.js';
export { startOrStop } from './emulator-kit/cli-contract.js';
export {
  closedLoopbackPort,
  type EmulatorHandler,
  EmulatorHttpServer,
  type EmulatorServerOptions,
  type Fault,
  type FaultAction,
  FaultInjector,
  listenOn,
  type RecordedRequest,
  sendJson,
} from './emulator-kit/server.js';
export { createTestCertificateAuthority, type TestCertificateAuthority } from './emulator-kit/tls.js';
export {
  type AwsEmulatorAccessKey,
  type AwsEmulatorOptions,
  AwsSecretsManagerEmulator,
  cliEmulator as awsCliEmulator,
} from './emulators/aws.js';
export {
  type AwsCallerAccess,
  AwsError,
  OPERATIONS,
  type Operation,
  SecretsManagerService,
} from './emulators/aws-service.js';
export {
  computeSigV4Signature,
  parseSigV4Authorization,
  type SigV4Authorization,
  type SigV4Failure,
  verifySigV4,
} from './emulators/aws-sigv4.js';
export {
  AZURE_KEY_VAULT_API_VERSIONS,
  AZURE_KEY_VAULT_ROLES,
  type AzureEmulatorPrincipal,
  AzureKeyVaultEmulator,
  type AzureKeyVaultEmulatorOptions,
  type AzureTokenClaims,
  cliEmulator as azureCliEmulator,
} from './emulators/azure.js';
export {
  cliEmulator as gcpCliEmulator,
  GCP_RPC_PERMISSIONS,
  GCP_SECRET_MANAGER_ROLES,
  type GcpFaultOptions,
  type GcpRecordedRequest,
  type GcpRpc,
  GcpSecretManagerEmulator,
  type GcpSecretManagerEmulatorOptions,
  type GcpServiceAccount,
} from './emulators/gcp.js';
export { GcpError, type GoogleErrorDetail, type GrpcStatusName } from './emulators/gcp-status.js';
export {
  cliEmulator as kubernetesCliEmulator,
  type KubeOidcIssuer,
  type KubePolicyRule,
  KubernetesEmulator,
  type KubernetesEmulatorOptions,
  type KubeStatus,
  type KubeSubject,
  type SecretObject,
} from './emulators/kubernetes.js';
export {
  type OidcIdTokenClaims,
  OidcIssuerEmulator,
  type OidcIssuerOptions,
} from './emulators/oidc-issuer.js';
export {
  cliEmulator as vaultCliEmulator,
  parsePolicyHcl,
  type VaultAppRoleOptions,
  type VaultCapability,
  VaultEmulator,
  type VaultEmulatorOptions,
  type VaultPolicyRule,
  type VaultTokenOptions,
} from './emulators/vault.js';
export {
  type ReadPathConformanceOptions,
  type ReadPathFactoryContext,
  runReadPathConformance,
} from './read-path.js';
