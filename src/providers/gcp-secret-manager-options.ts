import { maxSocketsOption } from '../core/connection-pool.js';
import { defineProviderOptions, type OptionsOf, type SettingsOf } from '../core/options.js';
import { option } from '../core/options-schema.js';
import type { PeerPackage } from '../core/peer.js';
import { SecretString } from '../core/secret-string.js';
import { insecureHttpOption, secureEndpointCheck, tlsOptions } from '../core/transport-security.js';

/**
 * Explicit credentials as callers give them: a parsed key file, its JSON text, or a `SecretString` of it.
 *
 * @example
 * ```ts
 * const credentials: GcpCredentialsInput = JSON.parse(readFileSync('key.json', 'utf8'));
 * ```
 */
export type GcpCredentialsInput = string | SecretString | ({ type: string } & Record<string, unknown>);

/**
 * The provider's own copy of explicit credentials, as JSON text in a `SecretString` (the caller's object is
 * never kept or disposed).
 *
 * @example
 * ```ts
 * const copy = copyCredentials({ type: 'service_account', client_email: 'a@b', private_key: '...' });
 * ```
 */
export function copyCredentials(input: GcpCredentialsInput | undefined): SecretString | undefined {
  if (input === undefined) return undefined;
  if (input instanceof SecretString) return input.useBytes((bytes) => new SecretString(bytes));
  return new SecretString(typeof input === 'string' ? input : JSON.stringify(input));
}

/**
 * The Google Cloud Secret Manager provider's name, as `createStorageProvider` takes it.
 *
 * @example
 * ```ts
 * import { GCP_SECRET_MANAGER } from 'nebula-credential/gcp';
 * const config = { provider: GCP_SECRET_MANAGER, projectId: 'acme-prod' };
 * ```
 */
export const GCP_SECRET_MANAGER = 'gcp-secret-manager';

/**
 * The SDK this provider drives, loaded by `connect()` (an optional peer dependency; 6.x runs on Node 20,
 * 7.x needs Node 22).
 *
 * @example
 * ```ts
 * import { GCP_SECRET_MANAGER_SDK } from 'nebula-credential/gcp';
 * console.log(`npm install ${GCP_SECRET_MANAGER_SDK.name}@${GCP_SECRET_MANAGER_SDK.range}`);
 * ```
 */
export const GCP_SECRET_MANAGER_SDK: PeerPackage = {
  name: '@google-cloud/secret-manager',
  range: '^6.1.0 || ^7.0.0',
  load: () => import('@google-cloud/secret-manager'),
};

/**
 * The default secret id prefix.
 *
 * @example
 * ```ts
 * import { GCP_DEFAULT_PREFIX } from 'nebula-credential/gcp';
 * console.log(`${GCP_DEFAULT_PREFIX}github_token`); // nebula_github_token
 * ```
 */
export const GCP_DEFAULT_PREFIX = 'nebula_';

const LOCATION = /^[a-z]+-[a-z]+\d+$/;
const KMS_KEY = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/;

function checkEndpoint(text: string): string | undefined {
  const hostPort = text.replace(/^(https?):\/\//, '');
  return /^(\[[0-9a-f:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?\/?$/.test(hostPort)
    ? undefined
    : 'must be host[:port] (secretmanager.googleapis.com:443, 127.0.0.1:8443) or an https:// URL';
}

/**
 * The GCP provider's options, declared once (type, validation, defaults, environment fallbacks, docs).
 *
 * @example
 * ```ts
 * import { GCP_SECRET_MANAGER_OPTIONS } from 'nebula-credential/gcp';
 * console.log(GCP_SECRET_MANAGER_OPTIONS.resolve({ projectId: 'acme' }).values.transport); // grpc
 * ```
 */
export const GCP_SECRET_MANAGER_OPTIONS = defineProviderOptions(
  GCP_SECRET_MANAGER,
  {
    projectId: option.string({
      doc: 'the Google Cloud project holding the secrets (id or number)',
      env: ['GOOGLE_CLOUD_PROJECT', 'GCLOUD_PROJECT'],
      required: 'a project id such as acme-prod',
      pattern: /^([a-z][a-z0-9-]{4,28}[a-z0-9]|\d{1,20})$/,
      rule: 'a project id (6 to 30 lowercase letters, digits and hyphens) or a project number',
    }),
    prefix: option.string({
      doc: 'put before every secret id; secret id characters only (`[A-Za-z0-9_-]`)',
      allowEmpty: true,
      maxLength: 200,
      pattern: /^[A-Za-z0-9_-]*$/,
      rule: 'made of letters, digits, _ and -',
      default: GCP_DEFAULT_PREFIX,
    }),
    apiEndpoint: option.string({
      doc: 'host[:port] of the API, for Private Service Connect or an emulator; `http://` (REST only) just to loopback or with `dangerouslyAllowInsecureHttp`',
      check: checkEndpoint,
      default: 'secretmanager.googleapis.com:443',
    }),
    transport: option.enum(['grpc', 'rest'], {
      doc: "the SDK's transport: gRPC over HTTP/2, or its REST fallback (JSON over HTTP/1.1, for proxies that block HTTP/2)",
      default: 'grpc',
    }),
    credentialsFile: option.path({
      doc: 'a credentials JSON file: a service-account key, an authorized_user file or a workload identity federation (external_account) file',
      env: 'GOOGLE_APPLICATION_CREDENTIALS',
      envUnless: ['credentials'],
      defaultDoc:
        "`GOOGLE_APPLICATION_CREDENTIALS`, else gcloud's application default credentials, else the metadata server (`GCE_METADATA_HOST`)",
    }),
    credentials: option.instance(
      {
        is: (value: unknown): value is GcpCredentialsInput =>
          (typeof value === 'string' && value.length > 0) ||
          value instanceof SecretString ||
          (typeof value === 'object' && value !== null && !Array.isArray(value) && 'type' in value),
        rule: 'a credentials object (a parsed key file, with "type"), its JSON text, or a SecretString of it',
      },
      {
        doc: 'the credentials themselves: a service-account key object, its JSON text or a `SecretString`; the provider keeps its own copy and disposes it on `close()`',
      },
    ),
    tls: tlsOptions({
      caFile: "PEM file of the CA to trust instead of Node's roots (TLS-inspecting proxies, emulators)",
      ca: 'PEM text of CA certificates, trusted too (with or instead of `tls.caFile`)',
    }),
    dangerouslyAllowInsecureHttp: insecureHttpOption('the access token'),
    maxSockets: maxSocketsOption(),
    replication: option.stringList({
      doc: 'locations of user-managed replication for new secrets (e.g. `["europe-west1", "europe-west4"]`); empty for automatic replication',
      default: [],
      defaultDoc: '`[]` (automatic)',
    }),
    kmsKeyName: option.string({
      doc: 'customer-managed encryption key (CMEK) for new secrets: `projects/p/locations/l/keyRings/r/cryptoKeys/k`',
      pattern: KMS_KEY,
      rule: 'a Cloud KMS key name projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>',
    }),
  },
  {
    check: (values, report) => {
      if (values.credentials !== undefined && values.credentialsFile !== undefined) {
        report('credentials', 'give credentials or credentialsFile, not both');
      }
      for (const [i, location] of (values.replication ?? []).entries()) {
        if (!LOCATION.test(location)) report(`replication.${i}`, 'must be a location such as europe-west1');
      }
      const endpoint = values.apiEndpoint ?? '';
      if (endpoint.startsWith('http://')) {
        if (values.transport !== 'rest') {
          report('apiEndpoint', 'http:// works only with transport: "rest" (gRPC always uses TLS)');
        }
        secureEndpointCheck(values, ['apiEndpoint'], report);
      }
    },
  },
);

/**
 * Options of `GcpSecretManagerProvider`.
 *
 * @example
 * ```ts
 * const options: GcpSecretManagerOptions = { projectId: 'acme-prod', replication: ['europe-west1'] };
 * ```
 */
export type GcpSecretManagerOptions = OptionsOf<typeof GCP_SECRET_MANAGER_OPTIONS>;

/** The GCP provider's settings after validation, with defaults applied. */
export type GcpSettings = SettingsOf<typeof GCP_SECRET_MANAGER_OPTIONS>;

/**
 * One version of a credential, as Secret Manager lists it.
 *
 * @example
 * ```ts
 * const { versions } = await provider.versionHistory('db_password');
 * console.log(versions.filter((v) => v.state === 'ENABLED').map((v) => v.version));
 * ```
 */
export interface GcpCredentialVersion {
  version: number;
  state: 'ENABLED' | 'DISABLED' | 'DESTROYED' | 'STATE_UNSPECIFIED';
  createdAt: Date;
  destroyedAt?: Date | undefined;
}

/**
 * A credential's version history (newest first is how the service lists; this is oldest first).
 *
 * @example
 * ```ts
 * const history = await provider.versionHistory('db_password');
 * console.log(history.currentVersion);
 * ```
 */
export interface GcpVersionHistory {
  id: string;
  /** The newest version's number (what `retrieve` reads when it is enabled). */
  currentVersion: number;
  versions: GcpCredentialVersion[];
}
